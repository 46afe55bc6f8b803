#!/usr/bin/env bash
# The relay's spool (BYO_TWILIO_SPOOL_DIR) end to end: webhooks that arrive while PostgreSQL is down are kept on
# disk, answered 200, and stored once when it is back. Real HTTP into byo-twilio-relay, signed by the official
# `twilio` helper library (test/e2e/spool_client.js), retried as Twilio retries a URL with get_settings()'s
# connection overrides.
#   1. PostgreSQL stopped for a minute (until the spool holds SPOOL_TEST_RATE * 60 webhooks) under a steady
#      stream of signed webhooks, then started: every webhook sent is stored once, none lost.
#   2. The relay killed (SIGKILL) with a non-empty spool, PostgreSQL started, the relay started again: the spool
#      is replayed once; a forged webhook spooled during the outage is dropped on replay, logged without secrets;
#      an unsigned one is not spooled (503); an undecodable file goes to dead/ and the rest is replayed.
#      A second relay on the same spool directory refuses to start.
#   3. A full spool (BYO_TWILIO_SPOOL_MAX_MB=1): 503 with Retry-After, as without a spool.
# Runs against the cluster test/run.sh started, after pg_regress (60_outbound connected ann). Needs PGHOST,
# PGPORT, BYO_CLUSTER_DIR (run as root: the cluster runs as the postgres OS user). Optional: RELAY_PORT (4031;
# RELAY_PORT + 1 too), RELAY_BIN, SPOOL_WORK_DIR (kept), SPOOL_TEST_RATE (webhooks per second, 10),
# SPOOL_TEST_TIMEOUT (900 s: a watchdog against a hang, never a timing check).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1

