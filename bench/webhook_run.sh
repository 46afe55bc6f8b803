#!/usr/bin/env bash
# Webhook benchmark: Twilio-style signed inbound SMS through byo-twilio-relay into twilio.handle_webhook, against
# PostgreSQL's own write floor (pgbench -N) on the same throwaway cluster, in one run:
#   (a) webhooks/s and p50/p99 latency through the relay, wrk at a fixed concurrency, pre-signed distinct
#       requests (a new MessageSid each: every one is a real insert, never a dedupe) cycling in bench/webhook_wrk.lua;
#   (b) pgbench -N (simple-update) at the same concurrency and duration; ratio relay / pgbench;
#   (c) p99 latency at a fixed rate of half pgbench's TPS (bench/rate_client.cpp, open loop, no coordinated
#       omission, a new connection per request, or for a relay with keep-alive up to WEBHOOK_RATE_CONNECTIONS reused
#       connections, opened as needed: a fixed rate is the offered load, and a cap at wrk's 16 turned the test
#       into a closed loop whenever latency rose; 3 s client timeout counted as an infinitely slow answer), and,
#       for the tuned relay, at half the rate that relay itself reached under wrk;
#   (b) and (c) again in a few short rounds, each pgbench -N then the tuned relay under wrk then at half of that
#       round's pgbench rate (the median round: the machine's speed drifts between phases minutes apart);
#   (d) relay RSS during the wrk run (ps -o rss every 0.5 s: peak and steady);
#   and, with no relay, status callbacks ("delivered" for outbound messages) called by pgbench;
# for the relay's default BYO_TWILIO_THREADS / BYO_TWILIO_POOL_SIZE and one tuned setting. Also, to show where
# the time goes: handle_webhook, and handle_webhooks with 8 per call, called by pgbench directly (no HTTP; half the
# duration each), CPU per request of the relay and of PostgreSQL, what the backends wait on (pg_stat_activity
# samples), the relay's own request timer, per-function time inside PostgreSQL (track_functions), TCP listen-queue
# overflows, GET /healthz through the relay (HTTP and a new connection per request, no database), and a short
# pg_stat_statements profile.
#
# Builds and installs the extension and the relay, starts the Twilio stand-in (only so save_settings can verify
# the account) and a throwaway cluster, measures, prints the machine and a Markdown table, and removes everything,
# even on failure. Needs root (the cluster runs as the postgres OS user). About 8.5 minutes on 2 cores.
#
# Environment: WEBHOOK_SECONDS (per measurement, default 20), WEBHOOK_CONNECTIONS (default 16),
#              WEBHOOK_WRK_THREADS (default 2), WEBHOOK_TUNED_THREADS / WEBHOOK_TUNED_POOL /
#              WEBHOOK_TUNED_BATCH / WEBHOOK_TUNED_KEEP_ALIVE (the tuned relay: default 1 / 2, the machine's
#              cores / 6, about the 16 connections' share per pool connection (docs/benchmarks.md) / 100, with
#              wrk reusing connections as a proxy with upstream keep-alive would), WEBHOOK_N (pre-signed requests
#              per wrk run, default 200000), WEBHOOK_RATE_CONNECTIONS (default 64), WEBHOOK_PGBENCH_SCALE
#              (default 10), WEBHOOK_SHARED_BUFFERS (default 128MB), BYO_PGPORT (default 54393),
#              WEBHOOK_STANDIN_PORT (default 4050), WEBHOOK_RELAY_PORT (default 4051), WEBHOOK_ALT_ROUNDS /
#              WEBHOOK_ALT_SECONDS (the rounds of (b) and (c) in turns: default 5 / 10).
# Usage: bash bench/webhook_run.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

SECS=${WEBHOOK_SECONDS:-20}
CONNS=${WEBHOOK_CONNECTIONS:-16}
WRK_THREADS=${WEBHOOK_WRK_THREADS:-2}
TUNED_THREADS=${WEBHOOK_TUNED_THREADS:-1}
TUNED_POOL=${WEBHOOK_TUNED_POOL:-2}
TUNED_BATCH=${WEBHOOK_TUNED_BATCH:-6}
TUNED_KEEP_ALIVE=${WEBHOOK_TUNED_KEEP_ALIVE:-100}
ALT_ROUNDS=${WEBHOOK_ALT_ROUNDS:-5}
ALT_SECS=${WEBHOOK_ALT_SECONDS:-10}
N=${WEBHOOK_N:-200000}
RATE_CONNS=${WEBHOOK_RATE_CONNECTIONS:-64}
SCALE=${WEBHOOK_PGBENCH_SCALE:-10}
# PostgreSQL's default 128MB holds a fraction of what the run writes (about 2 KB per webhook: raw body, params,
# message; 300,000 or more before the tuned relay's phase). 1GB, as a production server would have, made no
# difference beyond the machine's noise (docs/benchmarks.md); pgbench -N runs with the same setting.
SHARED_BUFFERS=${WEBHOOK_SHARED_BUFFERS:-128MB}
[[ $SHARED_BUFFERS =~ ^[1-9][0-9]*(MB|GB)$ ]] || { echo "WEBHOOK_SHARED_BUFFERS: a size such as 1GB or 128MB" >&2; exit 2; }
export BYO_PGPORT=${BYO_PGPORT:-54393}
STANDIN_PORT=${WEBHOOK_STANDIN_PORT:-4050}
RELAY_PORT=${WEBHOOK_RELAY_PORT:-4051}
for v in "$SECS" "$CONNS" "$WRK_THREADS" "$TUNED_THREADS" "$TUNED_POOL" "$TUNED_BATCH" "$TUNED_KEEP_ALIVE" "$N" "$RATE_CONNS" "$SCALE" \
         "$ALT_ROUNDS" "$ALT_SECS"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "WEBHOOK_* settings must be positive integers" >&2; exit 2; }
done
WARMUP_SECS=2
PUBLIC_URL=https://relay.example.test
RELAY_URL=http://127.0.0.1:$RELAY_PORT
HZ=$(getconf CLK_TCK)

WORK=$(mktemp -d /tmp/byo_twilio_webhook.XXXXXX)
START_S=$SECONDS
LOADAVG_BEFORE=$(cut -d" " -f1-3 /proc/loadavg)
STANDIN_PID='' RELAY_PID='' SAMPLER_PID='' WAITS_PID=''
step() { printf '== %s (%ds)\n' "$*" $((SECONDS - START_S)) >&2; }

