#!/usr/bin/env bash
# The webhook path end to end: real HTTP into byo-twilio-relay, one SQL call per webhook into the cluster, signed
# by the official `twilio` helper library (test/e2e/relay_client.js), never by our own SQL. Checks tenant routing
# by webhook URL, GET webhooks (signed over the full URL, landing as POSTed ones), a signature over the URL with
# its connection overrides fragment, rejections that write nothing (forged, replayed with changes, unsigned), idempotent retries, a
# delivery receipt, STOP, batches, HTTP edge cases (limits, pipelining, stalled and idle clients, smuggling, a
# Transfer-Encoding other than chunked, never-ending chunk lines and trailers against the relay's peak memory, the
# keep-alive limit), bad input answered 400 (invalid UTF-8, a data exception, a deeply nested JSON body),
# load shedding (a second relay on RELAY_PORT + 1), the warnings when a relay's public URL is not the database's
# webhook base URL (a third), permission errors answered 503, the relay riding out a PostgreSQL stop/start without a
# restart, the call prepared once per session (server log), its metrics, a SIGTERM that answers the webhook in
# flight, and logs free of tokens, signatures and message bodies.
#
# Runs against the cluster test/run.sh started, after the pg_regress suites (60_outbound connected ann and ben and
# sent messages). Needs PGHOST, PGPORT, BYO_CLUSTER_DIR (the cluster, run as the postgres OS user, so this runs as
# root); ALICE_TOKEN and BOB_TOKEN (else taken from test/standin/fixtures.json). Optional: RELAY_PORT (4031),
# RELAY_BIN (build/byo-twilio-relay), RELAY_WORK_DIR (kept; default a temporary directory, kept only on failure),
# RELAY_TEST_TIMEOUT (600 s: a guard against a hang, never a timing check: a watchdog ends the suite as failed
# after that; a run takes about 40 s, and 4 minutes on a machine loaded five times over).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1