RELAY_PORT=${RELAY_PORT:-4031}
RELAY_BIN=${RELAY_BIN:-$ROOT/build/byo-twilio-relay}
RELAY=http://127.0.0.1:$RELAY_PORT
RELAY2=http://127.0.0.1:$((RELAY_PORT + 1))
PUBLIC_URL=https://relay.example.test   # = byo_twilio.webhook_base_url in test/run.sh
CLIENT=$ROOT/test/e2e/spool_client.js
ROLE=byo_twilio_relay
ANN=00000000-0000-0000-0000-00000000aa01
RATE=${SPOOL_TEST_RATE:-10}
PG_BIN=$(pg_config --bindir)
RUN=$(openssl rand -hex 4)
NUM=$(printf '%04d' $((16#$RUN % 10000)))
SENDER=+1415558$NUM

passed=0 failed=0
check() {  # $1 description, $2 expected, $3 actual
    if [ "$2" = "$3" ]; then passed=$((passed + 1)); echo "ok - $1"
    else failed=$((failed + 1)); echo "not ok - $1: expected $2, got $3"; fi
}
fail() { failed=$((failed + 1)); echo "not ok - $1"; }
finish() { echo "spool: $passed passed, $failed failed"; [ "$failed" = 0 ]; exit $?; }
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d postgres "$@"; }
as_user() { { echo "SET ROLE authenticated; SET request.jwt.claims = '{\"sub\": \"$1\"}';"; cat; } | psql -X -q -t -A -d postgres 2>/dev/null; }
wait_for() {  # DESCRIPTION SECONDS CONDITION: polls the condition (an event), at most SECONDS
    local end=$((SECONDS + $2))
    until eval "$3"; do
        [ "$SECONDS" -ge "$end" ] && { echo "# waited $2 s for $1: not seen"; return 1; }
        sleep 0.1
    done
}
pg_ctl_as_postgres() { runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$BYO_CLUSTER_DIR/data" "$@"; }
pg_up() { pg_ctl_as_postgres status >/dev/null 2>&1; }
pg_start() { pg_ctl_as_postgres -l "$BYO_CLUSTER_DIR/server.log" -w -t 60 start >/dev/null 2>&1; }
pg_stop() { pg_ctl_as_postgres -m fast -w -t 60 stop >/dev/null 2>&1; }
spooled() { find "$1" -maxdepth 1 -name '*.webhook' 2>/dev/null | wc -l; }
stored() {  # $1 SID prefix: "<events> <messages> <distinct message SIDs>"
    q -c "SELECT (SELECT count(*) FROM twilio.webhook_events WHERE user_id = '$ANN' AND params ->> 'MessageSid' LIKE '$1%')
                 || ' ' || count(*) || ' ' || count(DISTINCT twilio_sid)
            FROM twilio.messages WHERE user_id = '$ANN' AND twilio_sid LIKE '$1%'"
}

for v in PGHOST PGPORT BYO_CLUSTER_DIR; do
    [ -n "${!v:-}" ] || { echo "not ok - $v is not set (run from test/run.sh)"; failed=1; finish; }
done
[ -x "$RELAY_BIN" ] || { echo "not ok - no relay binary at $RELAY_BIN"; failed=1; finish; }
if [ -z "${ALICE_TOKEN:-}" ] || [ -z "${BOB_TOKEN:-}" ]; then
    eval "$(node test/lib/fixture_env.js test/standin/fixtures.json)"
fi
export ALICE_TOKEN BOB_TOKEN
if [ -n "${SPOOL_WORK_DIR:-}" ]; then WORK=$SPOOL_WORK_DIR KEEP_WORK=yes; rm -rf "$WORK"; mkdir -p "$WORK"
else WORK=$(mktemp -d /tmp/byo_spool_e2e.XXXXXX) KEEP_WORK=no; fi

RELAY_PID='' RELAY2_PID='' STREAM_PID='' WATCHDOG_PID='' ROLE_BEFORE=''
stop_pid() {  # $1 pid, $2 signal
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
    kill "-$2" "$1" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}
cleanup() {
    [ -n "$WATCHDOG_PID" ] && kill "$WATCHDOG_PID" 2>/dev/null
    touch "$WORK/stop"
    stop_pid "$STREAM_PID" TERM
    stop_pid "$RELAY_PID" TERM
    stop_pid "$RELAY2_PID" TERM
    pg_up || pg_start || echo "# could not start PostgreSQL again: see $BYO_CLUSTER_DIR/server.log"
    if [ "$ROLE_BEFORE" = none ]; then
        q -c "REVOKE ALL ON FUNCTION twilio.handle_webhook(text, text, text, text),
                                    twilio.handle_webhooks(text[], text[], text[], text[]) FROM $ROLE" \
          -c "REVOKE ALL ON SCHEMA twilio FROM $ROLE" -c "DROP ROLE $ROLE" >/dev/null 2>&1
    elif [ "$ROLE_BEFORE" = f ]; then
        q -c "ALTER ROLE $ROLE NOLOGIN PASSWORD NULL" >/dev/null 2>&1
    fi
    if [ "$failed" = 0 ] && [ "$KEEP_WORK" = no ]; then rm -rf "$WORK"; else echo "# logs kept in $WORK"; fi
}
trap cleanup EXIT
trap 'echo "not ok - stopped by SIGTERM (the watchdog sends it after ${SPOOL_TEST_TIMEOUT:-900} s)"; failed=$((failed + 1)); finish' TERM
( trap 'kill "$s" 2>/dev/null; exit 0' TERM
  sleep "${SPOOL_TEST_TIMEOUT:-900}" & s=$!
  wait "$s" && kill -TERM $$ ) &
WATCHDOG_PID=$!

# start_relay PORT LOG SPOOL_DIR [NAME=VALUE...]: a relay as the relay role; prints its pid. Returns once it
# answers /healthz (the database may be down).
start_relay() {
    local port=$1 log=$2 dir=$3
    shift 3
    (
        export BYO_TWILIO_DATABASE_URL="host=$PGHOST port=$PGPORT user=$ROLE dbname=postgres"
        export BYO_TWILIO_PUBLIC_URL=$PUBLIC_URL BYO_TWILIO_LISTEN=127.0.0.1:$port BYO_TWILIO_POOL_SIZE=2
        export BYO_TWILIO_DB_TIMEOUT_MS=2000 BYO_TWILIO_SPOOL_DIR=$dir
        for setting in "$@"; do export "$setting"; done
        exec "$RELAY_BIN"
    ) >/dev/null 2>>"$log" &
    local pid=$!
    wait_for "the relay on port $port" 30 \
        "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 http://127.0.0.1:$port/healthz)\" = 200 ]" >&2
    echo "$pid"
}

echo "# 0. the relay's role and ann's webhook URL"
ROLE_BEFORE=$(q -c "SELECT CASE WHEN rolcanlogin THEN 't' ELSE 'f' END FROM pg_roles WHERE rolname = '$ROLE'")
[ -n "$ROLE_BEFORE" ] || ROLE_BEFORE=none
if [ "$ROLE_BEFORE" = none ]; then q -c "CREATE ROLE $ROLE LOGIN" >/dev/null; else q -c "ALTER ROLE $ROLE LOGIN" >/dev/null; fi
q -c "GRANT USAGE ON SCHEMA twilio TO $ROLE" \
  -c "GRANT EXECUTE ON FUNCTION twilio.handle_webhook(text, text, text, text),
                               twilio.handle_webhooks(text[], text[], text[], text[]) TO $ROLE" >/dev/null
SMS_URL=$(echo "SELECT webhook_urls ->> 'sms' FROM twilio.get_settings();" | as_user "$ANN")
[ -n "$SMS_URL" ] || { echo "not ok - ann has no settings or no webhook URLs (run after pg_regress)"; failed=1; finish; }
IFS='|' read -r NUMBER ACCOUNT SERVICE <<<"$(q -c \
    "SELECT sms_number, account_sid, messaging_service_sid FROM twilio.user_settings WHERE user_id = '$ANN'")"
check "ann's SMS URL carries the connection overrides" yes "$([[ $SMS_URL == "$PUBLIC_URL"/twilio/*/sms#rc=* ]] && echo yes || echo no)"
PARAMS=(ToCountry=US SmsStatus=received Body="spooled while the database was away [$RUN]" FromCountry=US
        To="$NUMBER" MessagingServiceSid="$SERVICE" NumSegments=1 AccountSid="$ACCOUNT" From="$SENDER"
        ApiVersion=2010-04-01 MessageSid=x SmsSid=x SmsMessageSid=x NumMedia=0)
LOG=$WORK/relay.log
RELAY_PID=$(start_relay "$RELAY_PORT" "$LOG" "$WORK/spool")
check "relay with a spool started" yes "$(kill -0 "$RELAY_PID" 2>/dev/null && echo yes || echo no)"

echo "# 1. PostgreSQL stopped for a minute under a steady stream of $RATE signed webhooks a second, then started"
PREFIX=SM${RUN}a1
OUTAGE=$((RATE * 60))
node "$CLIENT" stream --relay "$RELAY" --base "$PUBLIC_URL" --url "$SMS_URL" --token-env ALICE_TOKEN \
    --sid-prefix "$PREFIX" --rate "$RATE" --stop-file "$WORK/stop" "${PARAMS[@]}" >"$WORK/stream.json" 2>"$WORK/stream.err" &
STREAM_PID=$!
wait_for "the first 20 webhooks stored" 60 '[ "$(stored "$PREFIX" | cut -d" " -f1)" -ge 20 ]'
check "database up: webhooks stored as they come, nothing spooled" "yes 0" \
    "$([ "$(stored "$PREFIX" | cut -d' ' -f1)" -ge 20 ] && echo yes || echo no) $(spooled "$WORK/spool")"
if pg_stop; then check "PostgreSQL stopped" yes yes; else fail "pg_ctl stop failed"; fi
down_at=$SECONDS
wait_for "$OUTAGE webhooks in the spool" 240 '[ "$(spooled "$WORK/spool")" -ge "$OUTAGE" ]'
outage_spooled=$(spooled "$WORK/spool")
echo "# database down for $((SECONDS - down_at)) s: $outage_spooled webhooks spooled"
check "database down: webhooks answered 200 and spooled (at least $OUTAGE)" yes \
    "$([ "$outage_spooled" -ge "$OUTAGE" ] && echo yes || echo no)"
check "spool directory 0700, its files 0600" "700 600" \
    "$(stat -c %a "$WORK/spool") $(find "$WORK/spool" -name '*.webhook' -printf '%m\n' | sort -u | tr '\n' ' ' | xargs)"
check "a spool file holds no token" 0 "$(grep -rlF -e "$ALICE_TOKEN" -e "$BOB_TOKEN" "$WORK/spool" | wc -l)"
if pg_start; then check "PostgreSQL started again" yes yes; else fail "PostgreSQL did not start again"; fi
wait_for "the spool drained" 240 '[ "$(spooled "$WORK/spool")" = 0 ]'
check "database back: the spool drained into the database" 0 "$(spooled "$WORK/spool")"
# A few more after the replay, straight to the database again; then the stream ends.
after=$(($(stored "$PREFIX" | cut -d' ' -f1) + 20))
wait_for "20 more webhooks stored" 60 '[ "$(stored "$PREFIX" | cut -d" " -f1)" -ge "$after" ]'
touch "$WORK/stop"
wait "$STREAM_PID"
STREAM_PID=
summary=$(cat "$WORK/stream.json")
echo "# stream: $summary"
field() { node -e 'const o=JSON.parse(process.argv[1]); const v=o[process.argv[2]]; console.log(typeof v === "object" ? JSON.stringify(v) : v)' "$summary" "$1"; }
sent=$(field sent)
wait_for "every webhook sent stored" 120 '[ "$(stored "$PREFIX")" = "$sent $sent $sent" ]'
got=$(stored "$PREFIX")
echo "# webhooks sent: $sent; stored (events, messages, distinct SIDs): $got; first answers: $(field first_answers)"
check "every webhook answered 2xx in the end, none lost" "$sent []" "$(field ok) $(field lost)"
check "every webhook sent stored once: events, messages, distinct SIDs" "$sent $sent $sent" "$got"
check "log: the spool waited for the database, then drained" "yes yes" \
    "$(grep -q '"event":"spool_waiting"' "$LOG" && echo yes || echo no) $(grep -q '"event":"spool_drained"' "$LOG" && echo yes || echo no)"

echo "# 2. relay killed (SIGKILL) with a non-empty spool, restarted: the spool replayed once; a forged one dropped"
PREFIX2=SM${RUN}b2
if pg_stop; then check "PostgreSQL stopped" yes yes; else fail "pg_ctl stop failed"; fi
answers=''
for i in 1 2 3 4 5; do
    answers+="$(node "$CLIENT" one --relay "$RELAY" --base "$PUBLIC_URL" --url "$SMS_URL" --token-env ALICE_TOKEN \
                 --sid "${PREFIX2}0000000000000000000000$i" "${PARAMS[@]}" | cut -d' ' -f1) "
done
forged_sid=${PREFIX2}ff0000000000000000000000
forged=$(node "$CLIENT" one --relay "$RELAY" --base "$PUBLIC_URL" --url "$SMS_URL" --token-env BOB_TOKEN \
         --sid "$forged_sid" "${PARAMS[@]}" | cut -d' ' -f1)
check "database down: 5 webhooks and a forged one (ben's token, ann's URL) answered 200, spooled" "200 200 200 200 200 200 6" \
    "$answers$forged $(spooled "$WORK/spool")"
unsigned=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d 'Body=x' "$RELAY${SMS_URL#"$PUBLIC_URL"}")
check "database down: a webhook without X-Twilio-Signature answered 503, not spooled" "503 6" \
    "$unsigned $(spooled "$WORK/spool")"
kill -KILL "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null; RELAY_PID=
check "relay killed: the spool is still there" 6 "$(spooled "$WORK/spool")"
# A file that cannot be decoded, oldest of all: set aside in dead/, and the replay goes on behind it.
printf 'not a spool file\n' >"$WORK/spool/00000000000000000000.webhook"
if pg_start; then check "PostgreSQL started again" yes yes; else fail "PostgreSQL did not start again"; fi
RELAY_PID=$(start_relay "$RELAY_PORT" "$LOG" "$WORK/spool")
wait_for "the spool replayed after the restart" 60 '[ "$(spooled "$WORK/spool")" = 0 ]'
wait_for "the 5 webhooks stored" 30 '[ "$(stored "$PREFIX2")" = "5 5 5" ]'
check "restarted relay: the 5 spooled webhooks stored once each, the forged one not at all" "5 5 5 0" \
    "$(stored "$PREFIX2") $(q -c "SELECT count(*) FROM twilio.webhook_events WHERE params ->> 'MessageSid' = '$forged_sid'")"
check "the undecodable file moved to dead/, logged and counted in /metrics" "1 1 1" \
    "$(find "$WORK/spool/dead" -name '*.webhook' | wc -l) $(grep -c '"event":"spool_dead_letter"' "$LOG") $(
       curl -s "$RELAY/metrics" | sed -n 's/^byo_twilio_relay_spool_dead_lettered_total //p')"
# The start line comes after the replay thread started: it may already have set the undecodable file aside.
check "restarted relay: its start line counted the 6 spooled (7 files before the undecodable one went)" yes \
    "$(grep '"event":"start"' "$LOG" | tail -1 | node -e 'console.log([6, 7].includes(JSON.parse(require("fs").readFileSync(0,"utf8")).spooled) ? "yes" : "no")')"
check "the forged webhook dropped on replay, logged with its status only (one line)" "1 403" \
    "$(grep -c '"event":"spool_dropped"' "$LOG") $(grep '"event":"spool_dropped"' "$LOG" |
       node -e 'const o=JSON.parse(require("fs").readFileSync(0,"utf8")); console.log(o.status, Object.keys(o).filter(k => !["ts","event","seq","status"].includes(k)).join(","))' | xargs)"
