#!/usr/bin/env bash
# Outbound-dispatch benchmark: byo_twilio's outbox + dispatcher against the naive alternative (one synchronous HTTP
# call to Twilio per message, inside the caller's transaction), side by side in one run:
#   - latency: sequential transactions, each sending one message and committing: how long the caller waits, and
#     how long after COMMIT returned the Twilio stand-in receives the POST (matched by a unique Body);
#   - throughput: N messages enqueued in one transaction, time until the outbox is drained, at several
#     byo_twilio.dispatcher_concurrency settings, with fresh and with stale planner statistics; the naive
#     alternative in one transaction, one session and several sessions (pgbench);
#   - where the dispatcher's time goes (pg_stat_statements, separate runs);
# against a stand-in that answers at once (loopback floor) and one that answers after DISPATCH_REMOTE_MS.
# Installs what it needs (Debian packages with apt-get, the `pg` npm package of bench/package.json into
# .tmp/dispatch_node), builds and installs the extension, starts three local Twilio stand-ins and a throwaway
# cluster (autovacuum off, so planner statistics are what the benchmark sets), measures, prints the machine and
# Markdown tables, and removes everything, even on failure. Needs root. Every step has a timeout; the whole run
# takes 2.5 to 3.5 minutes on 2 cores.
#
# Environment: DISPATCH_N (messages per main throughput run, default 5000), DISPATCH_N_SMALL (default 2000: the
#              default-settings, stale-statistics and remote runs), DISPATCH_LATENCY_N (default 300),
#              DISPATCH_CONCURRENCY (default "1 8 32 64"), DISPATCH_PARALLEL (naive sessions, default 8),
#              DISPATCH_REMOTE_MS (default 100), DISPATCH_REMOTE_CONCURRENCY (default "64 256"),
#              BYO_PGPORT (default 54392), DISPATCH_STANDIN_PORT (default 4040; it and the next two are used).
# Usage: bash bench/dispatch_run.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

N=${DISPATCH_N:-5000}
N_SMALL=${DISPATCH_N_SMALL:-2000}
LATENCY_N=${DISPATCH_LATENCY_N:-300}
CONCURRENCY=${DISPATCH_CONCURRENCY:-1 8 32 64}
PARALLEL=${DISPATCH_PARALLEL:-8}
REMOTE_MS=${DISPATCH_REMOTE_MS:-100}
REMOTE_CONCURRENCY=${DISPATCH_REMOTE_CONCURRENCY:-64 256}
REMOTE_LATENCY_N=100
ACCOUNTS=${DISPATCH_ACCOUNTS:-10}
REMOTE_NAIVE_N=50
export BYO_PGPORT=${BYO_PGPORT:-54392}
REC_PORT=${DISPATCH_STANDIN_PORT:-4040}
NOREC_PORT=$((REC_PORT + 1))
REMOTE_PORT=$((REC_PORT + 2))
for v in "$N" "$N_SMALL" "$LATENCY_N" "$PARALLEL" "$REMOTE_MS" $CONCURRENCY $REMOTE_CONCURRENCY; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "DISPATCH_* settings must be positive integers" >&2; exit 2; }
done
[ $((N % PARALLEL)) -eq 0 ] || { echo "DISPATCH_N must be a multiple of DISPATCH_PARALLEL" >&2; exit 2; }
[ $((N_SMALL % 2)) -eq 0 ] || { echo "DISPATCH_N_SMALL must be even" >&2; exit 2; }

WORK=$(mktemp -d /tmp/byo_twilio_dispatch.XXXXXX)
chmod 755 "$WORK"  # the server (postgres OS user) loads the C model of pgsql-http from here
RESULTS=$WORK/results.jsonl
STANDIN_PIDS=()
NODE_DIR=$ROOT/.tmp/dispatch_node
export NODE_PATH=$NODE_DIR/node_modules
BENCH_JS=(timeout 150 node bench/dispatch_bench.js)
START_S=$SECONDS
LOADAVG=$(cut -d" " -f1-3 /proc/loadavg)
step() { printf '== %s (%ds)\n' "$*" $((SECONDS - START_S)) >&2; }