RELAY_PORT=${RELAY_PORT:-4031}
RELAY_BIN=${RELAY_BIN:-$ROOT/build/byo-twilio-relay}
RELAY=http://127.0.0.1:$RELAY_PORT
PUBLIC_URL=https://relay.example.test   # = byo_twilio.webhook_base_url in test/run.sh
CLIENT=$ROOT/test/e2e/relay_client.js
ROLE=byo_twilio_relay
ANN=00000000-0000-0000-0000-00000000aa01
BEN=00000000-0000-0000-0000-00000000bb01
PG_BIN=$(pg_config --bindir)
RUN=$(openssl rand -hex 4)   # makes every SID and body of this run unique (the suite can be rerun)
NUM=$(printf '%04d' $((16#$RUN % 10000)))
# Phone numbers of this run: texting ann and ben, sending STOP, receiving a message of ann's.
SENDER=+1415555$NUM SENDER2=+1415554$NUM SENDER3=+1415553$NUM STOPPER=+1415556$NUM RECIPIENT=+1415557$NUM

passed=0 failed=0
check() {  # $1 description, $2 expected, $3 actual
    if [ "$2" = "$3" ]; then passed=$((passed + 1)); echo "ok - $1"
    else failed=$((failed + 1)); echo "not ok - $1: expected $2, got $3"; fi
}
fail() { failed=$((failed + 1)); echo "not ok - $1"; }
finish() { echo "relay: $passed passed, $failed failed"; [ "$failed" = 0 ]; exit $?; }
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d postgres "$@"; }
as_user() {  # $1 user id; SQL on stdin, run as that user the way PostgREST would
    { echo "SET ROLE authenticated; SET request.jwt.claims = '{\"sub\": \"$1\"}';"; cat; } | psql -X -q -t -A -d postgres 2>/dev/null
}
http_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$RELAY$1"; }
sid() { echo "$1$(openssl rand -hex 16)"; }

for v in PGHOST PGPORT BYO_CLUSTER_DIR; do
    [ -n "${!v:-}" ] || { echo "not ok - $v is not set (run from test/run.sh)"; failed=1; finish; }
done
[ -x "$RELAY_BIN" ] || { echo "not ok - no relay binary at $RELAY_BIN (cmake --build build)"; failed=1; finish; }
if [ -z "${ALICE_TOKEN:-}" ] || [ -z "${BOB_TOKEN:-}" ]; then
    eval "$(node test/lib/fixture_env.js test/standin/fixtures.json)"
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$RELAY_PORT") 2>/dev/null; then
    echo "not ok - something already listens on 127.0.0.1:$RELAY_PORT (set RELAY_PORT)"; failed=1; finish
fi

if [ -n "${RELAY_WORK_DIR:-}" ]; then WORK=$RELAY_WORK_DIR KEEP_WORK=yes; mkdir -p "$WORK"
else WORK=$(mktemp -d /tmp/byo_relay_e2e.XXXXXX) KEEP_WORK=no; fi
LOG=$WORK/relay.log
RECORD=$WORK/sent.jsonl
: >"$RECORD"

RELAY_PID='' RELAY2_PID='' PG_STOPPED=no ROLE_BEFORE='' WATCHDOG_PID='' GRANTS_CHANGED=no FUNCTION_SWAPPED=no
pg_ctl_as_postgres() { runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$BYO_CLUSTER_DIR/data" "$@"; }
cleanup() {
    [ -n "$WATCHDOG_PID" ] && kill "$WATCHDOG_PID" 2>/dev/null
    exec 7>&- 2>/dev/null  # hold_inserts_until_released's lock, if still held
    [ -n "$RELAY2_PID" ] && { kill -KILL "$RELAY2_PID" 2>/dev/null; wait "$RELAY2_PID" 2>/dev/null; }
    if [ -n "$RELAY_PID" ] && kill -0 "$RELAY_PID" 2>/dev/null; then
        kill -TERM "$RELAY_PID" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$RELAY_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$RELAY_PID" 2>/dev/null
        wait "$RELAY_PID" 2>/dev/null
    fi
    # The suites after this one need the cluster: never leave it stopped.
    if [ "$PG_STOPPED" = yes ] && ! pg_ctl_as_postgres status >/dev/null 2>&1; then
        pg_ctl_as_postgres -l "$BYO_CLUSTER_DIR/server.log" -w -t 60 start >/dev/null 2>&1 \
            || echo "# could not start PostgreSQL again: see $BYO_CLUSTER_DIR/server.log"
    fi
    if [ "$GRANTS_CHANGED" = yes ]; then
        q -c "GRANT USAGE ON SCHEMA twilio TO $ROLE" \
          -c "GRANT EXECUTE ON FUNCTION twilio.handle_webhook(text, text, text, text),
                                       twilio.handle_webhooks(text[], text[], text[], text[]) TO $ROLE" >/dev/null 2>&1
    fi
    [ "$FUNCTION_SWAPPED" = yes ] && restore_handle_webhook
    # Leave the role as found: 80_webhooks.sql's NOLOGIN role, or none.
    [ "$ROLE_BEFORE" != none ] && q -c "ALTER ROLE $ROLE RESET log_min_duration_statement" \
        -c "ALTER ROLE $ROLE RESET log_parameter_max_length" >/dev/null 2>&1
    if [ "$ROLE_BEFORE" = none ]; then
        q -c "REVOKE ALL ON FUNCTION twilio.handle_webhook(text, text, text, text),
                                    twilio.handle_webhooks(text[], text[], text[], text[]) FROM $ROLE" \
          -c "REVOKE ALL ON SCHEMA twilio FROM $ROLE" -c "DROP ROLE $ROLE" >/dev/null 2>&1
    elif [ "$ROLE_BEFORE" = f ]; then
        q -c "ALTER ROLE $ROLE NOLOGIN PASSWORD NULL" >/dev/null 2>&1
    fi
    if [ "$failed" = 0 ] && [ "$KEEP_WORK" = no ]; then rm -rf "$WORK"; else echo "# relay log and records kept in $WORK"; fi
}
trap cleanup EXIT
# Bounded runtime whatever hangs: the watchdog TERMs this script, which reports and exits (cleanup still runs).
trap 'echo "not ok - stopped by SIGTERM (the watchdog sends it after ${RELAY_TEST_TIMEOUT:-600} s)"; failed=$((failed + 1)); finish' TERM
( trap 'kill "$s" 2>/dev/null; exit 0' TERM
  sleep "${RELAY_TEST_TIMEOUT:-600}" & s=$!
  wait "$s" && kill -TERM $$ ) &
WATCHDOG_PID=$!

# post URL TOKEN_ENV [client flags and Name=value params...]: sets STATUS, CTYPE, RETRY_AFTER, BODY
post() {
    local url=$1 token=$2 out
    shift 2
    out=$(node "$CLIENT" post --relay "$RELAY" --base "$PUBLIC_URL" --url "$url" --token-env "$token" \
          --record "$RECORD" "$@")
    IFS=$'\t' read -r STATUS CTYPE RETRY_AFTER BODY <<<"$out"
}
webhook_key() { local k=${1#"$PUBLIC_URL"/twilio/}; echo "${k%%/*}"; }  # the key in a webhook URL
# start_relay2 LOG [NAME=VALUE...]: another relay, on RELAY_PORT + 1 (RELAY2), as the relay role, logging to LOG;
# the settings given override the defaults here. Returns once it is ready (5 s at most). The database URL goes
# through the environment, never a command line.
RELAY2=http://127.0.0.1:$((RELAY_PORT + 1))
start_relay2() {
    local log=$1
    shift
    (
        export BYO_TWILIO_DATABASE_URL="host=$PGHOST port=$PGPORT user=$ROLE password=$RELAY_DB_PASSWORD dbname=postgres"
        export BYO_TWILIO_PUBLIC_URL=$PUBLIC_URL BYO_TWILIO_LISTEN=127.0.0.1:$((RELAY_PORT + 1))
        for setting in "$@"; do export "$setting"; done
        exec "$RELAY_BIN"
    ) >/dev/null 2>"$log" &
    RELAY2_PID=$!
    for _ in $(seq 1 50); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$RELAY2/readyz")" = 200 ] && break
        sleep 0.1
    done
}
is_twiml() { [[ "$CTYPE" == text/xml* && "$BODY" == *'<Response>'*'</Response>'* ]] && echo yes || echo no; }
# hold_inserts SECONDS: in the background, lock twilio.webhook_events against inserts for SECONDS; returns once
# the lock is held. Sets LOCK_PID (wait for it to know the lock is gone).
hold_inserts() {
    q -c "BEGIN" -c "LOCK TABLE twilio.webhook_events IN SHARE MODE" -c "SELECT pg_sleep($1)" -c "COMMIT" >/dev/null &
    LOCK_PID=$!
    for _ in $(seq 1 50); do
        [ "$(q -c "SELECT count(*) FROM pg_locks WHERE relation = 'twilio.webhook_events'::regclass
                     AND mode = 'ShareLock' AND granted")" = 1 ] && break
        sleep 0.02
    done
}
# hold_inserts_until_released: as hold_inserts, but the lock stays until release_inserts (an event, not a time):
# a session reading its SQL from a FIFO, opened on descriptor 7. If the suite dies, the FIFO closes, the session
# ends and the lock goes with it.
hold_inserts_until_released() {
    rm -f "$WORK/lock.fifo" && mkfifo "$WORK/lock.fifo"
    q <"$WORK/lock.fifo" >/dev/null &
    LOCK_PID=$!
    exec 7>"$WORK/lock.fifo"
    echo "BEGIN; LOCK TABLE twilio.webhook_events IN SHARE MODE;" >&7
    wait_for "the lock on webhook_events" 30 '[ "$(q -c "SELECT count(*) FROM pg_locks WHERE relation =
        '"'"'twilio.webhook_events'"'"'::regclass AND mode = '"'"'ShareLock'"'"' AND granted")" = 1 ]'
}
release_inserts() { echo "COMMIT;" >&7; exec 7>&-; wait "$LOCK_PID"; }
# wait_for DESCRIPTION SECONDS CONDITION: until the shell condition holds (polled), at most SECONDS; says so if not.
wait_for() {
    local end=$((SECONDS + $2))
    until eval "$3"; do
        [ "$SECONDS" -ge "$end" ] && { echo "# waited $2 s for $1: not seen"; return 1; }
        sleep 0.05
    done
}
# rows for a Twilio SID: "<messages> <events>" of one user
rows_for() {  # $1 user id, $2 MessageSid
    q -c "SELECT (SELECT count(*) FROM twilio.messages WHERE user_id = '$1' AND twilio_sid = '$2') || ' ' ||
                 (SELECT count(*) FROM twilio.webhook_events WHERE user_id = '$1' AND params ->> 'MessageSid' = '$2')"
}
rows_anywhere() {  # $1 MessageSid: "<messages> <events>" over all users
    q -c "SELECT (SELECT count(*) FROM twilio.messages WHERE twilio_sid = '$1') || ' ' ||
                 (SELECT count(*) FROM twilio.webhook_events WHERE params ->> 'MessageSid' = '$1')"
}

echo "# 1. the relay's role (the documented grants only) and the relay"
ROLE_BEFORE=$(q -c "SELECT CASE WHEN rolcanlogin THEN 't' ELSE 'f' END FROM pg_roles WHERE rolname = '$ROLE'")
[ -n "$ROLE_BEFORE" ] || ROLE_BEFORE=none
# A password the relay must never log (local connections use trust, so it is carried but not checked).
RELAY_DB_PASSWORD=relay-pw-$(openssl rand -hex 12)
export RELAY_DB_PASSWORD
if [ "$ROLE_BEFORE" = none ]; then
    echo "CREATE ROLE $ROLE LOGIN PASSWORD :'pw'" | q -v pw="$RELAY_DB_PASSWORD" >/dev/null
else
    echo "ALTER ROLE $ROLE LOGIN PASSWORD :'pw'" | q -v pw="$RELAY_DB_PASSWORD" >/dev/null
fi 2>/dev/null
q -c "GRANT USAGE ON SCHEMA twilio TO $ROLE" \
  -c "GRANT EXECUTE ON FUNCTION twilio.handle_webhook(text, text, text, text),
                               twilio.handle_webhooks(text[], text[], text[], text[]) TO $ROLE" >/dev/null
# Section 10 reads the relay's sessions in the server log: every parse and execute, never a parameter value.
q -c "ALTER ROLE $ROLE SET log_min_duration_statement = 0" -c "ALTER ROLE $ROLE SET log_parameter_max_length = 0" \
    >/dev/null
SERVER_LOG=$BYO_CLUSTER_DIR/server.log
SERVER_LOG_START=$(stat -c %s "$SERVER_LOG" 2>/dev/null || echo 0)
check "relay role: login, no superuser/createrole/createdb/bypassrls, member of nothing" "t f f f f 0" \
    "$(q -c "SELECT concat_ws(' ', rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls,
                               (SELECT count(*) FROM pg_auth_members WHERE member = r.oid))
             FROM pg_roles r WHERE rolname = '$ROLE'")"
check "relay role: may call handle_webhook(s), nothing else of the API, no table" "t t f f f f f" \
    "$(q -c "SELECT concat_ws(' ', has_function_privilege('$ROLE', 'twilio.handle_webhook(text, text, text, text)', 'EXECUTE'),
                               has_function_privilege('$ROLE', 'twilio.handle_webhooks(text[], text[], text[], text[])', 'EXECUTE'),
                               has_function_privilege('$ROLE', 'twilio.send_sms(text, text, text[])', 'EXECUTE'),
                               has_function_privilege('$ROLE', 'twilio.get_settings()', 'EXECUTE'),
                               has_table_privilege('$ROLE', 'twilio.messages', 'SELECT'),
                               has_table_privilege('$ROLE', 'twilio.user_settings', 'SELECT'),
                               has_table_privilege('$ROLE', 'twilio.webhook_events', 'SELECT'))")"

BYO_TWILIO_DATABASE_URL="host=$PGHOST port=$PGPORT user=$ROLE password=$RELAY_DB_PASSWORD dbname=postgres" \
BYO_TWILIO_PUBLIC_URL=$PUBLIC_URL BYO_TWILIO_LISTEN=127.0.0.1:$RELAY_PORT BYO_TWILIO_POOL_SIZE=4 \
BYO_TWILIO_DB_TIMEOUT_MS=3000 BYO_TWILIO_KEEP_ALIVE_REQUESTS=100 BYO_TWILIO_READ_TIMEOUT_MS=2000 \
    "$RELAY_BIN" >"$WORK/relay.stdout" 2>"$LOG" &
RELAY_PID=$!
health=000
for _ in $(seq 1 50); do
    health=$(http_status /healthz)
    [ "$health" = 200 ] && break
    kill -0 "$RELAY_PID" 2>/dev/null || break
    sleep 0.2
done
check "relay started: /healthz" 200 "$health"
[ "$health" = 200 ] || { tail -5 "$LOG"; finish; }
ready=000
for _ in $(seq 1 25); do ready=$(http_status /readyz); [ "$ready" = 200 ] && break; sleep 0.2; done
check "relay ready: /readyz" 200 "$ready"

echo "# 2. signed inbound SMS for ann and for ben, each to their own webhook URL"
declare -A SMS_URL STATUS_URL NUMBER ACCOUNT SERVICE TOKEN_ENV
TOKEN_ENV[$ANN]=ALICE_TOKEN TOKEN_ENV[$BEN]=BOB_TOKEN
for u in $ANN $BEN; do
    SMS_URL[$u]=$(echo "SELECT webhook_urls ->> 'sms' FROM twilio.get_settings();" | as_user "$u")
    STATUS_URL[$u]=$(echo "SELECT webhook_urls ->> 'status' FROM twilio.get_settings();" | as_user "$u")
    IFS='|' read -r "NUMBER[$u]" "ACCOUNT[$u]" "SERVICE[$u]" <<<"$(q -c \
        "SELECT sms_number, account_sid, messaging_service_sid FROM twilio.user_settings WHERE user_id = '$u'")"
done
check "webhook URLs come from get_settings() under the public base URL" yes \
    "$([[ ${SMS_URL[$ANN]} == "$PUBLIC_URL"/twilio/*/sms#* && ${SMS_URL[$BEN]} == "$PUBLIC_URL"/twilio/*/sms#* &&
          ${STATUS_URL[$ANN]} == "$PUBLIC_URL"/twilio/*/status#* && ${SMS_URL[$ANN]} != "${SMS_URL[$BEN]}" ]] \
        && echo yes || echo no)"
check "webhook URLs end in Twilio's connection overrides: retry on 5xx, 5 times within 15 s" "#rc=5&rp=ct,rt,5xx&tt=15000" \
    "#${SMS_URL[$ANN]#*#}"

# inbound USER FROM BODY SID [extra Name=value...]: the params of an inbound SMS to USER's number
inbound_params() {
    local u=$1 from=$2 body=$3 msid=$4
    shift 4
    INBOUND=(ToCountry=US ToState=CA SmsMessageSid="$msid" NumMedia=0 ToCity= FromZip= SmsSid="$msid"
             FromState=CA SmsStatus=received FromCity= Body="$body" FromCountry=US To="${NUMBER[$u]}"
             MessagingServiceSid="${SERVICE[$u]}" ToZip= NumSegments=1 MessageSid="$msid"
             AccountSid="${ACCOUNT[$u]}" From="$from" ApiVersion=2010-04-01 "$@")
}

declare -A BODY_OF SID_OF
for u in $ANN $BEN; do
    name=$([ "$u" = "$ANN" ] && echo ann || echo ben)
    other=$([ "$u" = "$ANN" ] && echo "$BEN" || echo "$ANN")
    SID_OF[$u]=$(sid SM)
    # Characters form encoding must carry: + & = % space, and non-ASCII.
    BODY_OF[$u]="Hi $name & co: 1+1=2, 100% ✓ Grüße [$RUN]"
    inbound_params "$u" "$SENDER" "${BODY_OF[$u]}" "${SID_OF[$u]}"
    post "${SMS_URL[$u]}" "${TOKEN_ENV[$u]}" "${INBOUND[@]}"
    check "$name's inbound SMS: 200" 200 "$STATUS"
    check "$name's inbound SMS: answered with TwiML" yes "$(is_twiml)"
    check "$name's inbound SMS: one inbound message and one event, in $name's rows" "1 1" "$(rows_for "$u" "${SID_OF[$u]}")"
    check "$name's inbound SMS: nothing in the other user's rows" "0 0" "$(rows_for "$other" "${SID_OF[$u]}")"
    check "$name's inbound SMS: stored as received, body intact" "inbound|received|sms|t|t" \
        "$(echo "SELECT concat_ws('|', direction, status, channel, body = :'b', from_number = :'f')
                   FROM twilio.messages WHERE twilio_sid = '${SID_OF[$u]}'" | q -v b="${BODY_OF[$u]}" -v f="$SENDER")"
    check "$name's inbound SMS: $name sees it through RLS, the other does not" "1 0" \
        "$(echo "SELECT count(*) FROM twilio.messages WHERE twilio_sid = '${SID_OF[$u]}';" | as_user "$u") $(
           echo "SELECT count(*) FROM twilio.messages WHERE twilio_sid = '${SID_OF[$u]}';" | as_user "$other")"
done

echo "# 2b. GET webhooks (a number configured with HTTP GET): the params in the query, signed over that full URL"
echo "#     with no params (the npm library's validateRequest with empty params); the same rows as a POST"
get_sid=$(sid SM) post_sid=$(sid SM)
get_text="By GET & POST: 1+1=2, 100% ✓ [$RUN]"
inbound_params "$ANN" "$SENDER" "$get_text" "$get_sid"
post "${SMS_URL[$ANN]}" ALICE_TOKEN --method get "${INBOUND[@]}"
check "GET inbound SMS: 200 with TwiML" "200 yes" "$STATUS $(is_twiml)"
check "GET inbound SMS: one message and one event, in ann's rows only" "1 1 0 0" \
    "$(rows_for "$ANN" "$get_sid") $(rows_for "$BEN" "$get_sid")"
post "${SMS_URL[$ANN]}" ALICE_TOKEN --method get "${INBOUND[@]}"
check "GET delivered twice (Twilio retried): 200, still one message and one event" "200 1 1" \
    "$STATUS $(rows_for "$ANN" "$get_sid")"
inbound_params "$ANN" "$SENDER" "$get_text" "$post_sid"
post "${SMS_URL[$ANN]}" ALICE_TOKEN "${INBOUND[@]}"
check "the same text POSTed: 200" 200 "$STATUS"
check "GET and POST landed alike: message and event equal but for the SID" "1 2 1 2" \
    "$(q -c "SELECT count(DISTINCT (user_id, direction, channel, from_number, to_number, body, status)) || ' ' || count(*)
               FROM twilio.messages WHERE twilio_sid IN ('$get_sid', '$post_sid')") $(
       q -c "SELECT count(DISTINCT (user_id, kind, event_type, effect, params - 'MessageSid' - 'SmsSid' - 'SmsMessageSid'))
                    || ' ' || count(*)
               FROM twilio.webhook_events WHERE params ->> 'MessageSid' IN ('$get_sid', '$post_sid')")"
check "GET: ann sees it through RLS, ben does not" "1 0" \
    "$(echo "SELECT count(*) FROM twilio.messages WHERE twilio_sid = '$get_sid';" | as_user "$ANN") $(
       echo "SELECT count(*) FROM twilio.messages WHERE twilio_sid = '$get_sid';" | as_user "$BEN")"
get_forged=$(sid SM)
inbound_params "$ANN" "$SENDER" "GET changed after signing [$RUN]" "$get_forged"
post "${SMS_URL[$ANN]}" ALICE_TOKEN --method get --tamper "Body=changed in the query [$RUN]" "${INBOUND[@]}"
check "GET with its query changed after signing: 403" 403 "$STATUS"
post "${SMS_URL[$BEN]}" ALICE_TOKEN --method get "${INBOUND[@]}"
check "GET signed with ann's token, to ben's URL: 403" 403 "$STATUS"
check "refused GETs: nothing written" "0 0" "$(rows_anywhere "$get_forged")"
frag_sid=$(sid SM)
inbound_params "$ANN" "$SENDER" "signed over the URL with its overrides fragment [$RUN]" "$frag_sid"
post "${SMS_URL[$ANN]}" ALICE_TOKEN --sign-fragment "${INBOUND[@]}"
check "signed over the URL with the connection overrides fragment (never sent): 200, stored" "200 1 1" \
    "$STATUS $(rows_for "$ANN" "$frag_sid")"

echo "# 3. rejected, nothing written: forged, replayed with changes, sent to another tenant, unsigned"
forged=$(sid SM)
inbound_params "$ANN" "$SENDER" "forged by someone holding ben's token [$RUN]" "$forged"
post "${SMS_URL[$ANN]}" BOB_TOKEN "${INBOUND[@]}"
check "forged (signed with ben's token, to ann's URL): 403" 403 "$STATUS"
check "forged: nothing written" "0 0" "$(rows_anywhere "$forged")"

replayed=$(sid SM)
inbound_params "$ANN" "$SENDER" "original text signed by Twilio [$RUN]" "$replayed"
post "${SMS_URL[$ANN]}" ALICE_TOKEN --tamper "Body=changed text, old signature [$RUN]" "${INBOUND[@]}"
check "replayed with a changed Body (same signature): 403" 403 "$STATUS"
check "replayed with changes: nothing written" "0 0" "$(rows_anywhere "$replayed")"
post "${SMS_URL[$ANN]}" ALICE_TOKEN --tamper "From=+14155550999" "${INBOUND[@]}"
check "replayed with a changed From (same signature): 403" 403 "$STATUS"
check "replayed with a changed From: nothing written" "0 0" "$(rows_anywhere "$replayed")"

cross=$(sid SM)
inbound_params "$ANN" "$SENDER" "ann's valid request sent to ben's URL [$RUN]" "$cross"
post "${SMS_URL[$BEN]}" ALICE_TOKEN "${INBOUND[@]}"
check "ann-signed request to ben's URL: 403" 403 "$STATUS"
check "ann-signed request to ben's URL: nothing written" "0 0" "$(rows_anywhere "$cross")"

unsigned=$(sid SM)
inbound_params "$ANN" "$SENDER" "no signature header at all [$RUN]" "$unsigned"
post "${SMS_URL[$ANN]}" ALICE_TOKEN --no-signature "${INBOUND[@]}"
check "unsigned: 400" 400 "$STATUS"
check "unsigned: nothing written" "0 0" "$(rows_anywhere "$unsigned")"

echo "# 4. duplicate delivery (Twilio retried): 200 twice, one effect"
dup=$(sid SM)
inbound_params "$BEN" "$SENDER2" "delivered twice by Twilio [$RUN]" "$dup"
post "${SMS_URL[$BEN]}" BOB_TOKEN "${INBOUND[@]}"
first=$STATUS first_twiml=$(is_twiml)
post "${SMS_URL[$BEN]}" BOB_TOKEN "${INBOUND[@]}"
check "duplicate: 200 both times, TwiML both times" "200 200 yes yes" "$first $STATUS $first_twiml $(is_twiml)"
check "duplicate: one message, one event" "1 1" "$(rows_for "$BEN" "$dup")"

echo "# 4b. an MMS with Twilio's field names: media kept with the message, encoding from the body, NumSegments bounded"
mms=$(sid MM)
post "${SMS_URL[$ANN]}" ALICE_TOKEN ToCountry=US SmsMessageSid="$mms" SmsSid="$mms" MessageSid="$mms" \
    SmsStatus=received Body="Фото 📷 [$RUN]" To="${NUMBER[$ANN]}" MessagingServiceSid="${SERVICE[$ANN]}" \
    AccountSid="${ACCOUNT[$ANN]}" From="$SENDER" ApiVersion=2010-04-01 NumSegments=999999 NumMedia=2 \
    MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/${ACCOUNT[$ANN]}/Messages/$mms/Media/ME$(openssl rand -hex 16)" \
    MediaContentType0=image/jpeg MediaUrl1="http://insecure.example/x.png" MediaContentType1=image/png
check "MMS: 200" 200 "$STATUS"
check "MMS: encoding UCS-2, our own segment count, one media kept (the http URL is not)" "UCS-2|1|1" \
    "$(q -c "SELECT encoding, segments, media_count FROM twilio.messages WHERE user_id = '$ANN' AND twilio_sid = '$mms'")"
check "MMS: the media row (type, SID from the URL)" "image/jpeg|t|1" \
    "$(q -c "SELECT d.content_type, d.media_sid ~ '^ME[0-9a-f]{32}$',
                    (SELECT count(*) FROM twilio.message_media x WHERE x.message_id = d.message_id)
               FROM twilio.message_media d JOIN twilio.messages m ON m.user_id = d.user_id AND m.id = d.message_id
              WHERE m.twilio_sid = '$mms'")"
check "MMS: ben sees none of it" 0 \
    "$(echo "SELECT count(*) FROM twilio.message_media d JOIN twilio.messages m ON m.user_id = d.user_id AND m.id = d.message_id WHERE m.twilio_sid = '$mms';" | as_user "$BEN")"

echo "# 5. a delivery receipt for one of ann's outbound messages"
sent_by_ann() {
    q -c "SELECT twilio_sid, coalesce(to_number, ''), status
            FROM twilio.messages WHERE user_id = '$ANN' AND direction = 'outbound' AND twilio_sid IS NOT NULL
             AND status IN ('accepted', 'sent') ORDER BY channel <> 'sms', created_at LIMIT 1"
}
IFS='|' read -r out_sid out_to out_status <<<"$(sent_by_ann)"
if [ -z "$out_sid" ]; then
    # test/sql/60_outbound.sql leaves several; if a rerun used them up, send one (the stand-in accepts it).
    echo "# no accepted/sent message of ann's left: sending one"
    echo "SELECT twilio.send_sms('$RECIPIENT', 'receipt test [$RUN]');" | as_user "$ANN" >/dev/null
    for _ in $(seq 1 50); do
        IFS='|' read -r out_sid out_to out_status <<<"$(sent_by_ann)"
        [ -n "$out_sid" ] && break
        sleep 0.2
    done
fi
if [ -z "$out_sid" ]; then
    fail "no outbound message of ann's is accepted or sent (did test/sql/60_outbound.sql run?)"
else
    post "${STATUS_URL[$ANN]}" ALICE_TOKEN MessageSid="$out_sid" SmsSid="$out_sid" AccountSid="${ACCOUNT[$ANN]}" \
        MessagingServiceSid="${SERVICE[$ANN]}" From="${NUMBER[$ANN]}" To="$out_to" MessageStatus=delivered \
        SmsStatus=delivered ApiVersion=2010-04-01
    check "status callback (delivered): 200" 200 "$STATUS"
    check "status callback: the message moved $out_status -> delivered" delivered \
        "$(q -c "SELECT status FROM twilio.messages WHERE user_id = '$ANN' AND twilio_sid = '$out_sid'")"
    check "status callback: one status event, effect recorded" "1 $out_status -> delivered" \
        "$(q -c "SELECT count(*) || ' ' || max(effect) FROM twilio.webhook_events
                  WHERE user_id = '$ANN' AND kind = 'status' AND params ->> 'MessageSid' = '$out_sid'
                    AND event_type = 'delivered'")"
fi

echo "# 6. STOP to ann blocks ann's sends to that number, not ben's"
stop_from=$STOPPER
try_send() {  # $1 user: the send's result (a uuid) or its SQLSTATE; rolled back, so nothing is sent
    printf '%s\n' "BEGIN;" "SELECT twilio.send_sms('$stop_from', 'x');" "ROLLBACK;" \
        '\echo sqlstate=:LAST_ERROR_SQLSTATE' | as_user "$1" | tr '\n' ' '
}
uuid_re='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12} sqlstate=00000 $'
check "before STOP ann can send to $stop_from" yes "$([[ $(try_send "$ANN") =~ $uuid_re ]] && echo yes || echo no)"
stop_sid=$(sid SM)
inbound_params "$ANN" "$stop_from" STOP "$stop_sid" OptOutType=STOP
post "${SMS_URL[$ANN]}" ALICE_TOKEN "${INBOUND[@]}"
check "STOP: 200 TwiML" "200 yes" "$STATUS $(is_twiml)"
check "STOP: an opt-out for ann only" "1 0" \
    "$(q -c "SELECT count(*) FILTER (WHERE user_id = '$ANN') || ' ' || count(*) FILTER (WHERE user_id = '$BEN')
             FROM twilio.opt_outs WHERE phone = '$stop_from'")"
check "after STOP ann's send_sms fails with 55000" "sqlstate=55000" "$(try_send "$ANN" | xargs)"
check "after STOP ben can still send (a uuid)" yes "$([[ $(try_send "$BEN") =~ $uuid_re ]] && echo yes || echo no)"

echo "# 4b. forty at once: they queue for the relay's 4 connections and go in batches (handle_webhooks), each once"
calls_before=$(curl -s --max-time 5 "$RELAY/metrics" | sed -n 's/^byo_twilio_relay_db_calls_total \([0-9]*\)$/\1/p')
carried_before=$(curl -s --max-time 5 "$RELAY/metrics" | sed -n 's/^byo_twilio_relay_db_call_webhooks_total \([0-9]*\)$/\1/p')
burst_prefix=SM$(openssl rand -hex 6)
inbound_params "$ANN" "$SENDER" "one of a burst [$RUN]" "${burst_prefix}0"
check "burst: 40 answered 200" "200:40" "$(node "$CLIENT" burst --count 40 --sid-prefix "$burst_prefix" --relay "$RELAY" \
    --base "$PUBLIC_URL" --url "${SMS_URL[$ANN]}" --token-env ALICE_TOKEN --record "$RECORD" "${INBOUND[@]}")"
check "burst: 40 messages and 40 events, all ann's" "40 40 40" \
    "$(q -c "SELECT count(*) || ' ' || (SELECT count(*) FROM twilio.webhook_events WHERE params ->> 'MessageSid' LIKE '$burst_prefix%')
                    || ' ' || count(*) FILTER (WHERE user_id = '$ANN')
             FROM twilio.messages WHERE twilio_sid LIKE '$burst_prefix%'")"
metrics=$(curl -s --max-time 5 "$RELAY/metrics")
calls=$(( $(echo "$metrics" | sed -n 's/^byo_twilio_relay_db_calls_total \([0-9]*\)$/\1/p') - calls_before ))
carried=$(( $(echo "$metrics" | sed -n 's/^byo_twilio_relay_db_call_webhooks_total \([0-9]*\)$/\1/p') - carried_before ))
echo "# burst: $carried webhooks in $calls database calls"
check "burst: 40 webhooks carried, by fewer calls (some batched)" "40 yes" "$carried $([ "$calls" -lt 40 ] && echo yes || echo no)"

echo "# 4c. no EXECUTE on handle_webhooks (a relay newer than its grants): single calls, every one served once"
GRANTS_CHANGED=yes
q -c "REVOKE EXECUTE ON FUNCTION twilio.handle_webhooks(text[], text[], text[], text[]) FROM $ROLE" >/dev/null
single_prefix=SM$(openssl rand -hex 6)
inbound_params "$ANN" "$SENDER" "one of a burst without the batch grant [$RUN]" "${single_prefix}0"
check "no batch grant: 40 at once, all answered 200" "200:40" "$(node "$CLIENT" burst --count 40 \
    --sid-prefix "$single_prefix" --relay "$RELAY" --base "$PUBLIC_URL" --url "${SMS_URL[$ANN]}" \
    --token-env ALICE_TOKEN --record "$RECORD" "${INBOUND[@]}")"
check "no batch grant: 40 messages, each once" "40 40" \
    "$(q -c "SELECT count(*) || ' ' || count(DISTINCT twilio_sid) FROM twilio.messages WHERE twilio_sid LIKE '$single_prefix%'")"
check "no batch grant: the relay logged the fallback to single calls (42501)" yes \
    "$(grep '"stage":"batch_call"' "$LOG" | grep -q '"sqlstate":"42501".*"fallback"' && echo yes || echo no)"
q -c "GRANT EXECUTE ON FUNCTION twilio.handle_webhooks(text[], text[], text[], text[]) TO $ROLE" >/dev/null
GRANTS_CHANGED=no

echo "# 4d. kept-alive connections: a second request is served; after a body left unread, nothing more is"
smuggle=$(node "$CLIENT" smuggle --relay "$RELAY" --body-limit 65536)
echo "# $smuggle"
check "keep-alive: two requests on one connection, both 200" "keepalive=200,200" "$(echo "$smuggle" | tr ' ' '\n' | grep '^keepalive=')"
check "a GET carrying a request as its body: that request is refused" "no" \
    "$(echo "$smuggle" | tr ' ' '\n' | grep '^get_body=' | grep -qE '=[0-9]+,(.*,)?200' && echo yes || echo no)"
check "a chunked body over the limit, then a request: 413, and that request is refused" "413 no" \
    "$(echo "$smuggle" | tr ' ' '\n' | sed -n 's/^chunked=\([0-9]*\).*/\1/p') $(echo "$smuggle" | tr ' ' '\n' |
       grep '^chunked=' | grep -qE '=[0-9]+,(.*,)?200' && echo yes || echo no)"

echo "# 4e. HTTP edges: limits, methods, pipelining, HEAD, Expect, a stalled client, idle connections"
edges=$(node "$CLIENT" edges --relay "$RELAY" --body-limit 65536 --read-timeout-ms 2000)
echo "# $edges"
edge() { echo "$edges" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
check "Content-Length over the limit: 413 before any body, connection closed" "413,closed" "$(edge content_length_over)"
check "PUT on a webhook path: 405 with Allow: GET, POST" "405,allow_get_post" "$(edge put_webhook)"
check "unknown path: 404" 404 "$(edge unknown_path)"
check "two pipelined requests: both answered, in order" "200,200" "$(edge pipelined)"
check "HEAD then GET: both 200, only the GET has a body" "200,200,bodies:1" "$(edge head_then_get)"
check "Expect: 100-continue: 100, then the answer (unsigned: 400)" "100,400" "$(edge expect_continue)"
check "a header stalled past the read timeout: no answer, connection closed at the timeout" "none,closed_at_timeout" \
    "$(edge stalled_header)"
check "200 idle connections open: another request still answered at once" "200,prompt" "$(edge beside_200_idle)"

echo "# 4h. Transfer-Encoding other than exactly chunked (RFC 9112 §6.3): 400 and closed; the GET /metrics sent as"
echo "#     its body is never served"
framing=$(node "$CLIENT" framing --relay "$RELAY")
echo "# $framing"
for c in xchunked identity gzip chunked_identity gzip_chunked two_fields with_length http10; do
    check "Transfer-Encoding $c: 400 from the relay itself, the smuggled request not answered" 400,refused \
        "$(echo "$framing" | tr ' ' '\n' | sed -n "s/^$c=//p")"
done

echo "# 4i. a chunk extension and a trailer that never end, 64 MiB each at once: answered 431 (or closed), and the"
echo "#     relay's peak memory (VmHWM) grows by less than 32 MiB"
hwm_kib() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$RELAY_PID/status"; }
hwm_before=$(hwm_kib)
flood=$(node "$CLIENT" flood --relay "$RELAY" --mb 64)
hwm_after=$(hwm_kib)
echo "# $flood; VmHWM ${hwm_before} kB -> ${hwm_after} kB"
for c in extension trailer; do
    check "never-ending chunk $c: answered 431, connection closed" "431,closed" \
        "$(echo "$flood" | tr ' ' '\n' | sed -n "s/^$c=//p")"
done
check "never-ending chunk framing: peak memory grew by less than 32 MiB" yes \
    "$([ -n "$hwm_before" ] && [ -n "$hwm_after" ] && [ $((hwm_after - hwm_before)) -lt 32768 ] && echo yes ||
       echo "no ($hwm_before kB -> $hwm_after kB)")"

echo "# 4j. 150 requests pipelined on one connection, over the keep-alive limit of 100: each of the 100 answers"
echo "#     written arrives, then the relay closes (drained first, not reset)"
check "pipelined past the keep-alive limit: 100 answers received, connection ended cleanly" "answers=100,ended" \
    "$(node "$CLIENT" pipeline --relay "$RELAY" --count 150)"

echo "# 4k. text PostgreSQL cannot hold (invalid UTF-8) in the body, X-Twilio-Signature or Content-Type: 400 without"
echo "#     Retry-After, counted as 400 and not as a database error, and no SQL call"
# raw_post ARGS...: a POST to ann's SMS path with the curl arguments given; prints "<status> <Retry-After or ->"
raw_post() {
    curl -s -o /dev/null -D - --max-time 5 "$@" "$RELAY${SMS_URL[$ANN]#"$PUBLIC_URL"}" |
        tr -d '\r' | awk 'NR == 1 { s = $2 } tolower($1) == "retry-after:" { r = $2 } END { print s, (r ? r : "-") }'
}
metric() { curl -s --max-time 5 "$RELAY/metrics" | sed -n "s/^$1 \([0-9]*\)$/\1/p"; }
calls_before=$(metric byo_twilio_relay_db_calls_total) errors_before=$(metric byo_twilio_relay_db_errors_total)
bad400_before=$(metric 'byo_twilio_relay_requests_total{status="400"}')
form=application/x-www-form-urlencoded
check "a body with invalid UTF-8 (Latin-1 é): 400, no Retry-After" "400 -" \
    "$(printf 'Body=caf\xe9&From=%%2B14155550100' | raw_post -H "Content-Type: $form" -H 'X-Twilio-Signature: x' --data-binary @-)"
check "an X-Twilio-Signature with invalid UTF-8: 400, no Retry-After" "400 -" \
    "$(raw_post -H "Content-Type: $form" -H $'X-Twilio-Signature: \xff\xfe=' --data-binary 'Body=hi')"
check "a Content-Type with invalid UTF-8: 400, no Retry-After" "400 -" \
    "$(raw_post -H $'Content-Type: application/x-www-form-urlencoded; charset=\xc0\xaf' -H 'X-Twilio-Signature: x' \
         --data-binary 'Body=hi')"
check "invalid UTF-8: no database call, no database error, three more 400s counted" "0 0 3" \
    "$(($(metric byo_twilio_relay_db_calls_total) - calls_before)) $(($(metric byo_twilio_relay_db_errors_total) - errors_before)) $(($(metric 'byo_twilio_relay_requests_total{status="400"}') - ${bad400_before:-0}))"

echo "# 4f. load shedding: a second relay, one connection, at most 2 webhooks queued; while inserts are held back"
echo "#     (until released), one webhook in the call, then a burst of 11: the queue fills, the rest is answered 503"
echo "#     with Retry-After at once (Twilio retries), and only what was answered 200 is stored"
# A budget longer than the test: nothing queued may expire while the inserts are held back.
start_relay2 "$WORK/relay2.log" BYO_TWILIO_POOL_SIZE=1 BYO_TWILIO_BATCH_MAX=1 BYO_TWILIO_QUEUE_MAX=2 \
    BYO_TWILIO_DB_TIMEOUT_MS=60000
shed_prefix=SM$(openssl rand -hex 6)
inbound_params "$ANN" "$SENDER" "one of a burst while the database falls behind [$RUN]" "${shed_prefix}0"
relay2_metric() { curl -s --max-time 5 "$RELAY2/metrics" | sed -n "s/^$1 \([0-9]*\)$/\1/p"; }
hold_inserts_until_released
# The first webhook alone, until its call waits on the lock: the one worker is then busy until the release.
node "$CLIENT" burst --count 1 --sid-prefix "${shed_prefix}f" --relay "$RELAY2" --base "$PUBLIC_URL" \
    --url "${SMS_URL[$ANN]}" --token-env ALICE_TOKEN --record "$RECORD" --timeout-ms 60000 "${INBOUND[@]}" \
    >"$WORK/shed_first" &
shed_first_pid=$!
wait_for "the first webhook's call waits on the lock" 30 \
    '[ "$(q -c "SELECT count(*) FROM pg_locks WHERE relation = '"'"'twilio.webhook_events'"'"'::regclass AND NOT granted")" = 1 ]'
node "$CLIENT" burst --count 11 --sid-prefix "$shed_prefix" --relay "$RELAY2" --base "$PUBLIC_URL" \
    --url "${SMS_URL[$ANN]}" --token-env ALICE_TOKEN --record "$RECORD" --timeout-ms 60000 "${INBOUND[@]}" \
    >"$WORK/shed_rest" &
shed_rest_pid=$!
# With the worker held, the queue takes 2 and sheds every other webhook of the burst: wait until it has.
wait_for "the burst's webhooks beyond the queue shed" 30 '[ "$(relay2_metric byo_twilio_relay_shed_total)" = 9 ]'
shed_total=$(relay2_metric byo_twilio_relay_shed_total)
release_inserts
wait "$shed_first_pid" "$shed_rest_pid"
shed_answers="$(cat "$WORK/shed_first") $(cat "$WORK/shed_rest")"
echo "# shedding: $shed_answers"
# "<status>[+retry]:<count>" pairs, summed over both runs
shed_count() { echo "$shed_answers" | tr ' ' '\n' | awk -F: -v k="$1" '$1 == k { n += $2 } END { print n + 0 }'; }
ok200=$(shed_count 200) shed503=$(shed_count 503+retry)
check "shedding: all 12 answered, each 200 or 503 with Retry-After" 12 "$((ok200 + shed503))"
check "shedding: at least one 200 (the call), at most 1 + 2 queued; at least one 503" yes \
    "$([ "$ok200" -ge 1 ] && [ "$ok200" -le 3 ] && [ "$shed503" -ge 1 ] && echo yes || echo "no ($shed_answers)")"
check "shedding: only the webhooks answered 200 were stored" "$ok200 $ok200" \
    "$(q -c "SELECT count(*) || ' ' || (SELECT count(*) FROM twilio.webhook_events
                                         WHERE params ->> 'MessageSid' LIKE '$shed_prefix%')
             FROM twilio.messages WHERE twilio_sid LIKE '$shed_prefix%'")"
check "shedding: every 503 counted in byo_twilio_relay_shed_total" "$shed503" "$shed_total"
check "shedding: logged (queue_full), not once per webhook" yes \
    "$(n=$(grep -c '"event":"queue_full"' "$WORK/relay2.log"); [ "$n" -ge 1 ] && [ "$n" -lt "$shed503" ] && echo yes || echo "no ($n)")"
kill -TERM "$RELAY2_PID" && wait "$RELAY2_PID"
RELAY2_PID=
check "shedding: the second relay's log holds no token, signature, body or password" 0 \
    "$(node "$CLIENT" scan --log "$WORK/relay2.log" --record "$RECORD" --token-env ALICE_TOKEN,BOB_TOKEN \
         --fixtures test/standin/fixtures.json --secret-env RELAY_DB_PASSWORD \
         --literal "$(webhook_key "${SMS_URL[$ANN]}")" >/dev/null 2>&1; echo $?)"

echo "# 4g. a relay whose public URL is not the database's byo_twilio.webhook_base_url: one warning naming both"
OTHER_URL=https://other.example.test
start_relay2 "$WORK/relay3.log" BYO_TWILIO_PUBLIC_URL=$OTHER_URL/ BYO_TWILIO_POOL_SIZE=2
mismatch_sid=$(sid SM)
inbound_params "$ANN" "$SENDER" "through a relay on another base [$RUN]" "$mismatch_sid"
base_hints() { grep -F 'webhook rejected (403' "$SERVER_LOG" | grep -cF 'not under byo_twilio.webhook_base_url'; }
hints_before=$(base_hints)
post "${SMS_URL[$ANN]}" BOB_TOKEN "${INBOUND[@]}"  # forged, through the relay on the database's base
check "same base, forged: 403, and its log line has no word about the base URL" "403 0" \
    "$STATUS $(($(base_hints) - hints_before))"
# Signed for the URL get_settings() gave (the database's base), as Twilio would: the relay checks it against the
# URL rebuilt on its own base.
RELAY=$RELAY2 post "${SMS_URL[$ANN]}" ALICE_TOKEN "${INBOUND[@]}"
check "other base: the webhook Twilio would send is refused (403), nothing written" "403 0 0" \
    "$STATUS $(rows_anywhere "$mismatch_sid")"
check "other base: the server log's rejection says the URL is not under byo_twilio.webhook_base_url" 1 \
    "$(($(base_hints) - hints_before))"
check "other base: the relay warned once (config_warning), naming both base URLs" "1 yes" \
    "$(grep -c '"event":"config_warning"' "$WORK/relay3.log") $(grep '"event":"config_warning"' "$WORK/relay3.log" |
       grep -F "($OTHER_URL)" | grep -qF "($PUBLIC_URL)" && echo yes || echo no)"
kill -TERM "$RELAY2_PID" && wait "$RELAY2_PID"
RELAY2_PID=
check "the relay on the database's base: no config_warning" 0 "$(grep -c '"event":"config_warning"' "$LOG")"

echo "# 4l. a JSON webhook nested 200,000 deep, through a relay whose body limit lets it in: 400, and the database"
echo "#     serves on (no backend crashed)"
start_relay2 "$WORK/relay4.log" BYO_TWILIO_BODY_LIMIT=1048576 BYO_TWILIO_POOL_SIZE=1
nest_log_start=$(stat -c %s "$SERVER_LOG")
{ printf '{"z":'; head -c 200000 /dev/zero | tr '\0' '['; head -c 200000 /dev/zero | tr '\0' ']'; printf '}'; } \
    >"$WORK/nested.json"
check "nested 200,000 deep (400 KB, unsigned as anyone could send it): 400" 400 \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'Content-Type: application/json' \
         -H 'X-Twilio-Signature: anything' --data-binary @"$WORK/nested.json" "$RELAY2${SMS_URL[$ANN]#"$PUBLIC_URL"}")"