source test/lib/cluster.sh
cleanup() {
    local rc=$?
    if [ "$rc" -ne 0 ]; then
        if [ -n "${BYO_CLUSTER_DIR:-}" ] && [ -f "$BYO_CLUSTER_DIR/server.log" ]; then
            echo "-- server log (last lines):" >&2
            tail -20 "$BYO_CLUSTER_DIR/server.log" >&2 || true
        fi
        for f in "$WORK"/relay_*.log "$WORK"/standin.log; do
            [ -f "$f" ] && { echo "-- $f (last lines):" >&2; tail -5 "$f" >&2; }
        done
    fi
    if [ -n "$SAMPLER_PID" ]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
    if [ -n "$WAITS_PID" ]; then kill "$WAITS_PID" 2>/dev/null || true; fi
    if [ -n "$RELAY_PID" ]; then kill "$RELAY_PID" 2>/dev/null || true; wait "$RELAY_PID" 2>/dev/null || true; fi
    cluster_remove || true
    if [ -n "$STANDIN_PID" ]; then kill "$STANDIN_PID" 2>/dev/null || true; wait "$STANDIN_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- dependencies and build ---------------------------------------------------------------------------------------
step "dependencies"
timeout 600 bash test/lib/install_deps.sh >&2
if ! command -v wrk >/dev/null; then
    echo "installing wrk" >&2
    timeout 300 apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
for tool in wrk pgbench curl jq; do command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }; done

step "build and install"
if ! { make -s && make -s install; } >"$WORK/make.log" 2>&1; then
    tail -40 "$WORK/make.log" >&2; echo "extension build failed" >&2; exit 1
fi
if ! { cmake -S . -B build && cmake --build build -j2 --target byo-twilio-relay; } >"$WORK/cmake.log" 2>&1; then
    tail -40 "$WORK/cmake.log" >&2; echo "relay build failed" >&2; exit 1
fi
RELAY_BIN=$ROOT/build/byo-twilio-relay
RATE_CLIENT=$WORK/rate_client
g++ -O2 -std=c++17 -o "$RATE_CLIENT" bench/rate_client.cpp || { echo "bench/rate_client.cpp does not build" >&2; exit 1; }
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' build/CMakeCache.txt)

# ---- stand-in, cluster, tenant, relay role ------------------------------------------------------------------------
for port in "$STANDIN_PORT" "$RELAY_PORT"; do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { echo "port $port is taken" >&2; exit 1; }
done
step "start the Twilio stand-in on port $STANDIN_PORT (only for save_settings' verification)"
node test/standin/twilio_standin.js --host 127.0.0.1 --port "$STANDIN_PORT" --fixtures test/standin/fixtures.json \
    --no-record >"$WORK/standin.log" 2>&1 &
STANDIN_PID=$!
for _ in $(seq 100); do grep -q 'standin listening' "$WORK/standin.log" && break; sleep 0.1; done
grep -q 'standin listening' "$WORK/standin.log" || { echo "the stand-in did not start" >&2; exit 1; }
STANDIN_URL=http://127.0.0.1:$STANDIN_PORT

step "start throwaway cluster on port $BYO_PGPORT"
# The encryption key is generated here and only ever written to the throwaway cluster's postgresql.conf.
# track_functions = all: per-function call counts and times for the "where the time goes" section (two clock
# reads per tracked call; the same setting applies to every measurement).
cluster_start "byo_twilio.encryption_key = 'k1:$(openssl rand -hex 32)'
byo_twilio.webhook_base_url = '$PUBLIC_URL'
byo_twilio.api_base_url = '$STANDIN_URL'
byo_twilio.conversations_base_url = '$STANDIN_URL'
byo_twilio.messaging_base_url = '$STANDIN_URL'
max_connections = 100
shared_buffers = $SHARED_BUFFERS
track_functions = all
shared_preload_libraries = 'byo_twilio,pg_cron,pg_stat_statements'
pg_stat_statements.track = none
jit = off"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d postgres)
"${PSQL[@]}" -f sql/byo_twilio_auth_compat.sql >/dev/null
"${PSQL[@]}" -c 'CREATE EXTENSION byo_twilio' -c 'CREATE EXTENSION pg_stat_statements'

step "connect a user's Twilio account (stand-in); create the relay's role"
# Tokens come from the fixtures into the environment and reach psql through \getenv: never argv, never printed.
eval "$(node test/lib/fixture_env.js test/standin/fixtures.json)"
BENCH_USER=00000000-0000-0000-0000-00000000be7c
ACCOUNT_SID=ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1
MG_SID=MGa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1
SMS_NUMBER=+15005550006
"${PSQL[@]}" -c "INSERT INTO auth.users (id, email) VALUES ('$BENCH_USER', 'bench@example.com')"
"${PSQL[@]}" >/dev/null <<SQL
\getenv sid ALICE_SID
\getenv token ALICE_TOKEN
SET ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"sub": "$BENCH_USER", "role": "authenticated"}', false);
SELECT account_sid FROM twilio.save_settings(:'sid', :'token', 'ISa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1',
                                             '$MG_SID', '$SMS_NUMBER');
SQL
WEBHOOK_KEY=$("${PSQL[@]}" -At -c "SELECT webhook_key FROM twilio.user_settings WHERE user_id = '$BENCH_USER'")
# The documented grants (relay/README.md); trust authentication in this throwaway cluster, so no password.
"${PSQL[@]}" <<'SQL'
CREATE ROLE byo_twilio_relay LOGIN;
GRANT USAGE ON SCHEMA twilio TO byo_twilio_relay;
GRANT EXECUTE ON FUNCTION twilio.handle_webhook(text, text, text, text),
                          twilio.handle_webhooks(text[], text[], text[], text[]) TO byo_twilio_relay;
SQL
kill "$STANDIN_PID"; wait "$STANDIN_PID" 2>/dev/null || true; STANDIN_PID=''  # not needed any more

step "pgbench -i -s $SCALE"
timeout 120 pgbench -i -q -s "$SCALE" postgres >"$WORK/pgbench_init.log" 2>&1 || { cat "$WORK/pgbench_init.log" >&2; exit 1; }
"${PSQL[@]}" -c 'VACUUM ANALYZE' >/dev/null

