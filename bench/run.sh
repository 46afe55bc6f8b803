#!/usr/bin/env bash
# Benchmarks byo_twilio's SQL functions against what a user would otherwise write with pgcrypto, in one run:
#   - twilio.validate_signature vs a PL/pgSQL + pgcrypto validator and a bare hmac() call;
#   - token decrypt (twilio._token_mask) vs pgp_sym_decrypt and raw decrypt_iv.
# Builds and installs the extension, starts a throwaway cluster (always removed), prints the machine and a
# Markdown table of median µs/call, calls/s and time relative to ours. Needs root (the cluster runs as the
# postgres OS user), pg_config for PostgreSQL 15, openssl and pgcrypto (postgresql-contrib).
#
# Environment: BENCH_REPS (runs per case, default 5), BENCH_TARGET_S (seconds per run, default 1.2),
#              BENCH_TIMEOUT_S (hard limit for the timed part, default 150), BYO_PGPORT (default 54391).
# Usage: bash bench/run.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

REPS=${BENCH_REPS:-5}
TARGET_S=${BENCH_TARGET_S:-1.2}
TIMEOUT_S=${BENCH_TIMEOUT_S:-150}
export BYO_PGPORT=${BYO_PGPORT:-54391}
[[ $REPS =~ ^[1-9][0-9]*$ ]] || { echo "BENCH_REPS must be a positive integer" >&2; exit 2; }
[[ $TARGET_S =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "BENCH_TARGET_S must be a number of seconds" >&2; exit 2; }
[[ $TIMEOUT_S =~ ^[1-9][0-9]*$ ]] || { echo "BENCH_TIMEOUT_S must be a positive integer" >&2; exit 2; }

LOG=$(mktemp -d /tmp/byo_twilio_bench.XXXXXX)

echo "== build and install" >&2
if ! { make -s -j"$(nproc)" && make -s install; } >"$LOG/make.log" 2>&1; then
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

echo "== start throwaway cluster on port $BYO_PGPORT" >&2
# The encryption key is generated here and only ever written to the throwaway cluster's postgresql.conf.
cluster_start "byo_twilio.encryption_key = 'k1:$(openssl rand -hex 32)'
jit = off
max_parallel_workers_per_gather = 0"

PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d byo_bench)
createdb byo_bench
"${PSQL[@]}" -f sql/byo_twilio_auth_compat.sql >/dev/null
"${PSQL[@]}" -c 'CREATE EXTENSION pgcrypto; CREATE EXTENSION byo_twilio;'

cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -1)
pgver=$("${PSQL[@]}" -At -c 'SELECT version()')
extver=$("${PSQL[@]}" -At -c "SELECT extversion FROM pg_extension WHERE extname = 'byo_twilio'")
echo "== machine"
echo "- CPUs (nproc): $(nproc)"
echo "- CPU model: ${cpu:-unknown}"
echo "- PostgreSQL: $pgver"
echo "- byo_twilio: $extver"
echo "- method: $REPS runs per case, N calibrated for ~${TARGET_S}s per run, median reported"

echo "== run (bounded to ${TIMEOUT_S}s)" >&2
VARS=(-v reps="$REPS" -v target_s="$TARGET_S")
timeout --signal=TERM "$TIMEOUT_S" "${PSQL[@]}" "${VARS[@]}" \
    -f bench/setup.sql -f bench/signature_bench.sql -f bench/token_bench.sql

echo "== results"
"${PSQL[@]}" -f bench/report.sql