nest_sid=$(sid SM)
inbound_params "$ANN" "$SENDER" "sent after a deeply nested body [$RUN]" "$nest_sid"
RELAY=$RELAY2 post "${SMS_URL[$ANN]}" ALICE_TOKEN "${INBOUND[@]}"
check "after it, a signed webhook through the same relay: 200, stored once" "200 1 1" \
    "$STATUS $(rows_for "$ANN" "$nest_sid")"
check "server log: no backend terminated by signal" 0 \
    "$(tail -c +$((nest_log_start + 1)) "$SERVER_LOG" | grep -c 'terminated by signal')"
kill -TERM "$RELAY2_PID" && wait "$RELAY2_PID"
RELAY2_PID=

echo "# 7. permission denied, when preparing (a new session) and when executing (prepared): 503, then served again"
# the relay's last db_error: "<stage> <sqlstate> <message>"
last_db_error() {
    grep '"event":"db_error"' "$LOG" | tail -1 |
        node -e 'const o=JSON.parse(require("fs").readFileSync(0,"utf8")); console.log(o.stage, o.sqlstate, o.message)' 2>/dev/null
}
perm1=$(sid SM) perm2=$(sid SM)
GRANTS_CHANGED=yes
# End the relay's sessions so the next webhook prepares on a new one, which may not see the schema.
q -c "REVOKE USAGE ON SCHEMA twilio FROM $ROLE" \
  -c "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE usename = '$ROLE'" >/dev/null