source test/lib/cluster.sh
cleanup() {
    local rc=$? pid
    if [ "$rc" -ne 0 ]; then
        if [ -n "${BYO_CLUSTER_DIR:-}" ] && [ -f "$BYO_CLUSTER_DIR/server.log" ]; then
            echo "-- server log (last lines):" >&2
            tail -20 "$BYO_CLUSTER_DIR/server.log" >&2 || true
        fi
        for f in "$WORK"/standin_*.log; do [ -f "$f" ] && { echo "-- $f:" >&2; tail -5 "$f" >&2; }; done
    fi
    cluster_remove || true
    for pid in "${STANDIN_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${STANDIN_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- dependencies -------------------------------------------------------------------------------------------------
step "dependencies"
timeout 600 bash test/lib/install_deps.sh >&2
APT_UPDATED=no
# Installs a Debian package if it is missing and the configured archives have it; fails quietly otherwise.
apt_ensure() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" && return 0
    if [ "$APT_UPDATED" = no ]; then timeout 300 apt-get update -qq >&2 || true; APT_UPDATED=yes; fi
    apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [0-9]' || return 1
    echo "installing $1" >&2
    DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq --no-install-recommends "$1" >/dev/null
}
HAVE_PGSQL_HTTP=false HAVE_C_MODEL=false HAVE_PLPYTHON=false
if apt_ensure postgresql-15-http; then HAVE_PGSQL_HTTP=true; else
    echo "postgresql-15-http is not in the configured archives (Debian 12 doesn't carry it; apt.postgresql.org does):" \
         "using bench/dispatch_naive_http.c, a libcurl model of its synchronous POST" >&2
fi
apt_ensure postgresql-plpython3-15 && HAVE_PLPYTHON=true || echo "postgresql-plpython3-15 unavailable: no PL/Python row" >&2
if [ ! -f "$NODE_DIR/node_modules/pg/package.json" ] || ! cmp -s bench/package.json "$NODE_DIR/package.json"; then
    echo "installing npm packages of bench/package.json into $NODE_DIR" >&2
    mkdir -p "$NODE_DIR" && cp bench/package.json "$NODE_DIR/package.json"
    (cd "$NODE_DIR" && timeout 300 npm install --no-audit --no-fund --no-package-lock --loglevel=error >/dev/null)
fi

step "build and install"
if ! { make -s -j"$(nproc)" && make -s install; } >"$WORK/make.log" 2>&1; then
    tail -40 "$WORK/make.log" >&2
    echo "build failed" >&2
    exit 1
fi
C_MODEL_SO=$WORK/dispatch_naive_http.so
if [ "$HAVE_PGSQL_HTTP" = false ]; then
    gcc -O2 -Wall -fPIC -shared -I"$(pg_config --includedir-server)" bench/dispatch_naive_http.c -lcurl \
        -o "$C_MODEL_SO" >&2
    chmod 755 "$C_MODEL_SO"
    HAVE_C_MODEL=true
fi

# ---- stand-ins and cluster ----------------------------------------------------------------------------------------
step "start Twilio stand-ins on ports $REC_PORT (recording), $NOREC_PORT (--no-record), $REMOTE_PORT (--latency-ms $REMOTE_MS)"
for port in "$REC_PORT" "$NOREC_PORT" "$REMOTE_PORT"; do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { echo "port $port is taken" >&2; exit 1; }
done
# The test fixtures plus $ACCOUNTS accounts of the benchmark's own (one per app user in the many-accounts rows).
FIXTURES=$WORK/fixtures.json
node -e '
const f = require(process.argv[1]), n = Number(process.argv[2]);
for (let i = 1; i <= n; i++) {
  const hex = i.toString(16).padStart(4, "0"), num = "+1500556" + String(i).padStart(4, "0");
  f.accounts["ACbe" + "0".repeat(26) + hex] = { token: "be" + "0".repeat(26) + hex, status: "active", type: "Full",
    friendly_name: "bench " + i, numbers: [num], conversations_services: [], messaging_services: {
      ["MGbe" + "0".repeat(26) + hex]: [num] } };
}
require("fs").writeFileSync(process.argv[3], JSON.stringify(f));' "$ROOT/test/standin/fixtures.json" "$ACCOUNTS" "$FIXTURES"
node test/standin/twilio_standin.js --host 127.0.0.1 --port "$REC_PORT" --fixtures "$FIXTURES" \
    >"$WORK/standin_rec.log" 2>&1 &
STANDIN_PIDS+=($!)
node test/standin/twilio_standin.js --host 127.0.0.1 --port "$NOREC_PORT" --fixtures "$FIXTURES" \
    --no-record >"$WORK/standin_norec.log" 2>&1 &
NOREC_PID=$!
STANDIN_PIDS+=($NOREC_PID)
node test/standin/twilio_standin.js --host 127.0.0.1 --port "$REMOTE_PORT" --fixtures "$FIXTURES" \
    --latency-ms "$REMOTE_MS" >"$WORK/standin_remote.log" 2>&1 &