stop_pid "$RELAY_PID" TERM; RELAY_PID=
RELAY_PID=$(start_relay "$RELAY_PORT" "$LOG" "$WORK/spool")
check "started once more: nothing left to replay, nothing stored twice" "0 5 5 5" \
    "$(grep '"event":"start"' "$LOG" | tail -1 | node -e 'console.log(JSON.parse(require("fs").readFileSync(0,"utf8")).spooled)') $(stored "$PREFIX2")"

( export BYO_TWILIO_DATABASE_URL="host=$PGHOST port=$PGPORT user=$ROLE dbname=postgres"
  export BYO_TWILIO_PUBLIC_URL=$PUBLIC_URL BYO_TWILIO_LISTEN=127.0.0.1:$((RELAY_PORT + 2)) BYO_TWILIO_SPOOL_DIR=$WORK/spool
  exec timeout 20 "$RELAY_BIN" ) >/dev/null 2>"$WORK/relay3.log"
check "a second relay on the same spool directory refuses to start (exit 2, config_error)" "2 yes" \
    "$? $(grep -q '"event":"config_error".*another relay uses this spool directory' "$WORK/relay3.log" && echo yes || echo no)"

echo "# 3. a full spool (1 MiB): 503 with Retry-After, as without one"
PREFIX3=SM${RUN}c3
RELAY2_PID=$(start_relay $((RELAY_PORT + 1)) "$WORK/relay2.log" "$WORK/spool2" BYO_TWILIO_SPOOL_MAX_MB=1)
BIG=()
for p in "${PARAMS[@]}"; do [[ $p == Body=* ]] && p="Body=$(head -c 60000 /dev/zero | tr '\0' 'x')"; BIG+=("$p"); done
if pg_stop; then check "PostgreSQL stopped" yes yes; else fail "pg_ctl stop failed"; fi
full=''
for i in $(seq 10 39); do
    full+="$(node "$CLIENT" one --relay "$RELAY2" --base "$PUBLIC_URL" --url "$SMS_URL" --token-env ALICE_TOKEN \
              --sid "${PREFIX3}00000000000000000000$i" "${BIG[@]}")"$'\n'