inbound_params "$BEN" "$SENDER2" "sent while the relay may not use the schema [$RUN]" "$perm1"
post "${SMS_URL[$BEN]}" BOB_TOKEN "${INBOUND[@]}"
check "no USAGE on the schema (the preparation fails): 503 with Retry-After" "503 5" "$STATUS $RETRY_AFTER"
check "no USAGE: logged as a failed call" "call 42501 permission denied for schema twilio" "$(last_db_error)"
q -c "GRANT USAGE ON SCHEMA twilio TO $ROLE" >/dev/null
post "${SMS_URL[$BEN]}" BOB_TOKEN "${INBOUND[@]}"
check "USAGE granted again: the retried webhook is answered 200" 200 "$STATUS"
check "USAGE granted again: stored once" "1 1" "$(rows_for "$BEN" "$perm1")"

q -c "REVOKE EXECUTE ON FUNCTION twilio.handle_webhook(text, text, text, text) FROM $ROLE" >/dev/null
inbound_params "$BEN" "$SENDER2" "sent while the relay may not call the function [$RUN]" "$perm2"
post "${SMS_URL[$BEN]}" BOB_TOKEN "${INBOUND[@]}"
check "no EXECUTE (the prepared statement fails): 503 with Retry-After" "503 5" "$STATUS $RETRY_AFTER"
check "no EXECUTE: logged as a failed call" "call 42501 permission denied for function handle_webhook" \
    "$(last_db_error)"