REMOTE_PID=$!
STANDIN_PIDS+=($REMOTE_PID)
for log in "$WORK/standin_rec.log" "$WORK/standin_norec.log" "$WORK/standin_remote.log"; do
    for _ in $(seq 100); do grep -q 'standin listening' "$log" && break; sleep 0.1; done
    grep -q 'standin listening' "$log" || { echo "a stand-in did not start" >&2; exit 1; }
done
REC_URL=http://127.0.0.1:$REC_PORT
NOREC_URL=http://127.0.0.1:$NOREC_PORT
REMOTE_URL=http://127.0.0.1:$REMOTE_PORT

step "start throwaway cluster on port $BYO_PGPORT"
# The encryption key is generated here and only ever written to the throwaway cluster's postgresql.conf.
cluster_start "byo_twilio.encryption_key = 'k1:$(openssl rand -hex 32)'
byo_twilio.api_base_url = '$REC_URL'
byo_twilio.conversations_base_url = '$REC_URL'
byo_twilio.messaging_base_url = '$REC_URL'
byo_twilio.max_segments_per_second = 100000
# The stand-in's fixture tokens are passed unsealed (as in the test suites).
byo_twilio.accept_plaintext_tokens = on
shared_preload_libraries = 'byo_twilio,pg_cron,pg_stat_statements'
pg_stat_statements.track = none
autovacuum = off
jit = off"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d postgres)
"${PSQL[@]}" -f sql/byo_twilio_auth_compat.sql >/dev/null
"${PSQL[@]}" -c 'CREATE EXTENSION byo_twilio' -c 'CREATE EXTENSION pg_stat_statements'
for _ in $(seq 50); do
    [ -n "$("${PSQL[@]}" -At -c 'SELECT twilio.dispatcher_pid()')" ] && break
    sleep 0.1
done
[ -n "$("${PSQL[@]}" -At -c 'SELECT twilio.dispatcher_pid()')" ] || { echo "the dispatcher is not running" >&2; exit 1; }

step "connect a user's Twilio account (stand-in), and set up the naive alternative"
# Tokens come from the fixtures into the environment, and reach psql through \getenv: never argv, never printed.
eval "$(node test/lib/fixture_env.js test/standin/fixtures.json)"
BENCH_USER=00000000-0000-0000-0000-0000000d15a7
"${PSQL[@]}" -c "INSERT INTO auth.users (id, email) VALUES ('$BENCH_USER', 'bench@example.com')"
"${PSQL[@]}" >/dev/null <<SQL
\getenv sid ALICE_SID
\getenv token ALICE_TOKEN
SET ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"sub": "$BENCH_USER", "role": "authenticated"}', false);
SELECT account_sid FROM twilio.save_settings(:'sid', :'token', 'ISa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1',
                                             'MGa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', '+15005550006');
SQL
# Users of their own accounts, for the many-accounts rows (the benchmark's tokens are not secrets).
MANY_USERS=
for i in $(seq "$ACCOUNTS"); do
    hex=$(printf '%04x' "$i")
    uid=00000000-0000-0000-0000-00000b${hex}00
    "${PSQL[@]}" >/dev/null <<SQL
INSERT INTO auth.users (id, email) VALUES ('$uid', 'bench$i@example.com');
SET ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"sub": "$uid", "role": "authenticated"}', false);
SELECT account_sid FROM twilio.save_settings('ACbe00000000000000000000000000${hex}', 'be00000000000000000000000000${hex}',
                                             NULL, 'MGbe00000000000000000000000000${hex}', '+1500556$(printf '%04d' "$i")');
SQL
    MANY_USERS=${MANY_USERS:+$MANY_USERS,}$uid
done
"${PSQL[@]}" -v have_pgsql_http=$HAVE_PGSQL_HTTP -v have_c_model=$HAVE_C_MODEL -v have_plpython=$HAVE_PLPYTHON \
    -v c_model_so="$C_MODEL_SO" -f bench/dispatch_naive.sql
"${PSQL[@]}" <<SQL
\getenv sid ALICE_SID
\getenv token ALICE_TOKEN
INSERT INTO dispatch_naive.account (id, base_url, account_sid, auth_token, messaging_service_sid)
VALUES (1, '$REC_URL', :'sid', :'token', 'MGa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1');
SQL
NAIVE_IMPLS=()
[ "$HAVE_PGSQL_HTTP" = true ] && NAIVE_IMPLS+=("pgsql_http|naive: pgsql-http http() per message")
[ "$HAVE_C_MODEL" = true ] && NAIVE_IMPLS+=("c_model|naive: libcurl POST per message (pgsql-http model)")
[ "$HAVE_PLPYTHON" = true ] && NAIVE_IMPLS+=("plpython|naive: PL/Python urllib POST per message")
use_naive() { "${PSQL[@]}" -c "SELECT dispatch_naive.define_send_sms('dispatch_naive.http_post_form_$1')" >/dev/null; }

