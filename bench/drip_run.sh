#!/usr/bin/env bash
# Drip benchmark: twilio.drip_tick and twilio.analytics against what a user would write by hand, in one run:
#   - a tick over 1,000 due enrollments with 100,000 and with 1,000,000 enrolled (its cost should follow the due
#     rows), over 100 due and over 10,000 due with 1,000,000 enrolled; the hand-written alternative is the
#     command a pg_cron job would run: one SQL statement that scans the enrollments for due rows, renders with
#     replace(), writes an outbox row each and advances them (bench/drip_setup.sql, drip_naive.tick);
#   - analytics over one user's 1,000,000 messages for 30 days against a GROUP BY over the messages table.
# Tables are filled with generate_series as a superuser. Nothing is sent: the benchmark runs in its own database
# while the dispatcher serves `postgres` (byo_twilio.database), and every base URL points at a closed port anyway.
# Builds and installs the extension, starts a throwaway cluster (always removed), prints the machine and a
# Markdown table of medians. Needs root (the cluster runs as the postgres OS user). About 5 minutes on 2 cores.
#
# Environment: DRIP_ROUNDS (rounds per scenario and implementation, default 7), BYO_PGPORT (default 54395).
# Usage: bash bench/drip_run.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

ROUNDS=${DRIP_ROUNDS:-7}
export BYO_PGPORT=${BYO_PGPORT:-54395}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "DRIP_ROUNDS must be a positive integer" >&2; exit 2; }
[ "$ROUNDS" -le 40 ] || { echo "DRIP_ROUNDS must be at most 40 (the rounds use distinct enrollments)" >&2; exit 2; }
LOG=$(mktemp -d /tmp/byo_twilio_drip_bench.XXXXXX)
START_S=$SECONDS
LOADAVG=$(cut -d" " -f1-3 /proc/loadavg)
step() { printf '== %s (%ds)\n' "$*" $((SECONDS - START_S)) >&2; }

step "build and install"
if ! { make -s -j2 && make -s install; } >"$LOG/make.log" 2>&1; then
    tail -40 "$LOG/make.log" >&2
    echo "build failed" >&2
    exit 1
fi

source test/lib/cluster.sh
cleanup() {
    local rc=$?
    if [ "$rc" -ne 0 ] && [ -n "${BYO_CLUSTER_DIR:-}" ] && [ -f "$BYO_CLUSTER_DIR/server.log" ]; then
        echo "-- server log (last lines):" >&2
        tail -20 "$BYO_CLUSTER_DIR/server.log" >&2 || true
    fi
    cluster_remove || true
    rm -rf "$LOG"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "start throwaway cluster on port $BYO_PGPORT"
# Port 9 (discard) is closed on loopback: were anything to be dispatched, it would fail to connect, not be sent.
cluster_start "byo_twilio.encryption_key = 'k1:$(openssl rand -hex 32)'
byo_twilio.database = 'postgres'
byo_twilio.api_base_url = 'http://127.0.0.1:9'
byo_twilio.conversations_base_url = 'http://127.0.0.1:9'
byo_twilio.messaging_base_url = 'http://127.0.0.1:9'
autovacuum = off
jit = off
shared_buffers = '512MB'
max_wal_size = '4GB'"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d drip_bench)
createdb drip_bench
"${PSQL[@]}" -f sql/byo_twilio_auth_compat.sql >/dev/null
"${PSQL[@]}" -c 'CREATE EXTENSION byo_twilio' -f bench/drip_setup.sql
PICKS=$(((ROUNDS + 1) * (1000 * 2 + 10000 + 100)))  # one warm-up round per scenario
fill() {  # $1 lo, $2 hi
    step "fill enrollments $1..$2 (ours and the hand-written table)"
    "${PSQL[@]}" -c "CALL bench.fill($1, $2, $PICKS)" \
        -c "VACUUM ANALYZE twilio.enrollments, drip_naive.enrollments, bench.pick"
}
ticks() {  # $1 scenario, $2 due, $3 first k
    step "$1, $2 due: a warm-up round, then $ROUNDS rounds each, taking turns"
    "${PSQL[@]}" -c "CALL bench.time_ticks('$1', $2, $ROUNDS, $3)"
}
k=1
fill 1 100000
ticks "tick" 1000 $k; k=$((k + (ROUNDS + 1) * 1000))
fill 100001 1000000
ticks "tick" 1000 $k; k=$((k + (ROUNDS + 1) * 1000))
ticks "tick" 100 $k; k=$((k + (ROUNDS + 1) * 100))
ticks "tick, all due at once" 10000 $k; k=$((k + (ROUNDS + 1) * 10000))

step "analytics: fill one user's 1,000,000 messages over 30 days, then $ROUNDS rounds each"
ANSWER=$("${PSQL[@]}" -At -v rounds="$ROUNDS" -f bench/drip_analytics.sql)

step "report"
cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -1)
echo "### Machine"
echo
echo "- CPUs (nproc): $(nproc); CPU model: ${cpu:-unknown}; load average before the run: $LOADAVG"
echo "- PostgreSQL: $("${PSQL[@]}" -At -c 'SELECT version()')"
echo "- byo_twilio: $("${PSQL[@]}" -At -c "SELECT extversion FROM pg_extension WHERE extname = 'byo_twilio'")"
echo "- analytics (rows, messages counted, both answers equal): $ANSWER"
echo
"${PSQL[@]}" -f bench/drip_report.sql
step "done"