check "no EXECUTE: nothing written" "0 0" "$(rows_anywhere "$perm2")"
q -c "GRANT EXECUTE ON FUNCTION twilio.handle_webhook(text, text, text, text) TO $ROLE" >/dev/null
GRANTS_CHANGED=no
post "${SMS_URL[$BEN]}" BOB_TOKEN "${INBOUND[@]}"
check "EXECUTE granted again: 200, stored once" "200 1 1" "$STATUS $(rows_for "$BEN" "$perm2")"

echo "# 7b. an upgrade changes handle_webhook's result columns under the relay: it prepares again, no 503"
# The extension's C function, renamed, behind a SQL wrapper whose status column is bigint (a stand-in for a
# future version's change); the relay's prepared plan is then stale (0A000) on every session that has it.
restore_handle_webhook() {
    q -c "BEGIN" -c "DROP FUNCTION IF EXISTS twilio.handle_webhook(text, text, text, text)" \
      -c "ALTER FUNCTION twilio.handle_webhook_swapped(text, text, text, text) RENAME TO handle_webhook" -c "COMMIT" \
      >/dev/null 2>&1
}
FUNCTION_SWAPPED=yes
q >/dev/null <<SQL
BEGIN;
ALTER FUNCTION twilio.handle_webhook(text, text, text, text) RENAME TO handle_webhook_swapped;
CREATE FUNCTION twilio.handle_webhook(url text, signature text, request_content_type text, request_body text)
    RETURNS TABLE (status bigint, content_type text, body text)
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS \$\$ SELECT status::bigint, content_type, body
              FROM twilio.handle_webhook_swapped(url, signature, request_content_type, request_body) \$\$;
