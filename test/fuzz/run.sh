#!/usr/bin/env bash
# Builds the libFuzzer harnesses (test/fuzz/<name>_fuzz.cpp) with clang, ASan and UBSan into build-fuzz/, then runs
# each on every input of test/fuzz/regressions/<name>/, then for FUZZ_SECONDS on a copy of its seed corpus
# (test/fuzz/corpus/<name>/), two harnesses at a time. A harness passes when it ran its time without a crash, leak, UB
# report or failed check. Prints one line "fuzz: N passed, M failed"; for a failure, the head of its report and where
# the crashing input was saved. Exits non-zero if anything failed.
#
#   bash test/fuzz/run.sh                    # every harness
#   bash test/fuzz/run.sh signature form     # some of them
#
# Environment: FUZZ_SECONDS (per harness, default 15), FUZZ_JOBS (harnesses at a time, default 2),
# FUZZ_WORK_DIR (default .tmp/fuzz), FUZZ_BUILD_DIR (default build-fuzz), FUZZ_CXX (default clang++-14).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FUZZ=$ROOT/test/fuzz
SECONDS_EACH=${FUZZ_SECONDS:-15}
JOBS=${FUZZ_JOBS:-2}
WORK=${FUZZ_WORK_DIR:-$ROOT/.tmp/fuzz}
BUILD=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
CXX=${FUZZ_CXX:-clang++-14}
rm -rf "$WORK" && mkdir -p "$WORK"

if [ $# -gt 0 ]; then
    names=("$@")
else
    names=()
    for f in "$FUZZ"/*_fuzz.cpp; do n=$(basename "$f" .cpp); names+=("${n%_fuzz}"); done
fi

# Webhook bodies and Twilio answers as large as the relay lets through (BYO_TWILIO_BODY_LIMIT's default, 64 KB);
# settings, URLs and single values are short.
max_len() {
    case $1 in
        form|signature|webhook_event|twilio_response|relay_json_log|relay_pg_array) echo 65536 ;;
        *) echo 4096 ;;
    esac
}

echo "fuzz: building ${#names[@]} harnesses with $CXX into $BUILD"
targets=()
for n in "${names[@]}"; do targets+=("${n}_fuzz"); done
{ cmake -S "$ROOT" -B "$BUILD" -DCMAKE_CXX_COMPILER="$CXX" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" -DBYO_FUZZ=ON \
    && cmake --build "$BUILD" -j2 --target "${targets[@]}"; } >"$WORK/build.log" 2>&1 \
    || { tail -40 "$WORK/build.log"; echo "fuzz: 0 passed, ${#names[@]} failed"; exit 1; }

run_one() {  # name: fuzzes one harness; writes pass or fail into $WORK/<name>/result
    local name=$1 dir=$WORK/$1 bin=$BUILD/$1_fuzz
    mkdir -p "$dir/corpus"
    [ -d "$FUZZ/corpus/$name" ] && cp "$FUZZ/corpus/$name"/* "$dir/corpus/" 2>/dev/null
    local args=(-max_total_time="$SECONDS_EACH" -max_len="$(max_len "$name")" -timeout=10 -rss_limit_mb=2048
                -print_final_stats=1 -artifact_prefix="$dir/")
    [ -f "$FUZZ/$name.dict" ] && args+=(-dict="$FUZZ/$name.dict")
    if [ ! -x "$bin" ]; then
        echo "no harness binary $bin" >"$dir/log"
        echo fail >"$dir/result"
        return
    fi
    # Regression inputs first, each run once and whole (a corpus directory would cut them at -max_len).
    local regressions=()
    [ -d "$FUZZ/regressions/$name" ] && mapfile -t regressions < <(find "$FUZZ/regressions/$name" -type f | sort)
    if [ ${#regressions[@]} -gt 0 ] && ! "$bin" -timeout=10 -rss_limit_mb=2048 "${regressions[@]}" >"$dir/log" 2>&1; then
        echo "regression" >"$dir/result"
        return
    fi
    # Then fuzzing from a copy of the seeds, where the inputs it finds go too.
    if "$bin" "${args[@]}" "$dir/corpus" >>"$dir/log" 2>&1; then
        echo pass >"$dir/result"
    else
        echo fail >"$dir/result"
    fi
}

for n in "${names[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
    run_one "$n" &
done
wait

passed=0 failed=0
for n in "${names[@]}"; do
    dir=$WORK/$n
    if [ "$(cat "$dir/result" 2>/dev/null)" = pass ]; then
        passed=$((passed + 1))
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
        echo "ok   $n (${runs:-?} runs in ${SECONDS_EACH}s)"
        continue
    fi
    failed=$((failed + 1))
    echo "FAIL $n: report head ($dir/log):"
    start=$(grep -n -m1 -E '==FUZZ CHECK FAILED==|==[0-9]+==ERROR|runtime error:|ERROR: libFuzzer|^ALARM|no harness binary' \
        "$dir/log" | cut -d: -f1)
    sed -n "${start:-1},$(( ${start:-1} + 34 ))p" "$dir/log" | sed 's/^/    /'
    [ "$(cat "$dir/result" 2>/dev/null)" = regression ] \
        && echo "    failing regression input: $(sed -n 's/^Running: //p' "$dir/log" | tail -1)"
    for a in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* "$dir"/slow-unit-*; do
        [ -e "$a" ] && echo "    input saved: $a ($(stat -c %s "$a") bytes)"
    done
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