# ---- helpers ------------------------------------------------------------------------------------------------------
# $1 file, $2 phase number (distinct MessageSids per phase), $3 how many
sign() {  # $4, optional: --kind status
    timeout 120 node bench/webhook_sign.js --out "$1" --phase "$2" --n "$3" --key "$WEBHOOK_KEY" \
        --public-url "$PUBLIC_URL" --token-env ALICE_TOKEN --account-sid "$ACCOUNT_SID" \
        --messaging-service-sid "$MG_SID" --to "$SMS_NUMBER" ${4:+--kind "$4"}
}
# CPU ticks: the whole machine busy / total, the relay, and PostgreSQL (postmaster, its live children, and the
# children it already reaped: a pgbench session's backend exits before we can read it).
machine_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9; exit}' /proc/stat; }
pid_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12+$13}' || echo 0; }
pg_ticks() {
    local pm p
    pm=$(head -1 "$BYO_CLUSTER_DIR/data/postmaster.pid")
    {
        sed 's/.*) //' "/proc/$pm/stat" | awk '{print $12+$13+$14+$15}'
        for p in $(ps -o pid= --ppid "$pm"); do sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12+$13}' || true; done
    } | awk '{s += $1} END {print s + 0}'
}
# Machine-wide TCP counters: "listen-queue overflows, SYN retransmissions". A SYN that finds the accept queue full
# is dropped and the client resends it after 1 s (then 3 s). Other jobs on the machine count too, so these are
# indicative.
tcp_counters() {
    awk '$1 == "TcpExt:" {if (!h) {for (i = 2; i <= NF; i++) n[i] = $i; h = 1}
         else {for (i = 2; i <= NF; i++) {if (n[i] == "ListenOverflows") o = $i; if (n[i] == "TCPSynRetrans") r = $i}}}
         END {print o + 0, r + 0}' /proc/net/netstat
}
tcp_delta() {  # $1 "o r" before, $2 "o r" after: "o / r"
    local o0 r0 o1 r1
    read -r o0 r0 <<<"$1"; read -r o1 r1 <<<"$2"
    echo "$((o1 - o0)) / $((r1 - r0))"
}
metric() {  # $1 metric line prefix (exact, up to the value)
    curl -s --max-time 5 "$RELAY_URL/metrics" | awk -v k="$1" 'index($0, k " ") == 1 {print $2; found = 1} END {if (!found) print 0}'
}
db_counts() {
    "${PSQL[@]}" -At -F' ' -c "SELECT (SELECT count(*) FROM twilio.webhook_events),
                                      (SELECT count(*) FROM twilio.messages WHERE direction = 'inbound')"
}
start_relay() {  # $1 label, then NAME=VALUE settings (none: the defaults)
    local label=$1
    shift
    env "$@" BYO_TWILIO_DATABASE_URL="host=$BYO_CLUSTER_DIR port=$BYO_PGPORT dbname=postgres user=byo_twilio_relay" \
        BYO_TWILIO_PUBLIC_URL="$PUBLIC_URL" BYO_TWILIO_LISTEN="127.0.0.1:$RELAY_PORT" \
        "$RELAY_BIN" 2>"$WORK/relay_$label.log" &
    RELAY_PID=$!
    for _ in $(seq 100); do curl -sf --max-time 1 "$RELAY_URL/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
    curl -sf --max-time 1 "$RELAY_URL/readyz" >/dev/null || { echo "the relay did not become ready" >&2; exit 1; }
    RELAY_SETTINGS=$(head -1 "$WORK/relay_$label.log" |
        jq -r '"threads \(.threads), pool \(.pool_size), batch \(.batch_max), keep-alive \(.keep_alive_requests)"')
    WRK_MODE=$(head -1 "$WORK/relay_$label.log" | jq -r 'if .keep_alive_requests > 1 then "keep-alive" else "close" end')
    # The fixed-rate client reuses up to RATE_CONNS connections when the relay keeps them, opening them as needed.
    RATE_KEEP_ALIVE=''
    [ "$WRK_MODE" = close ] || RATE_KEEP_ALIVE="--keep-alive $RATE_CONNS"
}
# SIGTERM: the relay stops accepting and finishes what it has accepted, for up to 10 s; after an overload it may
# still hold a queue of accepted connections whose clients gave up, then it exits 1 ("drained": false).
# Sets RELAY_DRAINED and LOG_AT_STOP (webhook requests the relay answered, from its log).
stop_relay() {
    local label=$1 rc=0 t0
    t0=$(date +%s%N)
    kill -TERM "$RELAY_PID"
    wait "$RELAY_PID" || rc=$?
    STOP_SECONDS=$(echo "scale=1; ($(date +%s%N) - $t0) / 1000000000" | bc -l | sed 's/^\./0./')
    RELAY_PID=''
    RELAY_DRAINED=$(grep '"event":"shutdown"' "$WORK/relay_$label.log" | jq -r '.drained' | tail -1)
    [ "$rc" = 0 ] || [ "$RELAY_DRAINED" = false ] || { echo "the relay exited with status $rc" >&2; exit 1; }
    LOG_AT_STOP=$(log_requests "$label")
}
log_requests() { grep -c '"event":"request"' "$WORK/relay_$1.log" || true; }
# Before every measured phase: vacuum and checkpoint what the previous phases wrote, so that neither an autovacuum
# nor a checkpoint they triggered lands inside the next measurement (on 2 cores one takes half the machine).
settle() { "${PSQL[@]}" -c 'VACUUM ANALYZE' -c 'CHECKPOINT' >/dev/null; }
# Samples what the backends of one application are doing, 5 times a second: a wait event, or "CPU" (running or
# waiting for a core: on 2 cores the two look alike). $1 label, $2 application_name.
start_waits() {
    "${PSQL[@]}" -At -F'|' >"$WORK/waits_$1.txt" 2>/dev/null <<SQL &
SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'), count(*) FROM pg_stat_activity
 WHERE application_name = '$2' AND state = 'active' GROUP BY 1 \\watch 0.2
SQL
    WAITS_PID=$!
    sleep 0.3  # connected before anyone counts backends
}
stop_waits() {  # $1 label; sets WAITS_<label> to the top 4 states, e.g. "CPU 71%, Lock:tuple 12%"
    kill "$WAITS_PID" 2>/dev/null || true; wait "$WAITS_PID" 2>/dev/null || true; WAITS_PID=''
    printf -v "WAITS_$1" '%s' "$(awk -F'|' 'NF == 2 && $2 ~ /^[0-9]+$/ {n[$1] += $2; t += $2}
        END {for (k in n) printf "%d %s\n", n[k], k; printf "TOTAL %d\n", t}' "$WORK/waits_$1.txt" |
        sort -k1,1nr | awk '$1 == "TOTAL" {next} {a[++i] = $0; t += $1} END {
            for (j = 1; j <= i && j <= 4; j++) {split(a[j], f, " "); printf "%s%s %.0f%%", (j > 1 ? ", " : ""), f[2], 100 * f[1] / t}}')"
}
rss_kb() { ps -o rss= -p "$RELAY_PID" | tr -d ' '; }
# Runs wrk against the relay: $1 label, $2 seconds, $3 request file, $4 "measure" or "warmup".
# Sets W_<label>_* variables.
run_wrk() {
    local label=$1 secs=$2 file=$3 mode=$4 out=$WORK/wrk_$1.out
    local m0 t0 r0 p0 c0 sum0 cnt0 ok0 m1 t1 r1 p1 c1 sum1 cnt1 ok1 line
    if [ "$mode" = measure ]; then
        read -r m0 t0 < <(machine_ticks); r0=$(pid_ticks "$RELAY_PID"); p0=$(pg_ticks)
        c0=$(db_counts); sum0=$(metric byo_twilio_relay_request_duration_seconds_sum)
        cnt0=$(metric byo_twilio_relay_request_duration_seconds_count)
        ok0=$(metric 'byo_twilio_relay_requests_total{status="200"}')
        "${PSQL[@]}" -c 'SELECT pg_stat_reset()' >/dev/null
        printf -v "W_${label}_tcp0" '%s' "$(tcp_counters)"
        start_waits "$label" byo-twilio-relay
        (while kill -0 "$RELAY_PID" 2>/dev/null; do rss_kb; sleep 0.5; done) >"$WORK/rss_$label.txt" 2>/dev/null &
        SAMPLER_PID=$!
    fi
    timeout $((secs + 60)) wrk -t "$WRK_THREADS" -c "$CONNS" -d "${secs}s" --timeout 10s -s bench/webhook_wrk.lua \
        "$RELAY_URL" -- "$file" "$WRK_THREADS" "$WRK_MODE" >"$out" 2>&1 || { cat "$out" >&2; exit 1; }
    [ "$mode" = measure ] || return 0
    kill "$SAMPLER_PID" 2>/dev/null; wait "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=''
    local tcp0_var=W_${label}_tcp0
    printf -v "W_${label}_tcp" '%s' "$(tcp_delta "${!tcp0_var}" "$(tcp_counters)")"
    stop_waits "$label"
    read -r m1 t1 < <(machine_ticks); r1=$(pid_ticks "$RELAY_PID"); p1=$(pg_ticks)
    sleep 1.2  # let the backends flush their function statistics (at most once a second)
    c1=$(db_counts); sum1=$(metric byo_twilio_relay_request_duration_seconds_sum)
    cnt1=$(metric byo_twilio_relay_request_duration_seconds_count)
    ok1=$(metric 'byo_twilio_relay_requests_total{status="200"}')
    "${PSQL[@]}" -At -F'|' -c "SELECT funcname, calls, round((total_time / nullif(calls, 0))::numeric, 3),
                                      round((self_time / nullif(calls, 0))::numeric, 3)
                                 FROM pg_stat_user_functions WHERE schemaname = 'twilio' AND calls > 0 ORDER BY total_time DESC" \
        >"$WORK/funcs_$label.txt"
    line=$(grep '^webhook_wrk ' "$out") || { cat "$out" >&2; exit 1; }
    local kv k v
    for kv in ${line#webhook_wrk }; do k=${kv%%=*}; v=${kv#*=}; printf -v "W_${label}_$k" '%s' "$v"; done
    local req_var=W_${label}_requests dur_var=W_${label}_duration_us
    local reqs=${!req_var} dur=${!dur_var}
    printf -v "W_${label}_rps" '%.0f' "$(echo "$reqs * 1000000 / $dur" | bc -l)"
    printf -v "W_${label}_ok" '%s' "$((ok1 - ok0))"
    read -r ev0 msg0 <<<"$c0"; read -r ev1 msg1 <<<"$c1"
    printf -v "W_${label}_new_events" '%s' "$((ev1 - ev0))"
    printf -v "W_${label}_new_messages" '%s' "$((msg1 - msg0))"
    printf -v "W_${label}_relay_ms" '%.2f' "$(echo "($sum1 - $sum0) * 1000 / ($cnt1 - $cnt0)" | bc -l)"
    # CPU per request (microseconds) and the machine's busy share (both cores = 100 %)
    printf -v "W_${label}_relay_cpu_us" '%.0f' "$(echo "($r1 - $r0) * 1000000 / $HZ / $reqs" | bc -l)"
    printf -v "W_${label}_pg_cpu_us" '%.0f' "$(echo "($p1 - $p0) * 1000000 / $HZ / $reqs" | bc -l)"
    printf -v "W_${label}_other_cpu_us" '%.0f' \
        "$(echo "(($m1 - $m0) - ($r1 - $r0) - ($p1 - $p0)) * 1000000 / $HZ / $reqs" | bc -l)"
    printf -v "W_${label}_busy_pct" '%.0f' "$(echo "($m1 - $m0) * 100 / ($t1 - $t0)" | bc -l)"
    # RSS: peak of the samples (and the kernel's high-water mark), steady = median of the second half
    local samples peak hwm steady
    samples=$(grep -c . "$WORK/rss_$label.txt" || true)
    peak=$(sort -n "$WORK/rss_$label.txt" | tail -1)
    hwm=$(awk '/^VmHWM/{print $2}' "/proc/$RELAY_PID/status")
    steady=$(tail -n $((samples / 2)) "$WORK/rss_$label.txt" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
    printf -v "W_${label}_rss_peak" '%s' "$peak"
    printf -v "W_${label}_rss_hwm" '%s' "$hwm"
    printf -v "W_${label}_rss_steady" '%s' "$steady"
    printf -v "W_${label}_rss_samples" '%s' "$samples"
}
# pgbench at the same concurrency: $1 label, $2 seconds, then pgbench options. Sets P_<label>_{tps,p50,p99,pg_cpu_us}.
run_pgbench() {
    local label=$1 secs=$2 logdir=$WORK/pgbench_$1 p0 p1 tps lat pm children
    shift 2
    mkdir -p "$logdir"
    pm=$(head -1 "$BYO_CLUSTER_DIR/data/postmaster.pid")
    children=$(ps -o pid= --ppid "$pm" | wc -l)
    p0=$(pg_ticks)
    timeout $((secs + 60)) pgbench -n -c "$CONNS" -j "$WRK_THREADS" -T "$secs" -l --log-prefix="$logdir/log" "$@" \
        postgres >"$WORK/pgbench_$label.out" 2>&1 || { cat "$WORK/pgbench_$label.out" >&2; exit 1; }
    # pgbench's backends are exiting now; one reaped between the two reads of pg_ticks would be lost, so wait.
    for _ in $(seq 50); do [ "$(ps -o pid= --ppid "$pm" | wc -l)" -le "$children" ] && break; sleep 0.1; done
    p1=$(pg_ticks)
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$WORK/pgbench_$label.out")
    [ -n "$tps" ] || { cat "$WORK/pgbench_$label.out" >&2; exit 1; }
    lat=$(cat "$logdir"/log.* | awk '{print $3}' | sort -n | awk '{a[NR] = $1} END {
            printf "%.2f %.2f %d", a[int(NR * 0.50 + 0.999)] / 1000, a[int(NR * 0.99 + 0.999)] / 1000, NR}')
    printf -v "P_${label}_tps" '%.0f' "$tps"
    read -r "P_${label}_p50" "P_${label}_p99" "P_${label}_xacts" <<<"$lat"
    printf -v "P_${label}_pg_cpu_us" '%.0f' "$(echo "($p1 - $p0) * 1000000 / $HZ / ${lat##* }" | bc -l)"
    echo "   pgbench $label: PostgreSQL CPU ticks $p0 -> $p1 (${HZ}/s), $(cut -d' ' -f3 <<<"$lat") transactions" >&2
    rm -rf "$logdir"
}
# The fixed-rate client: $1 label, $2 rate, $3 request file, $4 the relay's label (its log), $5 seconds (default
# WEBHOOK_SECONDS). Sets R_<label>_* from
# its JSON line, and R_<label>_log0/_log1: webhook requests the relay had answered before and after the run.
run_rate() {
    local label=$1 rate=$2 file=$3 secs=${5:-$SECS} out=$WORK/rate_$1.json
    printf -v "R_${label}_log0" '%s' "$(log_requests "$4")"
    local tcp0
    tcp0=$(tcp_counters)
    timeout $((secs + 60)) "$RATE_CLIENT" --file "$file" --rate "$rate" --seconds "$secs" \
        --warmup-seconds 1 --timeout-ms 3000 --port "$RELAY_PORT" $RATE_KEEP_ALIVE >"$out" || { cat "$out" >&2; exit 1; }
    printf -v "R_${label}_log1" '%s' "$(log_requests "$4")"
    printf -v "R_${label}_tcp" '%s' "$(tcp_delta "$tcp0" "$(tcp_counters)")"
    printf -v "R_${label}_send_p50" '%s' "$(jq -r '.from_send_ms.p50' "$out")"
    printf -v "R_${label}_sent" '%s' "$(jq -r '.due - .unsent' "$out")"
    printf -v "R_${label}_unsent" '%s' "$(jq -r '.unsent' "$out")"
    printf -v "R_${label}_p50" '%s' "$(jq -r '.from_due_ms.p50' "$out")"
    printf -v "R_${label}_p99" '%s' "$(jq -r '.from_due_ms.p99' "$out")"
    printf -v "R_${label}_send_p99" '%s' "$(jq -r '.from_send_ms.p99' "$out")"
    printf -v "R_${label}_max" '%s' "$(jq -r '.from_due_ms.max' "$out")"
    printf -v "R_${label}_non200" '%s' "$(jq -r '[.statuses | to_entries[] | select(.key != "200") | .value] | add // 0' "$out")"
    printf -v "R_${label}_errors" '%s' "$(jq -r '.errors' "$out")"
    printf -v "R_${label}_achieved" '%s' "$(jq -r '.achieved_rps' "$out")"
    printf -v "R_${label}_inflight" '%s' "$(jq -r '.max_in_flight' "$out")"
}

# ---- measurements -------------------------------------------------------------------------------------------------
step "pre-sign $N + $((N * 3 / 2)) + $N requests with the npm twilio library"
sign "$WORK/req_warm.tsv" 1 10000
sign "$WORK/req_default.tsv" 2 "$N"
sign "$WORK/req_direct.tsv" 3 $((N * 3 / 2))
sign "$WORK/req_tuned.tsv" 5 "$N"
sign "$WORK/req_warm2.tsv" 4 10000
sign "$WORK/req_warm3.tsv" 20 10000
for r in $(seq "$ALT_ROUNDS"); do sign "$WORK/req_alt$r.tsv" $((20 + r)) $((ALT_SECS * 15000)); done

step "relay with its defaults; sanity check of one signed request"
start_relay default
IFS=$'\t' read -r first_path first_sig first_body < <(head -1 "$WORK/req_warm.tsv")
sanity=$(curl -s --max-time 5 -o /dev/null -w '%{http_code} %{content_type}' -X POST \
    -H 'Content-Type: application/x-www-form-urlencoded' -H "X-Twilio-Signature: $first_sig" \
    --data-binary "$first_body" "$RELAY_URL$first_path")
[ "${sanity%% *}" = 200 ] || { echo "a signed request was answered $sanity" >&2; tail -5 "$WORK/relay_default.log" >&2; exit 1; }
RSS_IDLE_default=$(rss_kb)
step "warm-up ($WARMUP_SECS s), then wrk: $CONNS connections, $WRK_THREADS threads, $SECS s (relay: $RELAY_SETTINGS)"
run_wrk warm "$WARMUP_SECS" "$WORK/req_warm.tsv" warmup
settle
run_wrk default "$SECS" "$WORK/req_default.tsv" measure
SETTINGS_default=$RELAY_SETTINGS

step "pgbench -N: $CONNS clients, $WRK_THREADS threads, $SECS s"
settle
start_waits simple pgbench
run_pgbench simple "$SECS" -N
stop_waits simple
HALF_RATE=$((P_simple_tps / 2))

DIRECT_SECS=$(( (SECS + 1) / 2 ))
step "handle_webhook straight from pgbench (no HTTP, no relay): $CONNS clients, $DIRECT_SECS s"
"${PSQL[@]}" >/dev/null <<SQL
CREATE SCHEMA webhook_bench;
CREATE TABLE webhook_bench.staging (path text, signature text, body text);
\copy webhook_bench.staging FROM '$WORK/req_direct.tsv'
CREATE TABLE webhook_bench.reqs AS
    SELECT row_number() OVER () AS id, '$PUBLIC_URL' || path AS url, signature, body FROM webhook_bench.staging;
ALTER TABLE webhook_bench.reqs ADD PRIMARY KEY (id);
DROP TABLE webhook_bench.staging;
CREATE SEQUENCE webhook_bench.next_req;
ANALYZE webhook_bench.reqs;
SQL
settle
c0=$(db_counts)
start_waits direct pgbench
run_pgbench direct "$DIRECT_SECS" -M prepared -f bench/webhook_pgbench_direct.sql  # prepared, as the relay calls it
stop_waits direct
c1=$(db_counts)
DIRECT_NEW_EVENTS=$(( ${c1%% *} - ${c0%% *} ))

step "handle_webhooks straight from pgbench, 8 webhooks per call: $CONNS clients, $DIRECT_SECS s"
settle
run_pgbench batch "$DIRECT_SECS" -M prepared -f bench/webhook_pgbench_batch.sql
c2=$(db_counts)
BATCH_NEW_EVENTS=$(( ${c2%% *} - ${c1%% *} ))
BATCH_WEBHOOKS_PER_S=$(( P_batch_tps * 8 ))

step "status callbacks straight from pgbench: $CONNS clients, $DIRECT_SECS s"
# "delivered" for outbound messages in state "sent", one each: every call moves a message forward.
sign "$WORK/req_status.tsv" 4 $((N * 3 / 2)) status
"${PSQL[@]}" >/dev/null <<SQL
CREATE TABLE webhook_bench.sstaging (path text, signature text, body text);
\copy webhook_bench.sstaging FROM '$WORK/req_status.tsv'
CREATE TABLE webhook_bench.sreqs AS
    SELECT row_number() OVER () AS id, '$PUBLIC_URL' || path AS url, signature, body,
           substring(body FROM 'MessageSid=(SM[0-9a-f]{32})') AS sid
      FROM webhook_bench.sstaging;
ALTER TABLE webhook_bench.sreqs ADD PRIMARY KEY (id);
DROP TABLE webhook_bench.sstaging;
CREATE SEQUENCE webhook_bench.next_sreq;
INSERT INTO twilio.messages (user_id, channel, direction, to_number, from_number, body, status, twilio_sid,
                             account_sid)
SELECT '$BENCH_USER', 'sms', 'outbound', '+14155550100', '$SMS_NUMBER', 'hello', 'sent', sid, '$ACCOUNT_SID'
  FROM webhook_bench.sreqs;
ANALYZE webhook_bench.sreqs;
ANALYZE twilio.messages;
SQL
settle
run_pgbench status "$DIRECT_SECS" -M prepared -f bench/webhook_pgbench_status.sql
STATUS_APPLIED=$("${PSQL[@]}" -At -c "SELECT count(*) FROM twilio.webhook_events WHERE effect = 'sent -> delivered'")

step "fixed rate, half of pgbench -N: $HALF_RATE/s for $SECS s (relay: $RELAY_SETTINGS)"
sign "$WORK/req_rate_default.tsv" 7 $((HALF_RATE * (SECS + 1) + 10))
settle
run_rate default "$HALF_RATE" "$WORK/req_rate_default.tsv" default
stop_relay default
R_default_drained=$RELAY_DRAINED R_default_log2=$LOG_AT_STOP R_default_stop=$STOP_SECONDS

# The tuned relay's settings, for its own phases and for the rounds in turns below.
TUNED_ENV=(BYO_TWILIO_THREADS="$TUNED_THREADS" BYO_TWILIO_POOL_SIZE="$TUNED_POOL" BYO_TWILIO_BATCH_MAX="$TUNED_BATCH"
           BYO_TWILIO_KEEP_ALIVE_REQUESTS="$TUNED_KEEP_ALIVE")
step "relay tuned: ${TUNED_ENV[*]}"
start_relay tuned "${TUNED_ENV[@]}"
SETTINGS_tuned=$RELAY_SETTINGS
RSS_IDLE_tuned=$(rss_kb)
step "warm-up ($WARMUP_SECS s), then wrk: $CONNS connections, $WRK_THREADS threads, $SECS s (relay: $RELAY_SETTINGS)"
run_wrk warm2 "$WARMUP_SECS" "$WORK/req_warm2.tsv" warmup
settle
run_wrk tuned "$SECS" "$WORK/req_tuned.tsv" measure
# Before the overloaded run below, which leaves the relay with a backlog.
HALF_RELAY=$((W_tuned_rps / 2))
step "fixed rate, half of what this relay reached under wrk: $HALF_RELAY/s for $SECS s (relay: $RELAY_SETTINGS)"
sign "$WORK/req_rate_relayhalf.tsv" 8 $((HALF_RELAY * (SECS + 1) + 10))
settle
run_rate relayhalf "$HALF_RELAY" "$WORK/req_rate_relayhalf.tsv" tuned
step "GET /healthz through the relay (HTTP + a connection per request, no database): 3 s"
h0=$(pid_ticks "$RELAY_PID") htcp0=$(tcp_counters)
timeout 60 wrk -t "$WRK_THREADS" -c "$CONNS" -d 3s -H 'Connection: close' "$RELAY_URL/healthz" >"$WORK/wrk_healthz.out" 2>&1
h1=$(pid_ticks "$RELAY_PID") HEALTHZ_TCP=$(tcp_delta "$htcp0" "$(tcp_counters)")
HEALTHZ_RPS=$(sed -n 's/^Requests\/sec:[[:space:]]*\([0-9.]*\)/\1/p' "$WORK/wrk_healthz.out" | cut -d. -f1)
HEALTHZ_N=$(sed -n 's/^[[:space:]]*\([0-9]*\) requests in .*/\1/p' "$WORK/wrk_healthz.out")
HEALTHZ_CPU_US=$(printf '%.0f' "$(echo "($h1 - $h0) * 1000000 / $HZ / $HEALTHZ_N" | bc -l)")
step "fixed rate, half of pgbench -N: $HALF_RATE/s for $SECS s (relay: $RELAY_SETTINGS)"
sign "$WORK/req_rate_tuned.tsv" 6 $((HALF_RATE * (SECS + 1) + 10))
settle
run_rate tuned "$HALF_RATE" "$WORK/req_rate_tuned.tsv" tuned
stop_relay tuned
R_tuned_drained=$RELAY_DRAINED R_tuned_log2=$LOG_AT_STOP R_tuned_stop=$STOP_SECONDS

# (b) and (c) once more, in turns: the VM's speed drifts over minutes (pgbench -N alone has run at 6,600-11,000 TPS
# in one session, GET /healthz at 8,800-30,000/s), and the phases above are minutes apart. Each round runs pgbench
# -N, then a fresh tuned relay under wrk, then at half of that round's pgbench -N rate, so each comparison sees one
# machine; the verdict takes the median round.
step "(b) and (c) in turns: pgbench -N, the tuned relay under wrk, then at half pgbench's rate; $ALT_ROUNDS rounds of $ALT_SECS s"
start_relay alt "${TUNED_ENV[@]}"
run_wrk warm3 "$WARMUP_SECS" "$WORK/req_warm3.tsv" warmup
ALT_RATIOS=() ALT_P99S=() ALT_B_CELLS=() ALT_C_CELLS=()
for r in $(seq "$ALT_ROUNDS"); do
    settle
    run_pgbench "alt_p$r" "$ALT_SECS" -N
    settle
    run_wrk "alt_w$r" "$ALT_SECS" "$WORK/req_alt$r.tsv" measure
    p_var=P_alt_p${r}_tps w_var=W_alt_w${r}_rps
    ALT_RATIOS+=("$(echo "scale=4; ${!w_var} / ${!p_var}" | bc -l)")
    ALT_B_CELLS+=("${!p_var} / ${!w_var} ($(printf '%.2f' "${ALT_RATIOS[-1]}")x)")
    half=$(( ${!p_var} / 2 ))
    sign "$WORK/req_alt_rate$r.tsv" $((30 + r)) $((half * (ALT_SECS + 1) + 10))
    settle
    run_rate "alt_r$r" "$half" "$WORK/req_alt_rate$r.tsv" alt "$ALT_SECS"
    p99_var=R_alt_r${r}_p99 p50_var=R_alt_r${r}_p50 err_var=R_alt_r${r}_errors
    ALT_P99S+=("${!p99_var}")
    ALT_C_CELLS+=("$half/s: ${!p99_var} ms (p50 ${!p50_var}, unanswered or unsent ${!err_var})")
done
stop_relay alt
median() { sort -n | awk '{a[NR] = $1} END {printf "%.2f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ALT_MEDIAN=$(printf '%s\n' "${ALT_RATIOS[@]}" | median)
ALT_P99_MEDIAN=$(printf '%s\n' "${ALT_P99S[@]}" | median)
LOADAVG_AFTER=$(cut -d" " -f1-3 /proc/loadavg)

# Not a measurement: where handle_webhook's time goes statement by statement (pg_stat_statements with nested
# statements tracked, which slows every call down a little), 3 s of the direct pgbench load.
step "profile: handle_webhook from pgbench with pg_stat_statements.track = all, 3 s"
"${PSQL[@]}" -c "ALTER SYSTEM SET pg_stat_statements.track = 'all'" -c 'SELECT pg_reload_conf()' >/dev/null
sleep 0.3
"${PSQL[@]}" -c 'SELECT pg_stat_statements_reset()' >/dev/null
timeout 60 pgbench -n -c "$CONNS" -j "$WRK_THREADS" -T 3 -f bench/webhook_pgbench_direct.sql postgres \
    >"$WORK/pgbench_profile.out" 2>&1 || { cat "$WORK/pgbench_profile.out" >&2; exit 1; }
"${PSQL[@]}" -At -F'|' >"$WORK/profile.txt" <<'SQL'
WITH s AS (
    SELECT regexp_replace(left(regexp_replace(query, '\s+', ' ', 'g'), 90), '\|', '/', 'g') AS q, calls,
           total_exec_time, total_exec_time / calls AS mean_ms, total_plan_time
      FROM pg_stat_statements
     WHERE query NOT LIKE '%pg_stat_statements%' AND calls > 0)
SELECT q, calls, round(mean_ms::numeric, 3), round((100 * total_exec_time / (SELECT total_exec_time FROM s
           WHERE q LIKE 'SELECT h.status%'))::numeric, 1)
  FROM s ORDER BY total_exec_time DESC LIMIT 12;
SQL

# ---- report -------------------------------------------------------------------------------------------------------
step "report"
ms() { echo "scale=2; $1 / 1000" | bc -l | sed 's/^\./0./'; }
ratio() { echo "scale=2; $1 / $2" | bc -l | sed 's/^\./0./'; }
mb() { echo "scale=1; $1 / 1024" | bc -l | sed 's/^\./0./'; }
cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -1)
echo "### Machine"
echo
echo "- CPUs (nproc): $(nproc); CPU model: ${cpu:-unknown}; RAM: $(awk '/MemTotal/{printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
echo "- load average (1/5/15 min): before the run $LOADAVG_BEFORE, after $LOADAVG_AFTER"
echo "- PostgreSQL: $("${PSQL[@]}" -At -c 'SELECT version()' | cut -d, -f1); fsync = off (test/lib/cluster.sh), shared_buffers = $SHARED_BUFFERS, track_functions = all; pgbench scale $SCALE"
echo "- byo_twilio $("${PSQL[@]}" -At -c "SELECT extversion FROM pg_extension WHERE extname = 'byo_twilio'"); relay build type $BUILD_TYPE; Boost.Beast $(dpkg-query -W -f='${Version}' libboost-dev 2>/dev/null || echo '?'); $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2); node $(node --version)"
echo "- load: $CONNS connections, $WRK_THREADS wrk/pgbench threads, $SECS s each; every webhook a distinct signed inbound SMS (npm twilio getExpectedTwilioSignature)"
echo
echo "### Results"
echo
echo "| | relay defaults ($SETTINGS_default) | relay tuned ($SETTINGS_tuned) |"
echo "|---|---|---|"
echo "| (a) webhooks/s through the relay (wrk) | **$W_default_rps** | **$W_tuned_rps** |"
echo "| (a) latency p50 / p99 at full load | $(ms "$W_default_p50_us") / $(ms "$W_default_p99_us") ms | $(ms "$W_tuned_p50_us") / $(ms "$W_tuned_p99_us") ms |"
echo "| (b) pgbench -N TPS, same cluster, $CONNS clients | $P_simple_tps | (same run) |"
echo "| (b) ratio relay / pgbench -N (target >= 0.8) | **$(ratio "$W_default_rps" "$P_simple_tps")x** | **$(ratio "$W_tuned_rps" "$P_simple_tps")x** |"
joined() { local out='' c; for c in "$@"; do out+="${out:+; }$c"; done; echo "$out"; }  # cells "; "-separated
echo "| (b) in turns, $ALT_ROUNDS rounds of $ALT_SECS s: pgbench -N TPS / tuned relay webhooks/s (ratio) per round; median (target >= 0.8) | - | $(joined "${ALT_B_CELLS[@]}"); **median ${ALT_MEDIAN}x** |"
echo "| (c) p99 at $HALF_RATE/s = half of pgbench -N (target <= 25 ms) | **$R_default_p99 ms** (p50 $R_default_p50, max $R_default_max) | **$R_tuned_p99 ms** (p50 $R_tuned_p50, max $R_tuned_max) |"
echo "| (c) in turns: p99 at half of that round's pgbench -N rate, $ALT_SECS s each; median (target <= 25 ms) | - | $(joined "${ALT_C_CELLS[@]}"); **median $ALT_P99_MEDIAN ms** |"
echo "| (c) sent (+ not sent: client behind schedule); answered non-200; unanswered within 3 s; most in flight | $R_default_sent (+$R_default_unsent); $R_default_non200; $((R_default_errors - R_default_unsent)); $R_default_inflight | $R_tuned_sent (+$R_tuned_unsent); $R_tuned_non200; $((R_tuned_errors - R_tuned_unsent)); $R_tuned_inflight |"
echo "| (c) relay answered during the run / afterwards to nobody; SIGTERM to exit | $((R_default_log1 - R_default_log0)) / $((R_default_log2 - R_default_log1)); $R_default_stop s (drained: $R_default_drained) | $((R_tuned_log1 - R_tuned_log0)) / $((R_tuned_log2 - R_tuned_log1)); $R_tuned_stop s (drained: $R_tuned_drained) |"
echo "| (c') p99 at $HALF_RELAY/s = half of the tuned relay's own wrk rate | - | $R_relayhalf_p99 ms (p50 $R_relayhalf_p50, max $R_relayhalf_max; from send: p50 $R_relayhalf_send_p50, p99 $R_relayhalf_send_p99; $R_relayhalf_sent sent, non-200 $R_relayhalf_non200, unanswered $R_relayhalf_errors; listen-queue overflows / SYN retransmits $R_relayhalf_tcp) |"
echo "| (d) relay RSS idle / steady under load / peak | $(mb "$RSS_IDLE_default") / $(mb "$W_default_rss_steady") / $(mb "$W_default_rss_peak") MB (VmHWM $(mb "$W_default_rss_hwm")) | $(mb "$RSS_IDLE_tuned") / $(mb "$W_tuned_rss_steady") / $(mb "$W_tuned_rss_peak") MB (VmHWM $(mb "$W_tuned_rss_hwm")) |"
echo "| TCP listen-queue overflows / SYN retransmits, machine-wide: wrk run; (c) run | $W_default_tcp; $R_default_tcp | $W_tuned_tcp; $R_tuned_tcp |"
echo "| wrk requests; non-2xx; socket errors; wraps (repeats) | $W_default_requests; $W_default_err_status; $((W_default_err_connect + W_default_err_read + W_default_err_write + W_default_err_timeout)); $W_default_wraps | $W_tuned_requests; $W_tuned_err_status; $((W_tuned_err_connect + W_tuned_err_read + W_tuned_err_write + W_tuned_err_timeout)); $W_tuned_wraps |"
echo "| relay 200s / new webhook_events / new inbound messages | $W_default_ok / $W_default_new_events / $W_default_new_messages | $W_tuned_ok / $W_tuned_new_events / $W_tuned_new_messages |"
echo
echo "### Where the time goes"
echo
echo "| | relay defaults | relay tuned | pgbench -N | handle_webhook from pgbench (no HTTP, prepared, $DIRECT_SECS s) |"
echo "|---|---|---|---|---|"
echo "| transactions/s | $W_default_rps | $W_tuned_rps | $P_simple_tps | $P_direct_tps |"
echo "| latency p50 / p99 (ms) | $(ms "$W_default_p50_us") / $(ms "$W_default_p99_us") | $(ms "$W_tuned_p50_us") / $(ms "$W_tuned_p99_us") | $P_simple_p50 / $P_simple_p99 | $P_direct_p50 / $P_direct_p99 |"
echo "| PostgreSQL CPU per transaction (µs) | $W_default_pg_cpu_us | $W_tuned_pg_cpu_us | $P_simple_pg_cpu_us | $P_direct_pg_cpu_us |"
echo "| relay CPU per request (µs) | $W_default_relay_cpu_us | $W_tuned_relay_cpu_us | - | - |"
echo "| other CPU per request: wrk, kernel, other jobs (µs) | $W_default_other_cpu_us | $W_tuned_other_cpu_us | - | - |"
echo "| machine busy during the run (2 cores = 100 %) | $W_default_busy_pct % | $W_tuned_busy_pct % | - | - |"
echo "| backend state samples (pg_stat_activity, 5/s) | $WAITS_default | $WAITS_tuned | $WAITS_simple | $WAITS_direct |"
echo "| relay's own timer, mean (headers read to response written, ms) | $W_default_relay_ms | $W_tuned_relay_ms | - | - |"
echo
echo "- GET /healthz through the relay, $CONNS connections, new connection per request, no database: $HEALTHZ_RPS requests/s, relay CPU $HEALTHZ_CPU_US µs per request; listen-queue overflows / SYN retransmits $HEALTHZ_TCP"
echo "- handle_webhook from pgbench: $P_direct_xacts transactions, $DIRECT_NEW_EVENTS new webhook_events"
echo "- handle_webhooks from pgbench, 8 per call, prepared, $DIRECT_SECS s: $P_batch_tps calls/s = **$BATCH_WEBHOOKS_PER_S webhooks/s** ($(printf "%.2f" "$(echo "$BATCH_WEBHOOKS_PER_S / $P_simple_tps" | bc -l)")x pgbench -N), PostgreSQL CPU $P_batch_pg_cpu_us µs per call; $P_batch_xacts calls, $BATCH_NEW_EVENTS new webhook_events"
echo "- status callbacks (\"delivered\" for outbound messages) from pgbench, prepared, $DIRECT_SECS s: $P_status_tps/s, p50 / p99 $P_status_p50 / $P_status_p99 ms, PostgreSQL CPU $P_status_pg_cpu_us µs per callback; $P_status_xacts transactions, $STATUS_APPLIED messages moved sent -> delivered"
echo
echo "Mean time per call inside PostgreSQL (pg_stat_user_functions, tuned relay run; total / self, ms):"
echo
echo "| function | calls | total | self |"
echo "|---|---|---|---|"
head -8 "$WORK/funcs_tuned.txt" | awk -F'|' '{printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4}'
echo
echo "Statements inside handle_webhook (profile run: pg_stat_statements.track = all, 3 s of handle_webhook from"
echo "pgbench; nested statements are included in their caller's time, so the shares overlap):"
echo
echo "| statement (first 90 characters) | calls | mean ms | % of the top-level call |"
echo "|---|---|---|---|"
awk -F'|' '{printf "| `%s` | %s | %s | %s |\n", $1, $2, $3, $4}' "$WORK/profile.txt"
step "done"