GRANT EXECUTE ON FUNCTION twilio.handle_webhook(text, text, text, text) TO $ROLE;
COMMIT;
SQL
swap_sid=$(sid SM)
errors_before=$(grep -c '"event":"db_error"' "$LOG")
inbound_params "$BEN" "$SENDER2" "sent just after the result columns changed [$RUN]" "$swap_sid"
post "${SMS_URL[$BEN]}" BOB_TOKEN "${INBOUND[@]}"
check "result columns changed: 200 at once, stored once" "200 1 1" "$STATUS $(rows_for "$BEN" "$swap_sid")"
check "result columns changed: no database error logged" "$errors_before" "$(grep -c '"event":"db_error"' "$LOG")"
restore_handle_webhook
FUNCTION_SWAPPED=no
post "${SMS_URL[$BEN]}" BOB_TOKEN "${INBOUND[@]}"
check "the extension's own function again: the retry is answered 200 and changes nothing" "200 1 1" \
    "$STATUS $(rows_for "$BEN" "$swap_sid")"

echo "# 7c. a data exception (SQLSTATE class 22) from the call: the request's fault, 400 without Retry-After, not a"
echo "#     database error"
# A stand-in for any value the database refuses: a wrapper that raises 22023 for one body, else calls the original.
FUNCTION_SWAPPED=yes
q >/dev/null <<SQL
BEGIN;
ALTER FUNCTION twilio.handle_webhook(text, text, text, text) RENAME TO handle_webhook_swapped;
CREATE FUNCTION twilio.handle_webhook(url text, signature text, request_content_type text, request_body text)
    RETURNS TABLE (status integer, content_type text, body text)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS \$\$ BEGIN
        IF request_body = 'Body=refused' THEN RAISE EXCEPTION 'refused value' USING ERRCODE = '22023'; END IF;
        RETURN QUERY SELECT * FROM twilio.handle_webhook_swapped(url, signature, request_content_type, request_body);
    END \$\$;
