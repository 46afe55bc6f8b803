#!/usr/bin/env bash
# Browser tests of web/: Debian's chromium driven by npm playwright-core, with axe-core, against the real relay API.
# Installs what is missing (chromium with apt-get, the npm packages with npm ci), then either
#   - uses a running relay: WEB_RELAY_URL, WEB_JWT_SECRET and PGHOST/PGPORT of its cluster (test/run.sh's case), or
#   - starts its own: the Twilio stand-in, a throwaway cluster (test/lib/cluster.sh) with byo_twilio, an API login
#     role shaped like PostgREST's authenticator, and build/byo-twilio-relay (build it and `make install` first).
# Prints "web: N passed, M failed"; exits non-zero on any failure. Screenshots: web/test/screenshots/.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
fail() { echo "$1"; echo "web: 0 passed, 1 failed"; exit 1; }

if [ ! -x /usr/bin/chromium ]; then
    echo "installing chromium"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
        || fail "could not install chromium"
fi
if [ ! -d "$HERE/node_modules/playwright-core" ] || [ ! -d "$HERE/node_modules/axe-core" ] || [ ! -d "$HERE/node_modules/jose" ]; then
    echo "installing npm packages for web/test"
    (cd "$HERE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null) || fail "npm ci failed"
fi

if [ -n "${WEB_RELAY_URL:-}" ]; then
    [ -n "${WEB_JWT_SECRET:-}" ] || fail "WEB_RELAY_URL is set but WEB_JWT_SECRET is not"
    node "$HERE/web_test.js" --relay "$WEB_RELAY_URL"
    exit $?
fi

# Our own stack.
: "${RELAY_PORT:=4031}" "${STANDIN_PORT:=4020}" "${STANDIN_TLS_PORT:=4021}"
RELAY_BIN=${RELAY_BIN:-$ROOT/build/byo-twilio-relay}
[ -x "$RELAY_BIN" ] || fail "no relay at $RELAY_BIN (cmake -S . -B build && cmake --build build --target byo-twilio-relay)"
WORK=$(mktemp -d /tmp/byo_web_test.XXXXXX)
cd "$ROOT" || exit 1
export BYO_TEST_DIR=$ROOT/test
source test/lib/cluster.sh
source test/lib/standins.sh
RELAY_PID=''
cleanup() {
    [ -n "$RELAY_PID" ] && { kill "$RELAY_PID" 2>/dev/null; wait "$RELAY_PID" 2>/dev/null; }
    cluster_remove
    standins_stop
    [ "${KEEP:-no}" = yes ] || rm -rf "$WORK"
}
trap cleanup EXIT

standins_start "$WORK/standins" no || fail "stand-in did not start"
cluster_start "byo_twilio.encryption_key = 'k1:$(openssl rand -hex 32)'
byo_twilio.api_base_url = 'http://127.0.0.1:$STANDIN_PORT'
byo_twilio.conversations_base_url = 'http://127.0.0.1:$STANDIN_PORT'
byo_twilio.messaging_base_url = 'http://127.0.0.1:$STANDIN_PORT'
byo_twilio.http_timeout_ms = 5000
byo_twilio.webhook_base_url = 'http://127.0.0.1:$RELAY_PORT'
cron.use_background_workers = on" || fail "cluster did not start"
psql -X -q -v ON_ERROR_STOP=1 -d postgres -f sql/byo_twilio_auth_compat.sql >/dev/null || fail "compat script failed"
psql -X -q -v ON_ERROR_STOP=1 -d postgres \
    -c "CREATE EXTENSION byo_twilio" \
    -c "CREATE ROLE byo_web_api LOGIN NOINHERIT" -c "GRANT anon, authenticated TO byo_web_api" \
    -c "CREATE ROLE byo_web_hooks LOGIN" -c "GRANT USAGE ON SCHEMA twilio TO byo_web_hooks" \
    -c "GRANT EXECUTE ON FUNCTION twilio.handle_webhook(text, text, text, text) TO byo_web_hooks" >/dev/null \
    || fail "database setup failed"

export WEB_JWT_SECRET=$(openssl rand -hex 32)
BYO_TWILIO_DATABASE_URL="host=$PGHOST port=$PGPORT user=byo_web_hooks dbname=postgres" \
BYO_TWILIO_PUBLIC_URL=http://127.0.0.1:$RELAY_PORT BYO_TWILIO_LISTEN=127.0.0.1:$RELAY_PORT \
BYO_TWILIO_API_DATABASE_URL="host=$PGHOST port=$PGPORT user=byo_web_api dbname=postgres" \
BYO_TWILIO_JWT_SECRET=$WEB_JWT_SECRET BYO_TWILIO_WEB_DIR=$ROOT/web BYO_TWILIO_API_RATE=1000 BYO_TWILIO_API_BURST=1000 \
    "$RELAY_BIN" >"$WORK/relay.log" 2>&1 &
RELAY_PID=$!
wait_for_port "$RELAY_PORT" 30 || { cat "$WORK/relay.log"; fail "relay did not start"; }
kill -0 "$RELAY_PID" 2>/dev/null || { cat "$WORK/relay.log"; fail "relay exited (port taken?)"; }

node "$HERE/web_test.js" --relay "http://127.0.0.1:$RELAY_PORT"
rc=$?
[ "$rc" = 0 ] || { echo "# relay log:"; tail -30 "$WORK/relay.log"; }
exit "$rc"