done
ok200=$(grep -c '^200 -$' <<<"$full") refused=$(grep -c '^503 5$' <<<"$full")
echo "# 30 webhooks of 60 kB into a 1 MiB spool: $ok200 answered 200, $refused answered 503"
check "spool full: the first ones spooled (200), the rest 503 + Retry-After, the spool within 1 MiB" "yes 30 yes" \
    "$([ "$ok200" -ge 10 ] && [ "$refused" -ge 1 ] && echo yes || echo no) $((ok200 + refused)) $(
       [ "$(du -sb "$WORK/spool2" | cut -f1)" -le $((1024 * 1024 + 4096)) ] && echo yes || echo no)"
check "log: spool_full said so" yes "$(grep -q '"event":"spool_full"' "$WORK/relay2.log" && echo yes || echo no)"
if pg_start; then check "PostgreSQL started again" yes yes; else fail "PostgreSQL did not start again"; fi
wait_for "the full spool drained" 60 '[ "$(spooled "$WORK/spool2")" = 0 ]'
check "database back: exactly the webhooks answered 200 stored" "$ok200 $ok200 $ok200" "$(stored "$PREFIX3")"

echo "# 4. logs: one JSON object per line, no token, signature or message body"
check "relay logs: JSON lines, without tokens or message bodies" "yes 0" \
    "$(cat "$LOG" "$WORK/relay2.log" | node -e 'for (const l of require("fs").readFileSync(0,"utf8").split("\n").filter(Boolean)) JSON.parse(l); console.log("yes")' 2>/dev/null || echo no) $(
       cat "$LOG" "$WORK/relay2.log" | grep -cF -e "$ALICE_TOKEN" -e "$BOB_TOKEN" -e "[$RUN]")"
finish