# ---- measurements -------------------------------------------------------------------------------------------------
S1="Loopback stand-in answering at once (the machine's floor)"
S2="Stand-in answering after $REMOTE_MS ms (like a remote API)"
set_base_url() {  # $1: the stand-in the dispatcher talks to
    "${PSQL[@]}" >/dev/null <<SQL
ALTER SYSTEM SET byo_twilio.api_base_url = '$1';
ALTER SYSTEM SET byo_twilio.conversations_base_url = '$1';
ALTER SYSTEM SET byo_twilio.messaging_base_url = '$1';
SELECT pg_reload_conf();
SQL
}
# $1 scenario, $2 implementation|label, $3 sessions, $4 messages, $5 stand-in URL
naive_pgbench() {
    local logdir=$WORK/pgbench_$RANDOM t0 t1
    mkdir -p "$logdir"
    "${PSQL[@]}" -c "UPDATE dispatch_naive.account SET base_url = '$5'" -c "TRUNCATE dispatch_naive.messages" >/dev/null
    step "$1: ${2#*|}, pgbench, $3 session(s), $4 messages, one per transaction"
    t0=$(date +%s%N)
    timeout 150 pgbench -n -f bench/dispatch_naive_pgbench.sql -c "$3" -j "$(($3 < 2 ? 1 : 2))" -t $(($4 / $3)) \
        -l --log-prefix="$logdir/log" postgres >"$WORK/pgbench.out" 2>&1 || { cat "$WORK/pgbench.out" >&2; exit 1; }
    t1=$(date +%s%N)
    "${BENCH_JS[@]}" pgbench --scenario "$1" --label "${2#*|}, $3 session(s), one message per transaction" \
        --clients "$3" --n "$4" --log-dir "$logdir" --stdout-file "$WORK/pgbench.out" \
        --elapsed-ms $(((t1 - t0) / 1000000)) --out "$RESULTS"
}
ours_throughput() {  # $1 scenario, $2 label, then throughput options
    local scenario=$1 label=$2
    shift 2
    step "$scenario: $label"
    timeout 280 node bench/dispatch_bench.js throughput --scenario "$scenario" --label "$label" --user "$BENCH_USER" \
        --out "$RESULTS" "$@"
}

set_base_url "$REC_URL"
step "$S1: latency, ours, $LATENCY_N sequential transactions 20 ms apart"
"${BENCH_JS[@]}" latency --scenario "$S1" --impl ours --label "ours: transactions 20 ms apart" --n "$LATENCY_N" \
    --gap-ms 20 --standin "$REC_URL" --user "$BENCH_USER" --out "$RESULTS"
step "$S1: latency, ours, $LATENCY_N sequential transactions back to back"
"${BENCH_JS[@]}" latency --scenario "$S1" --impl ours --label "ours: transactions back to back" --n "$LATENCY_N" \
    --gap-ms 0 --standin "$REC_URL" --user "$BENCH_USER" --out "$RESULTS"
for entry in "${NAIVE_IMPLS[@]}"; do
    use_naive "${entry%%|*}"
    step "$S1: latency, ${entry#*|}"
    "${BENCH_JS[@]}" latency --scenario "$S1" --impl naive --label "${entry#*|}" --n "$LATENCY_N" --gap-ms 0 \
        --standin "$REC_URL" --out "$RESULTS"
done

set_base_url "$NOREC_URL"
NOREC=(--standin "$NOREC_URL" --standin-pid "$NOREC_PID")
ours_throughput "$S1" "ours: default settings, **fresh database** (no statistics on the outbox tables yet)" \
    --concurrency 32 --cap 16 --n "$N" --reps 3 --stats none "${NOREC[@]}"
ours_throughput "$S1" "ours: default settings, outbox analyzed with the backlog in it" \
    --concurrency 32 --cap 16 --n "$N" --reps 3 --stats fresh "${NOREC[@]}"
for c in $CONCURRENCY; do
    ours_throughput "$S1" "ours: concurrency $c" --concurrency "$c" --cap 1000 --n "$N" --reps 3 --stats fresh "${NOREC[@]}"
done
ours_throughput "$S1" "ours: default settings (concurrency 32, max_concurrent_per_account 16)" \
    --concurrency 32 --cap 16 --n "$N_SMALL" --stats fresh "${NOREC[@]}"
