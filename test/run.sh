#!/usr/bin/env bash
# Runs every test suite: C++ unit tests (ctest), pg_regress, the relay and crash-recovery end-to-end suites,
# pgTAP (pg_prove), the signature oracle against the official `twilio` npm library, and last the unit tests under
# ASan+UBSan and the libFuzzer harnesses (test/fuzz); then the PostgreSQL suites again on PostgreSQL 17 (in a
# Debian 13 root, test/pg17), the Debian packages built and smoke-tested (test/packages) and the PGXN archive
# (test/dist). Installs what is missing,
# builds, installs the extension, starts local Twilio stand-ins and a throwaway cluster, and always stops them. Prints one "N passed, N failed" line per
# suite and exits non-zero if anything failed.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
WORK=$ROOT/.tmp/test
rm -rf "$WORK" && mkdir -p "$WORK"
# The PostgreSQL major under test: 15 here (Debian 12), 17 when test/pg17/run_in_trixie.sh runs this script.
export PG_MAJOR=${PG_MAJOR:-15}
# BYO_SUITES="regress upgrade ..." runs only those suites (names as in the summary lines); unset runs them all.
# BYO_REGRESS="60_outbound 90_drips" narrows pg_regress to those files.
want() { [ -z "${BYO_SUITES:-}" ] || [[ " $BYO_SUITES " == *" $1 "* ]]; }

bash test/lib/install_deps.sh || { echo "dependency installation failed"; exit 1; }

source test/lib/cluster.sh
source test/lib/standins.sh
cleanup() {
    [ -n "${BYO_CLUSTER_DIR:-}" ] && cp "$BYO_CLUSTER_DIR/server.log" "$WORK/server.log" 2>/dev/null
    cluster_remove
    standins_stop
}
trap cleanup EXIT

# Prism needs 20-30 s to load the 2010-04-01 spec: start the stand-ins first, build meanwhile.
standins_launch "$WORK/standins" yes