GRANT EXECUTE ON FUNCTION twilio.handle_webhook(text, text, text, text) TO $ROLE;
COMMIT;
SQL
errors_before=$(metric byo_twilio_relay_db_errors_total)
check "class 22 from the database: 400, no Retry-After" "400 -" \
    "$(raw_post -H "Content-Type: $form" -H 'X-Twilio-Signature: x' --data-binary 'Body=refused')"
check "class 22: not counted as a database error; logged as bad_input with its SQLSTATE only" "0 22023" \
    "$(($(metric byo_twilio_relay_db_errors_total) - errors_before)) $(grep '"event":"bad_input"' "$LOG" | tail -1 |
       node -e 'const o=JSON.parse(require("fs").readFileSync(0,"utf8")); console.log(o.sqlstate, o.message ?? "")' |
       xargs)"
restore_handle_webhook
FUNCTION_SWAPPED=no

echo "# 8. PostgreSQL stopped: 503 (Twilio retries); started again: served without restarting the relay"
down_sid=$(sid SM)
inbound_params "$ANN" "$SENDER3" "sent while the database is down [$RUN]" "$down_sid"
PG_STOPPED=yes   # from here on cleanup starts PostgreSQL again if it is not running
if pg_ctl_as_postgres -m fast -w -t 30 stop >/dev/null 2>&1; then
    check "PostgreSQL stopped" yes yes
    post "${SMS_URL[$ANN]}" ALICE_TOKEN "${INBOUND[@]}"
    check "database down: webhook answered 503 with Retry-After" "503 5" "$STATUS $RETRY_AFTER"
    check "database down: /readyz 503, /healthz 200" "503 200" "$(http_status /readyz) $(http_status /healthz)"
    if pg_ctl_as_postgres -l "$BYO_CLUSTER_DIR/server.log" -w -t 60 start >/dev/null 2>&1; then
        check "PostgreSQL started again" yes yes
    else
        fail "PostgreSQL did not start again"
    fi
    # Twilio's retry of the same delivery: the pool reconnects on its own.
    deadline=$((SECONDS + 10))
    while :; do
        post "${SMS_URL[$ANN]}" ALICE_TOKEN "${INBOUND[@]}"
        [ "$STATUS" = 200 ] || [ "$SECONDS" -ge "$deadline" ] && break
        sleep 0.5
    done
    check "database back: the retried webhook is answered 200 by the same relay process" "200 yes" \
        "$STATUS $(kill -0 "$RELAY_PID" 2>/dev/null && echo yes || echo no)"
    check "database back: the message stored once" "1 1" "$(rows_for "$ANN" "$down_sid")"
    check "database back: /readyz 200" 200 "$(http_status /readyz)"