for n in $((N_SMALL / 2)) "$N_SMALL"; do
    ours_throughput "$S1" "ours: concurrency 32, **stale statistics** (outbox analyzed between bursts)" \
        --concurrency 32 --cap 1000 --n "$n" --stats stale "${NOREC[@]}"
done
for entry in "${NAIVE_IMPLS[@]}"; do
    use_naive "${entry%%|*}"
    step "$S1: ${entry#*|}, $N in one transaction"
    "${BENCH_JS[@]}" naive-batch --scenario "$S1" --label "${entry#*|}, 1 session, all in one transaction" --n "$N" \
        "${NOREC[@]}" --out "$RESULTS"
    naive_pgbench "$S1" "$entry" 1 "$N" "$NOREC_URL"
    naive_pgbench "$S1" "$entry" "$PARALLEL" "$N" "$NOREC_URL"
done

step "profiles (pg_stat_statements)"
"${BENCH_JS[@]}" idle --scenario "$S1" --seconds 3 --out "$RESULTS"
set_base_url "$REC_URL"
"${BENCH_JS[@]}" latency --scenario "$S1" --impl ours --label "latency, ours, transactions back to back" \
    --n "$LATENCY_N" --gap-ms 0 --standin "$REC_URL" --user "$BENCH_USER" --profile 1 --out "$RESULTS"
set_base_url "$NOREC_URL"
ours_throughput "$S1" "throughput, ours, concurrency 32, fresh statistics, $N messages" \
    --concurrency 32 --cap 1000 --n "$N" --stats fresh --profile 1 "${NOREC[@]}"
ours_throughput "$S1" "throughput, ours, concurrency 32, stale statistics, $N_SMALL messages" \
    --concurrency 32 --cap 1000 --n "$N_SMALL" --stats stale --profile 1 "${NOREC[@]}"

set_base_url "$REMOTE_URL"
REMOTE=(--standin "$REMOTE_URL" --standin-pid "$REMOTE_PID")
step "$S2: latency, ours"
"${BENCH_JS[@]}" latency --scenario "$S2" --impl ours --label "ours: transactions 20 ms apart" \
    --n "$REMOTE_LATENCY_N" --gap-ms 20 --standin "$REMOTE_URL" --user "$BENCH_USER" --out "$RESULTS"
use_naive "${NAIVE_IMPLS[0]%%|*}"
step "$S2: latency, ${NAIVE_IMPLS[0]#*|}"
"${BENCH_JS[@]}" latency --scenario "$S2" --impl naive --label "${NAIVE_IMPLS[0]#*|}" --n "$REMOTE_NAIVE_N" \
    --gap-ms 0 --standin "$REMOTE_URL" --out "$RESULTS"
ours_throughput "$S2" "ours: default settings (concurrency 32, max_concurrent_per_account 16), 1 account" \
    --concurrency 32 --cap 16 --n "$N_SMALL" --stats fresh "${REMOTE[@]}"
ours_throughput "$S2" "ours: default settings, $ACCOUNTS accounts (one user each)" \
    --concurrency 32 --cap 16 --n "$N_SMALL" --stats fresh --user "$MANY_USERS" "${REMOTE[@]}"
for c in $REMOTE_CONCURRENCY; do
    ours_throughput "$S2" "ours: concurrency $c" --concurrency "$c" --cap 1000 --n "$N_SMALL" --stats fresh "${REMOTE[@]}"
done
naive_pgbench "$S2" "${NAIVE_IMPLS[0]}" "$PARALLEL" "$((REMOTE_NAIVE_N * PARALLEL))" "$REMOTE_URL"

# ---- report -------------------------------------------------------------------------------------------------------
step "report"
cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -1)
echo "### Machine"
echo
echo "- CPUs (nproc): $(nproc); CPU model: ${cpu:-unknown}; load average (1, 5, 15 min) before the run: $LOADAVG, after it: $(cut -d" " -f1-3 /proc/loadavg)"
echo "- PostgreSQL: $("${PSQL[@]}" -At -c 'SELECT version()')"
echo "- byo_twilio: $("${PSQL[@]}" -At -c "SELECT extversion FROM pg_extension WHERE extname = 'byo_twilio'"); libcurl $(curl-config --version 2>/dev/null | sed 's/libcurl //' || echo '?'); node $(node --version)"
echo "- naive HTTP: pgsql-http $HAVE_PGSQL_HTTP, C model $HAVE_C_MODEL, PL/Python $HAVE_PLPYTHON"
echo "- latency rows: $LATENCY_N measured transactions after 10 warm-up ones ($REMOTE_LATENCY_N and $REMOTE_NAIVE_N with the slow stand-in)"
echo
node bench/dispatch_bench.js report --out "$RESULTS"
step "done"