echo "== build"
pg_major=$(pg_config --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
[ "$pg_major" = "$PG_MAJOR" ] || { echo "pg_config is PostgreSQL $pg_major, PG_MAJOR is $PG_MAJOR"; echo "build: 0 passed, 1 failed"; exit 1; }
{ make -j2 && make install; } >"$WORK/make.log" 2>&1 || { tail -40 "$WORK/make.log"; echo "build: 0 passed, 1 failed"; exit 1; }
# Without the unit suite only the relay is needed (the relay, api and web suites run it); without those, nothing.
# The relay talks to any PostgreSQL major over libpq: test/pg17 hands this run the relay the PostgreSQL 15 run
# built (BYO_PREBUILT_RELAY) rather than building it again.
cmake_target=(); want unit || cmake_target=(--target byo-twilio-relay)
if [ -n "${BYO_PREBUILT_RELAY:-}" ] && ! want unit; then
    export RELAY_BIN=$BYO_PREBUILT_RELAY
elif want unit || want relay || want api || want web; then
{ cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build -j2 "${cmake_target[@]}"; } >"$WORK/cmake.log" 2>&1 \
    || { tail -40 "$WORK/cmake.log"; echo "build: 0 passed, 1 failed"; exit 1; }
fi

declare -A PASSED FAILED
record() { PASSED[$1]=$2; FAILED[$1]=$3; echo "$1: $2 passed, $3 failed"; }
# Records a suite that prints its own "<name>: N passed, N failed" line; shows its log when it failed.
record_from_log() {  # name, log file
    local line
    line=$(grep -E "^$1: [0-9]+ passed, [0-9]+ failed" "$2" | tail -1)
    if [ -n "$line" ]; then
        set -- "$1" "$2" $(echo "$line" | sed -E 's/^[a-z_]+: ([0-9]+) passed, ([0-9]+) failed/\1 \2/')
        record "$1" "$3" "$4"
    else
        record "$1" 0 1
    fi
    [ "${FAILED[$1]}" = 0 ] || tail -60 "$2"
}

if want unit; then
echo "== unit (ctest)"
(cd build && ctest --output-on-failure) >"$WORK/ctest.log" 2>&1
total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$WORK/ctest.log")
bad=$(grep -cE '\*\*\*Failed|\*\*\*Exception|Not Run' "$WORK/ctest.log")
[ -n "$total" ] || { cat "$WORK/ctest.log"; total=0; bad=1; }
record unit $((total - bad)) "$bad"
[ "$bad" = 0 ] || grep -E 'Failed|FAILED' "$WORK/ctest.log"
fi

standins_wait || exit 1

eval "$(node test/lib/fixture_env.js test/standin/fixtures.json)"
export STANDIN_URL="http://127.0.0.1:$STANDIN_PORT" STANDIN_TLS_URL="https://127.0.0.1:$STANDIN_TLS_PORT"
export BYO_COMPAT_SQL="$ROOT/sql/byo_twilio_auth_compat.sql"
export STANDIN_CERT="$WORK/standins/cert.pem"
export PRISM_API_URL="http://127.0.0.1:$PRISM_API_PORT" PRISM_CONVERSATIONS_URL="http://127.0.0.1:$PRISM_CONVERSATIONS_PORT"
export PRISM_MESSAGING_URL="http://127.0.0.1:$PRISM_MESSAGING_PORT"

export BYO_TEST_KEY1=$(openssl rand -hex 32) BYO_TEST_KEY2=$(openssl rand -hex 32)
cluster_start "byo_twilio.encryption_key = 'k1:$BYO_TEST_KEY1'
byo_twilio.api_base_url = '$STANDIN_URL'
byo_twilio.conversations_base_url = '$STANDIN_URL'
byo_twilio.messaging_base_url = '$STANDIN_URL'
byo_twilio.media_base_url = '$STANDIN_URL'
byo_twilio.http_timeout_ms = 5000
byo_twilio.webhook_base_url = 'https://relay.example.test'
byo_twilio.reconcile_delay_ms = 1500
# The suites pass plaintext fixture tokens; sealed tokens are tested by test/e2e/log_secrets_test.sh and 25_*.
byo_twilio.accept_plaintext_tokens = on
# pg_cron 1.4 would connect to localhost over TCP; the cluster listens on its socket only.
cron.use_background_workers = on" || { echo "cluster: 0 passed, 1 failed"; exit 1; }

if want regress; then
echo "== pg_regress"
# pg_regress reads DIR/sql and DIR/expected: lay both out side by side. The suites run in the
# database the dispatcher serves (byo_twilio.database, default postgres).
mkdir -p "$WORK/regress"
ln -sfn "$ROOT/test/sql" "$WORK/regress/sql"
ln -sfn "$ROOT/expected" "$WORK/regress/expected"
tests=${BYO_REGRESS:-$(cd test/sql && ls *.sql | sed 's/\.sql$//' | sort)}
PG_REGRESS=$(dirname "$(pg_config --pgxs)")/../test/regress/pg_regress
"$PG_REGRESS" --use-existing --host="$PGHOST" --port="$PGPORT" --user=postgres --dbname=postgres \
    --inputdir="$WORK/regress" --outputdir="$WORK/regress" $tests >"$WORK/regress.log" 2>&1
cat "$WORK/regress.log" | grep -E '^(ok|not ok|test| )' | grep -E 'ok|FAILED|failed' || true
ok=$(grep -cE '(^ok |\.\.\. ok)' "$WORK/regress.log")
nok=$(grep -cE '(^not ok |\.\.\. FAILED|failed \(ignored\))' "$WORK/regress.log")
record regress "$ok" "$nok"
[ "$nok" = 0 ] || { [ -f "$WORK/regress/regression.diffs" ] && head -150 "$WORK/regress/regression.diffs"; }
fi

if want upgrade; then
echo "== upgrade (every released version, updated, against a fresh install)"
bash test/e2e/upgrade_test.sh >"$WORK/upgrade.log" 2>&1
record_from_log upgrade "$WORK/upgrade.log"
grep -q '^not ok' "$WORK/upgrade.log" && grep -A40 '^not ok' "$WORK/upgrade.log" | head -60
fi

if want relay; then
echo "== relay (webhooks through byo-twilio-relay, signed by the npm twilio library)"
RELAY_WORK_DIR="$WORK/relay" bash test/e2e/relay_test.sh >"$WORK/relay.log" 2>&1
record_from_log relay "$WORK/relay.log"
fi

if want spool; then
echo "== spool (the relay keeps webhooks on disk while PostgreSQL is down: a minute's outage, SIGKILL, a full spool)"
bash test/e2e/spool_test.sh >"$WORK/spool.log" 2>&1
record_from_log spool "$WORK/spool.log"
fi

if want api; then
echo "== api (the app API: jose-made JWTs, one SQL call as the user, CORS, limits)"
bash test/e2e/api_test.sh >"$WORK/api.log" 2>&1
record_from_log api "$WORK/api.log"
fi

if want web; then
echo "== web (browser tests of web/ against the relay's API: chromium, playwright-core, axe-core)"
BYO_PGPORT=$((BYO_PGPORT + 2)) STANDIN_PORT=$((STANDIN_PORT + 5)) STANDIN_TLS_PORT=$((STANDIN_TLS_PORT + 5)) \
RELAY_PORT=$((${RELAY_PORT:-4031} + 5)) bash web/test/run.sh >"$WORK/web.log" 2>&1
record_from_log web "$WORK/web.log"
fi

if want crash; then
echo "== crash recovery (dispatcher killed, PostgreSQL restarted mid-run)"
bash test/e2e/crash_recovery.sh >"$WORK/crash.log" 2>&1
record_from_log crash "$WORK/crash.log"
fi

if want drips; then
echo "== drips (pg_cron runs twilio.drip_tick; two users, a reply and a STOP)"
bash test/e2e/drips_test.sh >"$WORK/drips.log" 2>&1
record_from_log drips "$WORK/drips.log"
fi

if want drips_crash; then
echo "== drips crash safety (PostgreSQL restarted mid-pass; two passes at once)"
bash test/e2e/drips_crash_test.sh >"$WORK/drips_crash.log" 2>&1
record_from_log drips_crash "$WORK/drips_crash.log"
fi

if want pgtap; then
echo "== pgTAP (pg_prove)"
psql -X -q -d postgres -c "CREATE DATABASE tap_byo_twilio" && \
psql -X -q -d tap_byo_twilio -f sql/byo_twilio_auth_compat.sql -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION byo_twilio" \
    >"$WORK/pgtap_setup.log" 2>&1 || cat "$WORK/pgtap_setup.log"
pg_prove -v -d tap_byo_twilio test/pgtap/*.sql >"$WORK/pgtap.log" 2>&1
ok=$(grep -cE '^ok ' "$WORK/pgtap.log")
nok=$(grep -cE '^not ok ' "$WORK/pgtap.log")
grep -qE '^Result: PASS' "$WORK/pgtap.log" || { [ "$nok" -gt 0 ] || nok=1; }
record pgtap "$ok" "$nok"
[ "$nok" = 0 ] || grep -E -A3 '^not ok|Dubious|Parse errors|Result' "$WORK/pgtap.log" | head -80
fi

if want oracle; then
echo "== signature oracle (npm twilio vs twilio.validate_signature)"
psql -X -q -d postgres -c "CREATE DATABASE oracle_byo_twilio" && \
psql -X -q -d oracle_byo_twilio -f sql/byo_twilio_auth_compat.sql -c "CREATE EXTENSION byo_twilio" >/dev/null
PGDATABASE=oracle_byo_twilio bash test/oracle/run.sh >"$WORK/oracle.log" 2>&1
record_from_log oracle "$WORK/oracle.log"
fi

if want secret_logs; then
echo "== secrets in logs (every statement and parameter logged, keys rotated, tokens sealed)"
bash test/e2e/log_secrets_test.sh >"$WORK/secret_logs.log" 2>&1
record_from_log secret_logs "$WORK/secret_logs.log"
fi

# Secrets never reach the server log: no fixture token may appear in it.
leaks=0
for t in $(node -e 'const f=require(process.argv[1]);for(const a of Object.values(f.accounts))console.log(a.token)' "$ROOT/test/standin/fixtures.json"); do
    grep -q "$t" "$BYO_CLUSTER_DIR/server.log" && leaks=$((leaks + 1))
done
record log_secrets $((leaks == 0 ? 1 : 0)) $((leaks == 0 ? 0 : 1))

# Sanitizer suites last, when the database suites are done and nothing else needs the CPU (they keep both cores
# busy; the relay and crash suites must not run beside them).
# clang at -O0: it builds core_tests in a quarter of the CPU time g++ -O2 takes with the sanitizers.
if want unit_asan; then
echo "== unit under ASan+UBSan (ctest, build-asan)"
started=$SECONDS
{ cmake -S . -B build-asan -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g" -DBYO_SANITIZE=ON \
    && cmake --build build-asan -j2 --target core_tests; } >"$WORK/asan_build.log" 2>&1
if [ $? = 0 ]; then
    (cd build-asan && UBSAN_OPTIONS=print_stacktrace=1 ctest -j2 --output-on-failure) >"$WORK/ctest_asan.log" 2>&1
    total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$WORK/ctest_asan.log")
    bad=$(grep -cE '\*\*\*Failed|\*\*\*Exception|Not Run' "$WORK/ctest_asan.log")
    [ -n "$total" ] || { tail -60 "$WORK/ctest_asan.log"; total=0; bad=1; }
    record unit_asan $((total - bad)) "$bad"
    [ "$bad" = 0 ] || grep -E -B2 -A30 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|\*\*\*Failed' \
        "$WORK/ctest_asan.log" | head -120
else
    tail -40 "$WORK/asan_build.log"
    record unit_asan 0 1
fi
echo "unit_asan took $((SECONDS - started)) s"
fi

if want fuzz; then
echo "== fuzz (libFuzzer harnesses under ASan+UBSan, build-fuzz; FUZZ_SECONDS each, two at a time)"
started=$SECONDS
FUZZ_WORK_DIR="$WORK/fuzz" bash test/fuzz/run.sh >"$WORK/fuzz.log" 2>&1
record_from_log fuzz "$WORK/fuzz.log"
echo "fuzz took $((SECONDS - started)) s"
fi

# PostgreSQL 17: the suites above that touch PostgreSQL, in a Debian 13 root with PostgreSQL 17 (its own network
# namespace: same ports, no clash with this run's cluster). Each inner suite is recorded as pg17_<name>.
if want pg17 && [ "$PG_MAJOR" = 15 ]; then
echo "== PostgreSQL 17 (debootstrapped Debian 13 root; logs in .tmp/test/pg17)"
started=$SECONDS
host_relay=
if { want unit || want relay || want api || want web; } && [ -x build/byo-twilio-relay ]; then host_relay=$ROOT/build/byo-twilio-relay; fi
PG17_LOG_DIR="$WORK/pg17" BYO_HOST_RELAY=$host_relay bash test/pg17/run_in_trixie.sh >"$WORK/pg17.log" 2>&1
rc=$?
inner=0
while read -r name p f; do
    record "pg17_$name" "$p" "$f"; inner=$((inner + 1))
done < <(sed -nE 's/^([a-z_0-9]+): ([0-9]+) passed, ([0-9]+) failed$/\1 \2 \3/p' "$WORK/pg17.log" | grep -v '^all ')
if [ "$rc" != 0 ] || [ "$inner" = 0 ]; then
    tail -80 "$WORK/pg17.log"
    [ "$inner" = 0 ] && record pg17 0 1
fi
echo "pg17 took $((SECONDS - started)) s"
fi

# Debian packages (debian/, pg_buildext): built for 15 here and for 17 in the Debian 13 root, installed and
# smoke-tested, then removed.
if want packages && [ "$PG_MAJOR" = 15 ]; then
echo "== packages (postgresql-15/17-byo-twilio, byo-twilio-relay: built, installed, smoke-tested)"
started=$SECONDS
PACKAGES_WORK_DIR="$WORK/packages" bash test/packages/run.sh >"$WORK/packages.log" 2>&1
record_from_log packages "$WORK/packages.log"
echo "packages took $((SECONDS - started)) s"
fi

# The PGXN archive (make dist) and its META.json.
if want dist; then
echo "== dist (make dist, META.json against the PGXN meta spec and the control file)"
DIST_WORK_DIR="$WORK/dist" bash test/dist/run.sh >"$WORK/dist.log" 2>&1
record_from_log dist "$WORK/dist.log"
fi

total_failed=0
for s in "${!FAILED[@]}"; do total_failed=$((total_failed + FAILED[$s])); done
total_passed=0
for s in "${!PASSED[@]}"; do total_passed=$((total_passed + PASSED[$s])); done
echo "all: $total_passed passed, $total_failed failed"
[ "$total_failed" = 0 ]