else
    fail "pg_ctl stop failed"
fi

echo "# 9. metrics"
metrics=$(curl -s --max-time 5 "$RELAY/metrics")
counter() { echo "$metrics" | sed -n "s/^byo_twilio_relay_requests_total{status=\"$1\"} \([0-9]*\)$/\1/p"; }
for s in 200 400 403 503; do
    n=$(counter $s)
    check "metrics: byo_twilio_relay_requests_total{status=\"$s\"} > 0" yes "$([ "${n:-0}" -gt 0 ] && echo yes || echo no)"
done

echo "# 10. the server's log: the call is prepared per session and reused, never sent as SQL text"
# Prefix '%m [%p] %q%u@%d ': the relay's sessions since this run began, one "<pid> <step>" per statement logged.
steps=$(tail -c +$((SERVER_LOG_START + 1)) "$SERVER_LOG" |
    sed -nE "s/^.* \[([0-9]+)\] $ROLE@postgres LOG:  duration: [0-9.]+ ms  (parse|execute) byo_twilio_handle_webhook: .*/\1 \2/p")
parses=$(grep -c ' parse$' <<<"$steps") executes=$(grep -c ' execute$' <<<"$steps")
echo "# relay sessions: $parses parse(s), $executes execution(s) of the webhook call"
check "server log: the webhook call executed as a prepared statement, more often than prepared" yes \
    "$([ "$parses" -gt 0 ] && [ "$executes" -gt "$parses" ] && echo yes || echo no)"
# Once per session, and again after each of 7b's two changes of the result columns (the plan went stale).
check "server log: prepared at most 3 times per session (once, then after each result-column change)" yes \
    "$(grep ' parse$' <<<"$steps" | sort | uniq -c | awk '{ print $1 }' | sort -n | tail -1 |
       awk '{ print ($1 <= 3 ? "yes" : "no (" $1 ")") }')"
relay_lines=$(tail -c +$((SERVER_LOG_START + 1)) "$SERVER_LOG" | grep -F " $ROLE@postgres ")
check "server log: no call sent as SQL text (unnamed), no prepared statement missing or duplicated" "0 0" \
    "$(grep -c '<unnamed>: SELECT status, content_type, body FROM twilio.handle_webhook' <<<"$relay_lines") $(
       grep -c 'prepared statement "byo_twilio_handle_webhook"' <<<"$relay_lines")"

echo "# 11. SIGTERM with a webhook in flight and an idle kept connection: the webhook is answered, the idle"
echo "#     connection closed at once, the relay exits 0"
drain_sid=$(sid SM)
inbound_params "$ANN" "$SENDER3" "in flight at SIGTERM [$RUN]" "$drain_sid"
# Hold back every insert into webhook_events for 2.5 s (the webhook comes later and the relay's budget is 3 s): the
# webhook waits in its database call while the relay is told to stop.
hold_inserts 2.5
node "$CLIENT" idle --relay "$RELAY" --wait-ms 6000 >"$WORK/idle.out" 2>"$WORK/idle.err" &
IDLE_PID=$!
for _ in $(seq 1 50); do grep -q 'now idle' "$WORK/idle.err" 2>/dev/null && break; sleep 0.05; done
( post "${SMS_URL[$ANN]}" ALICE_TOKEN "${INBOUND[@]}"; echo "$STATUS" >"$WORK/drain.status" ) &
POST_PID=$!
for _ in $(seq 1 100); do  # until the relay's call waits for the lock
    [ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE usename = '$ROLE' AND wait_event_type = 'Lock'")" = 1 ] &&
        break
    sleep 0.02
done
t_term=$(date +%s%N)
kill -TERM "$RELAY_PID"
for _ in $(seq 1 50); do kill -0 "$RELAY_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$RELAY_PID" 2>/dev/null; then
    fail "the relay still runs 5 s after SIGTERM"   # cleanup kills it
else
    wait "$RELAY_PID"
    check "SIGTERM: the relay exited 0 within 5 s" 0 "$?"
    RELAY_PID=
fi
wait "$POST_PID" "$LOCK_PID" "$IDLE_PID" 2>/dev/null
check "SIGTERM: the webhook in flight was answered 200, and stored once" "200 1 1" \
    "$(cat "$WORK/drain.status" 2>/dev/null) $(rows_for "$ANN" "$drain_sid")"
closed_at=$(sed -n 's/^closed_at_ms=//p' "$WORK/idle.out")
# Its idle timeout here is 2 s (BYO_TWILIO_READ_TIMEOUT_MS), over 1 s after the signal: closed sooner means drained.
check "SIGTERM: the idle kept connection was closed at once (within 0.5 s), not at its idle timeout" yes \
    "$([ -n "$closed_at" ] && [ $((closed_at - t_term / 1000000)) -lt 500 ] && echo yes ||
       echo "no ($(cat "$WORK/idle.out"), signal at $((t_term / 1000000)))")"
check "SIGTERM: the log says it drained" yes \
    "$(grep -q '"event":"shutdown".*"drained":true' "$LOG" && echo yes || echo no)"

echo "# 12. the relay's log"
check "log: one JSON object per line, requests logged" yes \
    "$(node -e 'const l=require("fs").readFileSync(process.argv[1],"utf8").split("\n").filter(Boolean);
                let n=0; for (const s of l) { const o=JSON.parse(s); if (o.event==="request") n++; }
                console.log(n >= 10 ? "yes" : "no")' "$LOG" 2>/dev/null || echo no)"
scan=$(node "$CLIENT" scan --log "$LOG" --record "$RECORD" --token-env ALICE_TOKEN,BOB_TOKEN \
       --fixtures test/standin/fixtures.json --secret-env RELAY_DB_PASSWORD \
       --literal "$(webhook_key "${SMS_URL[$ANN]}")" --literal "$(webhook_key "${SMS_URL[$BEN]}")")
scan_rc=$?
echo "# scanned: $scan"
check "log: no token, signature, message body, webhook key or database password" 0 "$scan_rc"

finish
