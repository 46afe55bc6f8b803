#!/usr/bin/env bash
# The app API end to end: real HTTP into byo-twilio-relay's /api/twilio/ routes, real JWTs made by the npm `jose`
# library (test/e2e/api_client.js: HS256 with a secret, ES256 and RS256 from a JWKS file), real SQL as the JWT's
# user on the API's own login role (LOGIN NOINHERIT, granted only anon and authenticated), tokens sealed as a
# browser would (test/lib/seal_token.js) and checked against the local Twilio stand-in.
# Checks: every 401 (missing, malformed, expired, not yet valid, wrong audience, wrong key, alg none, anon) runs
# no SQL at all; user A's token never reaches B's data, with one pooled connection shared by both; every route's
# success and error shapes (a wrong sealed token is 422 naming the failed check); the dialer's routes (the queue,
# do-not-call, click-to-call with a dry run, B never reaching A's actions or calls); CORS preflights; 405/404/413/415;
# 429 after the burst (a second relay); 503 with Retry-After when the API's database is unreachable (a third);
# keys from a JWKS URL over HTTPS (a fourth, against test/e2e/jwks_server.js): TLS verified, key rotation, URL down;
# /ui/ static files without traversal; no token or body in the relay's log.
#
# Against the cluster test/run.sh started (PGHOST, PGPORT, BYO_CLUSTER_DIR, STANDIN_URL), or standalone: without
# BYO_CLUSTER_DIR it starts the stand-in and a cluster itself (the extension must be installed: make install).
# RELAY_PORT (4031; this suite uses it and the next three), RELAY_BIN (build/byo-twilio-relay). Prints
# "api: N passed, M failed".
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1

RELAY_PORT=${RELAY_PORT:-4031}
RELAY_BIN=${RELAY_BIN:-$ROOT/build/byo-twilio-relay}
API=http://127.0.0.1:$RELAY_PORT
API_ROLE=byo_twilio_api
UA=00000000-0000-0000-0000-0000000a9101   # user A
UB=00000000-0000-0000-0000-0000000a9102   # user B
ORIGIN=https://app.example.test

passed=0 failed=0
check() {  # $1 description, $2 expected, $3 actual
    if [ "$2" = "$3" ]; then passed=$((passed + 1)); echo "ok - $1"
    else failed=$((failed + 1)); echo "not ok - $1: expected [$2], got [$3]"; fi
}
finish() { echo "api: $passed passed, $failed failed"; [ "$failed" = 0 ]; exit $?; }
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d postgres "$@"; }

WORK=$(mktemp -d /tmp/byo_api_e2e.XXXXXX)
OWN_CLUSTER=no RELAY_PIDS=()
cleanup() {
    local pid
    for pid in "${RELAY_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${RELAY_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    [ -n "${JWKS_PID:-}" ] && kill -TERM "$JWKS_PID" 2>/dev/null
    if [ "$OWN_CLUSTER" = yes ]; then cluster_remove; standins_stop; fi
    if [ "$failed" = 0 ]; then rm -rf "$WORK"; else echo "# relay logs kept in $WORK"; fi
}
trap cleanup EXIT

if [ -z "${BYO_CLUSTER_DIR:-}" ]; then
    OWN_CLUSTER=yes
    source test/lib/cluster.sh
    source test/lib/standins.sh
    standins_start "$WORK/standins" no || { echo "not ok - stand-in"; failed=1; finish; }
    STANDIN_URL="http://127.0.0.1:$STANDIN_PORT"
    cluster_start "byo_twilio.encryption_key = 'k1:$(openssl rand -hex 32)'
byo_twilio.api_base_url = '$STANDIN_URL'
byo_twilio.conversations_base_url = '$STANDIN_URL'
byo_twilio.messaging_base_url = '$STANDIN_URL'
byo_twilio.media_base_url = '$STANDIN_URL'
byo_twilio.webhook_base_url = 'https://relay.example.test'" || { echo "not ok - cluster"; failed=1; finish; }
    q -f sql/byo_twilio_auth_compat.sql -c "CREATE EXTENSION byo_twilio" >/dev/null \
        || { echo "not ok - CREATE EXTENSION"; failed=1; finish; }
fi
# On test/run.sh's cluster the regress suite creates the extension; run alone (BYO_SUITES=api), this suite does.
if [ "$(q -c "SELECT count(*) FROM pg_extension WHERE extname = 'byo_twilio'")" = 0 ]; then
    q -f sql/byo_twilio_auth_compat.sql -c "CREATE EXTENSION byo_twilio" >/dev/null \
        || { echo "not ok - CREATE EXTENSION"; failed=1; finish; }
fi
[ -x "$RELAY_BIN" ] || { echo "not ok - no relay binary at $RELAY_BIN"; failed=1; finish; }
eval "$(node test/lib/fixture_env.js test/standin/fixtures.json)"

# The API's login role, as relay/README.md tells operators to create it; the webhook role is not touched.
q -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$API_ROLE') THEN
          CREATE ROLE $API_ROLE LOGIN NOINHERIT NOCREATEDB NOCREATEROLE NOSUPERUSER; END IF; END \$\$" \
  -c "GRANT anon, authenticated TO $API_ROLE" \
  -c "INSERT INTO auth.users (id, email) VALUES ('$UA', 'a@api.test'), ('$UB', 'b@api.test') ON CONFLICT DO NOTHING" \
  -c "DELETE FROM twilio.user_settings WHERE user_id IN ('$UA', '$UB')" >/dev/null

export BYO_TWILIO_JWT_SECRET
BYO_TWILIO_JWT_SECRET=$(openssl rand -hex 24)
node test/e2e/api_client.js keys "$WORK"
# start_relay PORT LOG [NAME=VALUE...]: a relay on PORT with the API on; returns once it listens.
start_relay() {
    local port=$1 log=$2
    shift 2
    (
        export BYO_TWILIO_DATABASE_URL="host=$PGHOST port=$PGPORT user=postgres dbname=postgres"
        export BYO_TWILIO_PUBLIC_URL=https://relay.example.test BYO_TWILIO_LISTEN=127.0.0.1:$port
        export BYO_TWILIO_API_DATABASE_URL="host=$PGHOST port=$PGPORT user=$API_ROLE dbname=postgres"
        export BYO_TWILIO_JWKS_FILE=$WORK/jwks.json BYO_TWILIO_API_CORS_ORIGINS="$ORIGIN, http://localhost:3000"
        export BYO_TWILIO_WEB_DIR=$ROOT/web
        for setting in "$@"; do export "$setting"; done
        exec "$RELAY_BIN"
    ) >/dev/null 2>"$log" &
    RELAY_PIDS+=($!)
    for _ in $(seq 1 100); do
        grep -q '"event":"start"' "$log" 2>/dev/null && return 0
        kill -0 "${RELAY_PIDS[-1]}" 2>/dev/null || break
        sleep 0.05
    done
    echo "# relay on $port did not start:"; cat "$log"; return 1
}
# One API connection shared by A and B: isolation must come from the transaction, not from separate sessions.
start_relay "$RELAY_PORT" "$WORK/relay.log" BYO_TWILIO_API_POOL_SIZE=1 BYO_TWILIO_API_RATE=1000 \
    BYO_TWILIO_API_BURST=1000 BYO_TWILIO_API_BODY_LIMIT=2048 || { failed=1; finish; }

# api METHOD PATH TOKEN [JSON BODY] [extra curl args...]: sets STATUS, BODY (JSON), HDRS (file).
HDRS=$WORK/headers
api() {
    local method=$1 path=$2 token=$3 body=${4:-}
    shift $(($# < 4 ? $# : 4))
    local args=(-s -X "$method" -D "$HDRS" -o "$WORK/body" -w '%{http_code}' --max-time 30)
    [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    STATUS=$(curl "${args[@]}" "$@" "$API$path")
    BODY=$(cat "$WORK/body")
}
jf() { jq -r "$1" <<<"$BODY" 2>/dev/null; }   # a field of the last answer
hdr() { grep -i "^$1:" "$HDRS" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
token() { node test/e2e/api_client.js token "$@"; }
api_sessions() { q -c "SELECT count(*) FROM pg_stat_activity WHERE usename = '$API_ROLE'"; }

TA=$(token --alg HS256 --sub $UA)
TB=$(token --alg ES256 --key "$WORK/private.json" --sub $UB)

echo "# 1. authentication: every refusal is 401 and runs no SQL (the API pool has not even connected)"
check "no API session before any request" 0 "$(api_sessions)"
api GET /api/twilio/status ""
check "no Authorization header: 401" 401 "$STATUS"
check "... WWW-Authenticate: Bearer" Bearer "$(hdr WWW-Authenticate)"
check "... JSON error code" http_unauthorized "$(jf .error.code)"
api GET /api/twilio/status "" "" -H "Authorization: Basic dXNlcjpwYXNz"
check "Basic instead of Bearer: 401" 401 "$STATUS"
api GET /api/twilio/status "not.a.jwt"
check "malformed token: 401" "401 JWT is not base64url" "$STATUS $(jf .error.message)"
api GET /api/twilio/status "abc"
check "one-part token: 401" "401 Expected 3 parts in JWT" "$STATUS $(jf .error.message)"
api GET /api/twilio/status "$(token --alg HS256 --sub $UA --exp -120)"
check "expired: 401" "401 JWT expired" "$STATUS $(jf .error.message)"
check "... the reason in WWW-Authenticate" 'Bearer error="invalid_token", error_description="JWT expired"' "$(hdr WWW-Authenticate)"
api GET /api/twilio/status "$(token --alg HS256 --sub $UA --nbf 600)"
check "not yet valid: 401" "401 JWT not yet valid" "$STATUS $(jf .error.message)"
api GET /api/twilio/status "$(token --alg HS256 --sub $UA --aud other-app)"
check "wrong audience: 401" "401 JWT not in audience" "$STATUS $(jf .error.message)"
api GET /api/twilio/status "$(JWT_SECRET_ENV=OTHER OTHER=$(openssl rand -hex 24) token --alg HS256 --sub $UA)"
check "HS256 with another secret: 401" "401 JWT signature does not verify" "$STATUS $(jf .error.message)"
api GET /api/twilio/status "$(token --alg ES256 --key "$WORK/other.json" --sub $UA)"
check "ES256 with a key not in the JWKS (same kid): 401" "401 JWT signature does not verify" "$STATUS $(jf .error.message)"
api GET /api/twilio/status "$(token --alg ES256 --key "$WORK/private.json" --kid nope --sub $UA)"
check "unknown kid: 401" "401 JWT key id not found" "$STATUS $(jf .error.message)"
api GET /api/twilio/status "$(token --alg none --sub $UA)"
check "alg none: 401" 401 "$STATUS"
api GET /api/twilio/status "$(token --alg HS256 --sub $UA --role anon)"
check "anon role: 401 (authenticates no user)" 401 "$STATUS"
check "... saying why" "JWT role anon may not use this API: sign in as a user (role authenticated)" "$(jf .error.message)"
api GET /api/twilio/status "$(token --alg HS256 --sub $UA --role service_role)"
check "service_role: 401" 401 "$STATUS"
api GET /api/twilio/status "$(token --alg HS256 --sub not-a-uuid)"
check "sub not a UUID: 401" 401 "$STATUS"
check "still no API session: none of these ran SQL" 0 "$(api_sessions)"

echo "# 2. routing, methods, CORS"
api PUT /api/twilio/settings "$TA"
check "PUT settings: 405 with Allow" "405 GET, POST, DELETE" "$STATUS $(hdr Allow)"
api GET /api/twilio/nope "$TA"
check "unknown route: 404 JSON" "404 http_not_found" "$STATUS $(jf .error.code)"
api OPTIONS /api/twilio/settings "" "" -H "Origin: $ORIGIN" -H 'Access-Control-Request-Method: POST' \
    -H 'Access-Control-Request-Headers: authorization, content-type'
check "preflight from an allowed origin: 204" 204 "$STATUS"
check "... Allow-Origin" "$ORIGIN" "$(hdr Access-Control-Allow-Origin)"
check "... Allow-Methods" "GET, POST, DELETE, OPTIONS" "$(hdr Access-Control-Allow-Methods)"
check "... Allow-Headers" "authorization, content-type, prefer" "$(hdr Access-Control-Allow-Headers)"
api OPTIONS /api/twilio/settings "" "" -H 'Origin: https://evil.example' -H 'Access-Control-Request-Method: POST'
check "preflight from another origin: 403, no Allow-Origin" "403 " "$STATUS $(hdr Access-Control-Allow-Origin)"
check "still no API session after preflights and 404/405" 0 "$(api_sessions)"

echo "# 3. settings, status, sealing key"
api GET /api/twilio/status "$TA"
check "status before connecting" "200 not_connected false" "$STATUS $(jf .state) $(jf .can_send)"
check "... JSON content type" "application/json; charset=utf-8" "$(hdr Content-Type)"
api GET /api/twilio/status "$TA" "" -H "Origin: $ORIGIN"
check "an allowed origin's GET carries Allow-Origin" "$ORIGIN" "$(hdr Access-Control-Allow-Origin)"
api GET /api/twilio/settings "$TB"
check "ES256 token from the JWKS: settings of B, none yet" '200 {"settings":null}' "$STATUS $(tr -d ' ' <<<"$BODY")"
api GET /api/twilio/settings "$(token --alg RS256 --key "$WORK/private.json" --sub $UB)"
check "RS256 token from the JWKS: 200" 200 "$STATUS"
api GET /api/twilio/sealing-key "$TA"
KEY=$BODY
check "sealing key" "200 bt1 k1" "$STATUS $(jf .format) $(jf .key_id)"
seal() { node test/lib/seal_token.js "$KEY" "$1" "$2" "$3"; }
WRONG=$(openssl rand -hex 16)
api POST /api/twilio/settings "$TA" "{\"account_sid\":\"$ALICE_SID\",\"auth_token\":\"$(seal $UA "$ALICE_SID" "$WRONG")\"}"
check "a wrong (sealed) token: 422 naming the check" "422 28000 credentials" "$STATUS $(jf .error.code) $(jf .error.check)"
check "... Twilio's reason in the message" yes "$(jf .error.message | grep -q 'credentials check failed' && echo yes)"
check "... the hint" "Nothing was saved." "$(jf .error.hint)"
api POST /api/twilio/settings "$TA" "{\"account_sid\":\"$ALICE_SID\",\"auth_token\":\"$(seal $UB "$ALICE_SID" "$ALICE_TOKEN")\"}"
check "a token sealed for another user: 403 28000, no check" "403 28000 null" "$STATUS $(jf .error.code) $(jf .error.check)"
api POST /api/twilio/settings "$TA" '{"auth_token":"bt1:x"}'
check "account_sid missing: 400" "400 22023" "$STATUS $(jf .error.code)"
api POST /api/twilio/settings "$TA" '{"account_sid": 5}'
check "account_sid not a string: 400" "400 http_bad_request" "$STATUS $(jf .error.code)"
api POST /api/twilio/settings "$TA" '{"account_sid":'
check "body not JSON: 400" "400 http_bad_json" "$STATUS $(jf .error.code)"
api POST /api/twilio/settings "$TA" '[[[[[[[[[[1]]]]]]]]]]'
check "deeply nested body: 400" "400 http_bad_json" "$STATUS $(jf .error.code)"
api POST /api/twilio/settings "$TA" "{\"account_sid\":\"$(head -c 3000 /dev/zero | tr '\0' a)\"}"
check "body over BYO_TWILIO_API_BODY_LIMIT: 413 JSON" "413 http_payload_too_large" "$STATUS $(jf .error.code)"
STATUS=$(curl -s -o "$WORK/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $TA" -H 'Content-Type: text/plain' \
    --data 'x' "$API/api/twilio/settings"); BODY=$(cat "$WORK/body")
check "not application/json: 415" "415 http_unsupported_media_type" "$STATUS $(jf .error.code)"
SEALED_A=$(seal $UA "$ALICE_SID" "$ALICE_TOKEN")
api POST /api/twilio/settings "$TA" "{\"account_sid\":\"$ALICE_SID\",\"auth_token\":\"$SEALED_A\",
    \"conversations_service_sid\":\"ISa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\",\"messaging_service_sid\":\"MGa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\",\"sms_number\":\"+15005550006\"}"
check "save settings: 200 with the row, token masked" "200 $ALICE_SID active" \
    "$STATUS $(jf .settings.account_sid) $(jf .settings.status)"
check "... never the token" "no" "$(grep -q "$ALICE_TOKEN" <<<"$BODY" && echo yes || echo no)"
api GET /api/twilio/status "$TA"
check "status after saving" "200 connected true user" "$STATUS $(jf .state) $(jf .can_send) $(jf .source)"
api POST /api/twilio/status/verify "$TA"
check "verify" "200 connected" "$STATUS $(jf .state)"
api GET /api/twilio/settings "$TB"
check "B (same pooled connection, next request) still sees no settings" '200 null' "$STATUS $(jf .settings)"
api GET /api/twilio/status "$TB"
check "B's status is B's" "200 not_connected" "$STATUS $(jf .state)"

echo "# 4. conversations, messages, SMS"
LEAD=$(q -c "SELECT gen_random_uuid()")
api POST /api/twilio/conversations "$TA" "{\"lead_id\":\"$LEAD\",\"phone\":\"+15005550701\",\"friendly_name\":\"Ann\"}"
CONV=$(jf .id)
check "create a conversation: 200 with an id" "200 yes" "$STATUS $([[ $CONV =~ ^[0-9a-f-]{36}$ ]] && echo yes || jf .error.message)"
api POST /api/twilio/conversations "$TA" '{"lead_id":"nope","phone":"+15005550701"}'
check "lead_id not a UUID: 400" "400 22P02" "$STATUS $(jf .error.code)"
api POST "/api/twilio/conversations/$CONV/messages" "$TA" '{"body":"hello from the API"}'
MSG=$(jf .id)
check "send a conversation message: 200 with an id" "200 yes" "$STATUS $([[ $MSG =~ ^[0-9a-f-]{36}$ ]] && echo yes)"
api POST /api/twilio/sms "$TA" '{"to":"+15005550702","body":"sms from the API"}'
SMS=$(jf .id)
check "send an SMS: 200 with an id" "200 yes" "$STATUS $([[ $SMS =~ ^[0-9a-f-]{36}$ ]] && echo yes)"
api POST /api/twilio/sms "$TA" '{"to":"5550100","body":"x"}'
check "SMS to a number not E.164: 400 22023" "400 22023" "$STATUS $(jf .error.code)"
api POST /api/twilio/sms "$TB" '{"to":"+15005550702","body":"B has no account"}'
check "SMS by a user with no account: an error, not a send" "4" "${STATUS:0:1}"
api GET /api/twilio/conversations "$TA"
check "A lists A's conversation" "200 1 $CONV" "$STATUS $(jf '.conversations | length') $(jf '.conversations[0].id')"
check "... without user_id" null "$(jf '.conversations[0].user_id')"
api GET "/api/twilio/conversations/$CONV/messages" "$TA"
check "A lists the conversation's messages" "200 hello from the API" "$STATUS $(jf '.messages[0].body')"
api GET "/api/twilio/messages?limit=1" "$TA"
check "messages, newest first, limit 1" "200 1 $SMS" "$STATUS $(jf '.messages | length') $(jf '.messages[0].id')"
api GET "/api/twilio/messages?limit=5&before=$SMS" "$TA"
check "messages before the SMS: the conversation message" "200 $MSG" "$STATUS $(jf '[.messages[].id] | join(",")')"
api GET "/api/twilio/messages?limit=x" "$TA"
check "limit not a number: 400" "400 22P02" "$STATUS $(jf .error.code)"
api GET "/api/twilio/messages?limit=1&limit=2" "$TA"
check "a repeated query parameter: 400" "400 http_bad_query" "$STATUS $(jf .error.code)"
api GET /api/twilio/conversations "$TB"
check "B sees none of A's conversations" "200 0" "$STATUS $(jf '.conversations | length')"
api GET /api/twilio/messages "$TB"
check "B sees none of A's messages" "200 0" "$STATUS $(jf '.messages | length')"
api GET "/api/twilio/conversations/$CONV/messages" "$TB"
check "B reading A's conversation gets nothing" "200 0" "$STATUS $(jf '.messages | length')"
api POST "/api/twilio/conversations/$CONV/messages" "$TB" '{"body":"B writes into A"}'
check "B sending into A's conversation is refused" "4" "${STATUS:0:1}"
check "... and nothing of B's went into it" 1 \
    "$(q -c "SELECT count(*) FROM twilio.messages WHERE conversation_id = '$CONV'")"

echo "# 4b. media links: a 302 to Twilio's short-lived link, for the owner's own media only"
MMS=$(q -c "INSERT INTO twilio.messages (user_id, channel, direction, body, status, twilio_sid, account_sid, media_count)
            VALUES ('$UA', 'sms', 'inbound', '', 'received', 'MM000000000000000000000000000a9101', '$ALICE_SID', 1) RETURNING id" | head -1)
q -c "INSERT INTO twilio.message_media (user_id, message_id, position, url, media_sid, content_type)
      VALUES ('$UA', '$MMS', 0, 'https://api.twilio.com/2010-04-01/Accounts/$ALICE_SID/Messages/MM000000000000000000000000000a9101/Media/ME000000000000000000000000000a9101',
              'ME000000000000000000000000000a9101', 'image/jpeg')" >/dev/null
api GET "/api/twilio/messages/$MMS/media/0" "$TA"
check "media link: 302 to the temporary URL" "302 yes" \
    "$STATUS $([[ $(hdr Location) =~ ^https://media\.standin\.invalid/ME000000000000000000000000000a9101\?Expires= ]] && echo yes)"
check "... never cached" no-store "$(hdr Cache-Control)"
check "... the body names the same URL" "$(hdr Location)" "$(jf .url)"
api GET "/api/twilio/messages/$MMS/media/0?format=json" "$TA"
check "media link as JSON: 200 with the URL" "200 yes" "$STATUS $([[ $(jf .url) =~ ^https://media\.standin\.invalid/ ]] && echo yes)"
api GET "/api/twilio/messages/$MMS/media/3" "$TA"
check "no media at that position: 404 P0002" "404 P0002" "$STATUS $(jf .error.code)"
api GET "/api/twilio/messages/$MMS/media/0" "$TB"
check "B asking for A's media: 404, no link" "404 P0002 " "$STATUS $(jf .error.code) $(hdr Location)"
api GET "/api/twilio/messages/$MMS/media/x" "$TA"
check "a position that is not a number: 404 route" "404 http_not_found" "$STATUS $(jf .error.code)"
api GET "/api/twilio/messages/nope/media/0" "$TA"
check "a message id that is not a UUID: 400" "400 22P02" "$STATUS $(jf .error.code)"

echo "# 4c. sending media: MMS URLs and a Conversations media SID, stored with the message"
api POST /api/twilio/sms "$TA" '{"to":"+15005550703","media_urls":["https://cdn.example.com/a.jpg","https://cdn.example.com/b.jpg"]}'
MMS_OUT=$(jf .id)
check "send an MMS without a body: 200 with an id" "200 yes" "$STATUS $([[ $MMS_OUT =~ ^[0-9a-f-]{36}$ ]] && echo yes)"
check "... its URLs stored in order, the body empty" "2 https://cdn.example.com/a.jpg,https://cdn.example.com/b.jpg " \
    "$(q -c "SELECT m.media_count || ' ' || string_agg(d.url, ',' ORDER BY d.position) || ' ' || m.body
               FROM twilio.messages m JOIN twilio.message_media d ON d.user_id = m.user_id AND d.message_id = m.id
              WHERE m.id = '$MMS_OUT' GROUP BY m.media_count, m.body")"
api POST "/api/twilio/conversations/$CONV/messages" "$TA" '{"body":"a file","media_sids":["ME0123456789abcdef0123456789abcdef"]}'
MEDIA_MSG=$(jf .id)
check "send a conversation message with a media SID: 200" "200 ME0123456789abcdef0123456789abcdef" \
    "$STATUS $(q -c "SELECT media_sid FROM twilio.message_media WHERE message_id = '$MEDIA_MSG'")"
api POST /api/twilio/sms "$TA" '{"to":"+15005550703","body":"x","media_urls":["http://cdn.example.com/a.jpg"]}'
check "an http media URL: 400 22023 naming the item" "400 22023 yes" \
    "$STATUS $(jf .error.code) $(jf .error.message | grep -q 'media_urls item 1 is not an https:// URL' && echo yes)"
api POST /api/twilio/sms "$TA" '{"to":"+15005550703","media_urls":"https://cdn.example.com/a.jpg"}'
check "media_urls not an array: 400 before any SQL" "400" "$STATUS"
api POST "/api/twilio/conversations/$CONV/messages" "$TA" '{"media_sids":["MEnope"]}'
check "not a media SID: 400 22023" "400 22023" "$STATUS $(jf .error.code)"
check "... nothing queued by the refused sends" 0 \
    "$(q -c "SELECT count(*) FROM twilio.messages WHERE user_id = '$UA' AND to_number = '+15005550703' AND id <> '$MMS_OUT'")"

echo "# 5. campaigns and analytics"
q -c "SET ROLE authenticated" -c "SELECT set_config('request.jwt.claims', '{\"sub\":\"$UA\",\"role\":\"authenticated\"}', false)" \
  -c "SELECT twilio.create_campaign('API tour')" >/dev/null
api GET /api/twilio/campaigns "$TA"
check "A's campaigns" "200 API tour" "$STATUS $(jf '.campaigns[0].name')"
api GET /api/twilio/campaigns "$TB"
check "B sees none" "200 0" "$STATUS $(jf '.campaigns | length')"
api GET "/api/twilio/analytics?from=$(date -u +%F)&to=$(date -u +%F)" "$TA"
check "analytics: rows" "200 array" "$STATUS $(jf '.rows | type')"
api GET "/api/twilio/analytics?to=$(date -u +%F)" "$TA"
check "analytics without from: 400" "400 22023" "$STATUS $(jf .error.code)"
api GET "/api/twilio/analytics?from=2026-13-01&to=2026-01-01" "$TA"
check "analytics with a bad date: 400" "400" "$STATUS"

echo "# 6. the dialer: settings, the manual-actions queue, do-not-call, click-to-call (A connected, B not)"
# Zones where it is now about noon and about 3 a.m. (Etc/GMT-N is UTC+N): calling hours hold or fail whatever the
# hour the suite runs at.
zone_at() { local off=$(( $1 - 10#$(date -u +%H) )); [ $off -lt -12 ] && off=$((off + 24)); [ $off -gt 14 ] && off=$((off - 24))
            if [ $off -eq 0 ]; then echo Etc/GMT; elif [ $off -gt 0 ]; then echo "Etc/GMT-$off"; else echo "Etc/GMT+$((-off))"; fi; }
NOON=$(zone_at 12) NIGHT=$(zone_at 3)
AGENT=+15005550199
calls_of() { q -c "SELECT count(*) FROM twilio.voice_calls WHERE user_id = '$1'"; }
api GET /api/twilio/dialer/settings "$TA"
check "dialer settings before saving: the defaults" "200 true 08:00:00 21:00:00 null" \
    "$STATUS $(jf .settings.auto_advance) $(jf .settings.calling_hours_start) $(jf .settings.calling_hours_end) $(jf .settings.agent_phone)"
check "... without user_id" null "$(jf .settings.user_id)"
api PUT /api/twilio/dialer/settings "$TA" "{\"agent_phone\":\"$AGENT\",\"default_time_zone\":\"$NOON\",\"auto_advance\":true}"
check "save dialer settings (PUT)" "200 $AGENT $NOON true" \
    "$STATUS $(jf .settings.agent_phone) $(jf .settings.default_time_zone) $(jf .settings.auto_advance)"
api PUT /api/twilio/dialer/settings "$TA" '{"agent_phone":"5550199"}'
check "an agent phone not E.164: 400 22023" "400 22023" "$STATUS $(jf .error.code)"
api PUT /api/twilio/dialer/settings "$TA" '{"calling_hours_start":"8 o clock"}'
check "calling hours not a time: 400" "400 22007" "$STATUS $(jf .error.code)"
api PUT /api/twilio/dialer/settings "$TA" '{"auto_advance":[true]}'
check "auto_advance an array: 400 http_bad_request" "400 http_bad_request" "$STATUS $(jf .error.code)"
api GET /api/twilio/dialer/settings "$TB"
check "B's dialer settings are B's" "200 null" "$STATUS $(jf .settings.agent_phone)"

api POST /api/twilio/actions "$TA" '{"kind":"call","title":"Ann","phone":"+15005550701"}'
ANN=$(jf .action.id)
check "create one action" "200 open call Ann" "$STATUS $(jf .action.status) $(jf .action.kind) $(jf .action.title)"
check "... without user_id" null "$(jf .action.user_id)"
api POST /api/twilio/actions "$TA" '{"actions":[{"kind":"call","title":"Bob","phone":"+15005550702","priority":5},
    {"kind":"text","title":"Cy","phone":"+15005550703","notes":"send the quote"}]}'
BOB=$(jf '.actions[0].id') CY=$(jf '.actions[1].id')
check "create two at once, in order (priority as a JSON number)" "200 Bob,Cy 5" \
    "$STATUS $(jf '[.actions[].title] | join(",")') $(jf '.actions[0].priority')"
before=$(q -c "SELECT count(*) FROM twilio.manual_actions WHERE user_id = '$UA'")
api POST /api/twilio/actions "$TA" '{"actions":[{"kind":"call","title":"ok","phone":"+15005550704"},{"kind":"call","title":"bad","phone":"555"}]}'
check "a bad item: 400, all or nothing" "400 $before" "$STATUS $(q -c "SELECT count(*) FROM twilio.manual_actions WHERE user_id = '$UA'")"
check "... the error names the item" yes "$(jf .error.message | grep -q '1' && echo yes)"
api POST /api/twilio/actions "$TA" '{"kind":"call","phone":"+15005550704"}'
check "an action without a title: 400" 4 "${STATUS:0:1}"
api POST /api/twilio/actions "$TA" '{"actions":{"kind":"call"}}'
check "\"actions\" not an array: 400" "400 http_bad_request" "$STATUS $(jf .error.code)"
api GET "/api/twilio/actions?status=open" "$TA"
check "A's open actions in queue order" "200 Bob,Ann,Cy" "$STATUS $(jf '[.actions[].title] | join(",")')"
api GET "/api/twilio/actions?status=opened" "$TA"
check "an unknown status: 400" "400 http_bad_request" "$STATUS $(jf .error.code)"
api GET /api/twilio/actions "$TB"
check "B lists none of A's actions" "200 0" "$STATUS $(jf '.actions | length')"
api GET /api/twilio/actions/current "$TA"
check "no current action before next" '200 null' "$STATUS $(jf .action)"
api POST /api/twilio/actions/next "$TA"
check "next: the highest priority, claimed" "200 $BOB in_progress" "$STATUS $(jf .action.id) $(jf .action.status)"
api POST /api/twilio/actions/next "$TA"
check "next again: the same claimed action" "200 $BOB" "$STATUS $(jf .action.id)"
api GET /api/twilio/actions/current "$TA"
check "current" "200 $BOB" "$STATUS $(jf .action.id)"
api POST /api/twilio/actions/next "$TB"
check "B's next is not A's" '200 null' "$STATUS $(jf .action)"
api POST "/api/twilio/actions/$BOB/complete" "$TB" '{"outcome":"busy"}'
check "B completing A's action: 404 P0002" "404 P0002" "$STATUS $(jf .error.code)"
api POST "/api/twilio/actions/$BOB/skip" "$TB"
check "B skipping A's action: 404" 404 "$STATUS"
api POST "/api/twilio/actions/$BOB/release" "$TB"
check "B releasing A's action: 404" 404 "$STATUS"
api POST /api/twilio/calls "$TB" "{\"action_id\":\"$BOB\",\"agent_phone\":\"+15005550198\"}"
check "B dialing A's action: refused" 4 "${STATUS:0:1}"
check "... and still in progress for A, no call written" "in_progress 0 0" \
    "$(q -c "SELECT status FROM twilio.manual_actions WHERE id = '$BOB'") $(calls_of $UA) $(calls_of $UB)"
api POST /api/twilio/actions/not-a-uuid/complete "$TA" '{"outcome":"busy"}'
check "an id that is no UUID: 400 22P02" "400 22P02" "$STATUS $(jf .error.code)"
api POST "/api/twilio/actions/$BOB/complete" "$TA" '{"outcome":"sort of"}'
check "an unknown outcome: 400" 400 "$STATUS"
api POST "/api/twilio/actions/$BOB/complete" "$TA"
check "complete without a body: 415" "415" "$STATUS"

api POST /api/twilio/do-not-call "$TA" '{"phone":"+15005550702","reason":"asked us"}'
check "add to do-not-call" "200 true manual asked us" "$STATUS $(jf .added) $(jf .entry.source) $(jf .entry.reason)"
api POST /api/twilio/do-not-call "$TA" '{"phone":"+15005550702"}'
check "add it again: not an error, not added" "200 false +15005550702" "$STATUS $(jf .added) $(jf .entry.phone)"
api POST /api/twilio/do-not-call "$TA" '{"phone":"555"}'
check "a do-not-call number not E.164: 400" 400 "$STATUS"
api GET /api/twilio/do-not-call "$TA"
check "A's do-not-call list" "200 +15005550702" "$STATUS $(jf '[.do_not_call[].phone] | join(",")')"
api GET /api/twilio/do-not-call "$TB"
check "B sees none of it" "200 0" "$STATUS $(jf '.do_not_call | length')"
api DELETE "/api/twilio/do-not-call?phone=%2B15005550702" "$TB"
check "B removing A's entry removes nothing" "200 false" "$STATUS $(jf .removed)"
api POST /api/twilio/calls "$TA" "{\"action_id\":\"$BOB\"}"
check "dial a number on do-not-call: 409 55000, nothing written" "409 55000 0" "$STATUS $(jf .error.code) $(calls_of $UA)"
check "... saying why" yes "$(jf .error.message | grep -qi 'do-not-call\|do not call' && echo yes)"
api DELETE "/api/twilio/do-not-call?phone=%2B15005550702" "$TA"
check "remove from do-not-call" "200 true" "$STATUS $(jf .removed)"
api DELETE /api/twilio/do-not-call "$TA"
check "remove without ?phone=: 400" "400 http_bad_request" "$STATUS $(jf .error.code)"

api PUT /api/twilio/dialer/settings "$TA" "{\"default_time_zone\":\"$NIGHT\"}"
api POST /api/twilio/calls "$TA" "{\"action_id\":\"$BOB\"}"
check "dial at 3 a.m. the lead's time: 409 55000, nothing written" "409 55000 0" "$STATUS $(jf .error.code) $(calls_of $UA)"
check "... naming the calling hours" yes "$(jf .error.message | grep -q '08:00' && echo yes)"
api PUT /api/twilio/dialer/settings "$TA" "{\"default_time_zone\":\"$NOON\"}"
api POST /api/twilio/calls "$TA" '{}'
check "dial with neither action_id nor lead_phone: 400 22023" "400 22023" "$STATUS $(jf .error.code)"
api POST /api/twilio/calls "$TA" "{\"action_id\":\"$BOB\",\"lead_phone\":\"+15005550702\"}"
check "dial with both: 400 22023" "400 22023" "$STATUS $(jf .error.code)"
api POST /api/twilio/calls "$TB" '{"lead_phone":"+15005550702","agent_phone":"+15005550198","time_zone":"UTC"}'
check "B (no Twilio account) dialing: 409 55000" "409 55000" "$STATUS $(jf .error.code)"
api POST /api/twilio/calls "$TA" "{\"action_id\":\"$BOB\"}" -H 'Prefer: tx=rollback'
check "a dry run (Prefer: tx=rollback): 200 with the call it would place" "200 queued agent $AGENT" \
    "$STATUS $(jf .call.status) $(jf .call.leg) $(jf .call.to_number)"
check "... Preference-Applied: tx=rollback" "tx=rollback" "$(hdr Preference-Applied)"
check "... and nothing kept" "0 null" "$(calls_of $UA) $(q -c "SELECT coalesce(call_id::text, 'null') FROM twilio.manual_actions WHERE id = '$BOB'")"
api POST /api/twilio/voice/dial "$TA" "{\"action_id\":\"$BOB\"}" -H 'Prefer: tx=rollback'
check "POST /voice/dial is the same dial (dry run), nothing kept" "200 queued agent $AGENT 0" \
    "$STATUS $(jf .call.status) $(jf .call.leg) $(jf .call.to_number) $(calls_of $UA)"
api POST /api/twilio/calls "$TA" "{\"action_id\":\"$BOB\"}"
CALL=$(jf .call.id)
check "dial: the agent leg, queued, with the lead's number" "200 queued agent $AGENT +15005550006 +15005550702 $BOB" \
    "$STATUS $(jf .call.status) $(jf .call.leg) $(jf .call.to_number) $(jf .call.from_number) $(jf .call.lead_phone) $(jf .call.action_id)"
check "... the action points at the call; an outbox row" "$CALL 1" \
    "$(q -c "SELECT call_id FROM twilio.manual_actions WHERE id = '$BOB'") $(q -c "SELECT count(*) FROM twilio.outbox WHERE call_id = '$CALL'")"
api GET "/api/twilio/calls/$CALL" "$TA"
check "get the call: itself, its legs, its action" "200 $CALL array $BOB" \
    "$STATUS $(jf .call.id) $(jf '.legs | type') $(jf .action.id)"
api GET "/api/twilio/calls/$CALL" "$TB"
check "B reading A's call: 404" "404 http_not_found" "$STATUS $(jf .error.code)"
api GET /api/twilio/calls/nope "$TA"
check "a call id that is no UUID: 400" "400 22P02" "$STATUS $(jf .error.code)"
api GET "/api/twilio/calls/$(q -c 'SELECT gen_random_uuid()')" "$TA"
check "an unknown call: 404" "404 http_not_found" "$STATUS $(jf .error.code)"

api POST "/api/twilio/actions/$BOB/complete" "$TA" '{"outcome":"no_answer","notes":"left a voicemail"}'
check "complete with auto-advance: the next action comes back claimed" "200 $ANN in_progress" \
    "$STATUS $(jf .next.id) $(jf .next.status)"
check "... the completed one is done with its outcome" "done|no_answer" \
    "$(q -c "SELECT status || '|' || outcome FROM twilio.manual_actions WHERE id = '$BOB'")"
api POST "/api/twilio/actions/$BOB/complete" "$TA" '{"outcome":"callback","notes":"call back at 5"}'
check "completing it again amends it; next is the current action, nothing more claimed" "200 $ANN 1" \
    "$STATUS $(jf .next.id) $(q -c "SELECT count(*) FROM twilio.manual_actions WHERE user_id = '$UA' AND status = 'in_progress'")"
check "... the new outcome, the notes appended" "done|callback|left a voicemail/call back at 5" \
    "$(q -c "SELECT status || '|' || outcome || '|' || replace(notes, E'\n', '/') FROM twilio.manual_actions WHERE id = '$BOB'")"
api POST "/api/twilio/actions/$BOB/skip" "$TA"
check "skipping a done action: 409 55000" "409 55000" "$STATUS $(jf .error.code)"
api POST "/api/twilio/actions/$ANN/skip" "$TA"
check "skip without a body: the next one" "200 $CY" "$STATUS $(jf .next.id)"
api POST "/api/twilio/actions/$ANN/complete" "$TA" '{"outcome":"other"}'
check "completing a skipped action: 409 55000, saying so" "409 55000 yes" \
    "$STATUS $(jf .error.code) $(jf .error.message | grep -q 'already skipped' && echo yes)"
api POST "/api/twilio/actions/$CY/release" "$TA"
check "release: back to open" "200 open" "$STATUS $(jf .action.status)"
api PUT /api/twilio/dialer/settings "$TA" '{"auto_advance":"false"}'
api POST /api/twilio/actions/next "$TA"
api POST "/api/twilio/actions/$CY/complete" "$TA" '{"outcome":"sent"}'
check "without auto-advance, complete hands back nothing" '200 null' "$STATUS $(jf .next)"
api GET "/api/twilio/actions?status=done,skipped" "$TA"
check "the finished ones, latest first" "200 Cy,Ann,Bob" "$STATUS $(jf '[.actions[].title] | join(",")')"

echo "# 7. disconnect"
api DELETE /api/twilio/settings "$TA"
check "disconnect" '200 true' "$STATUS $(jf .disconnected)"
api DELETE /api/twilio/settings "$TA"
check "disconnect again" '200 false' "$STATUS $(jf .disconnected)"

echo "# 8. the API role itself holds nothing"
check "the API role cannot read twilio tables without switching role (NOINHERIT)" "permission denied" \
    "$(psql -X -q -t -A -d postgres -U $API_ROLE -c 'SELECT count(*) FROM twilio.messages' 2>&1 | grep -o 'permission denied' | head -1)"
check "the API role cannot call handle_webhook" f \
    "$(q -c "SELECT has_function_privilege('$API_ROLE', 'twilio.handle_webhook(text, text, text, text)', 'EXECUTE')")"
check "no API session is left inside a transaction or with a role set" 0 \
    "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE usename = '$API_ROLE' AND state <> 'idle'")"

echo "# 9. rate limit, database down, static files"
start_relay $((RELAY_PORT + 1)) "$WORK/relay_rate.log" BYO_TWILIO_API_RATE=0.01 BYO_TWILIO_API_BURST=3 || failed=$((failed + 1))
codes=''
for _ in 1 2 3 4; do
    codes+="$(curl -s -o /dev/null -D "$HDRS" -w '%{http_code}' -H "Authorization: Bearer $TA" \
        "http://127.0.0.1:$((RELAY_PORT + 1))/api/twilio/status") "
done
check "burst of 3, then 429" "200 200 200 429 " "$codes"
check "... with Retry-After" yes "$([[ $(hdr Retry-After) =~ ^[0-9]+$ ]] && echo yes)"
check "another user is not limited by A's burst" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TB" "http://127.0.0.1:$((RELAY_PORT + 1))/api/twilio/status")"
start_relay $((RELAY_PORT + 2)) "$WORK/relay_down.log" \
    "BYO_TWILIO_API_DATABASE_URL=host=$WORK/no-such-socket-dir user=$API_ROLE dbname=postgres" || failed=$((failed + 1))
STATUS=$(curl -s -o "$WORK/body" -D "$HDRS" -w '%{http_code}' -H "Authorization: Bearer $TA" \
    "http://127.0.0.1:$((RELAY_PORT + 2))/api/twilio/status"); BODY=$(cat "$WORK/body")
check "API database unreachable: 503 with Retry-After" "503 5 http_unavailable" "$STATUS $(hdr Retry-After) $(jf .error.code)"
STATUS=$(curl -s -o /dev/null -D "$HDRS" -w '%{http_code}' "$API/ui/seal-token.js")
check "/ui/ serves web/ files" "200 text/javascript; charset=utf-8" "$STATUS $(hdr Content-Type)"
check "/ui/.. does not leave web/" 404 "$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "$API/ui/../CMakeLists.txt")"
check "/ui/%2e%2e/ neither" 404 "$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "$API/ui/%2e%2e/README.md")"
check "/ui/ serves no other types" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$API/ui/package.json")"
check "/ui/ takes GET only" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$API/ui/seal-token.js")"

echo "# 9b. keys fetched from a JWKS URL over HTTPS: refetched on an unknown kid, kept while the URL is down"
stop_last_relay() { kill -TERM "${RELAY_PIDS[-1]}"; wait "${RELAY_PIDS[-1]}" 2>/dev/null; unset 'RELAY_PIDS[-1]'; }
# wait_for WHAT COMMAND...: polls COMMAND (up to 10 s) until it succeeds.
wait_for() {
    local what=$1; shift
    for _ in $(seq 1 200); do "$@" && return 0; sleep 0.05; done
    echo "# timed out waiting for $what"; return 1
}
bash test/standin/make_cert.sh "$WORK/jwks_tls" >/dev/null
cp "$WORK/jwks.json" "$WORK/served_jwks.json"
node test/e2e/jwks_server.js "$WORK/jwks_tls/cert.pem" "$WORK/jwks_tls/key.pem" "$WORK/served_jwks.json" \
    >"$WORK/jwks_server.out" 2>&1 &
JWKS_PID=$!
wait_for "the JWKS server" grep -q '^port ' "$WORK/jwks_server.out"
JWKS_URL="https://127.0.0.1:$(sed -n 's/^port //p' "$WORK/jwks_server.out")/auth/v1/.well-known/jwks.json"
URL_PORT=$((RELAY_PORT + 3))
url_status() { curl -s -o "$WORK/body" -w '%{http_code}' -H "Authorization: Bearer $1" "http://127.0.0.1:$URL_PORT/api/twilio/status"; }
relay_refusal() {  # the relay's exit and config error with the API settings of start_relay plus "$@"
    ( export BYO_TWILIO_DATABASE_URL="host=$PGHOST port=$PGPORT user=postgres dbname=postgres"
      export BYO_TWILIO_PUBLIC_URL=https://relay.example.test BYO_TWILIO_LISTEN=127.0.0.1:$URL_PORT
      export BYO_TWILIO_API_DATABASE_URL="host=$PGHOST port=$PGPORT user=$API_ROLE dbname=postgres"
      for setting in "$@"; do export "$setting"; done
      timeout 10 "$RELAY_BIN" 2>&1 >/dev/null; echo "exit $?" ) | grep -o 'BYO_TWILIO_JWKS_[A-Z_]* [^"]*\|exit [0-9]*' | tr '\n' ' '
}
check "JWKS file and URL both set: the relay refuses to start" \
    "BYO_TWILIO_JWKS_FILE and BYO_TWILIO_JWKS_URL are both set: use one of them exit 2 " \
    "$(relay_refusal "BYO_TWILIO_JWKS_FILE=$WORK/jwks.json" "BYO_TWILIO_JWKS_URL=$JWKS_URL")"
check "a JWKS URL that is not https: refused" "BYO_TWILIO_JWKS_URL must start with https:// exit 2 " \
    "$(relay_refusal "BYO_TWILIO_JWKS_URL=http://127.0.0.1:1/jwks.json")"
# Without the test CA the self-signed certificate must fail verification: no keys, ES256 refused, the relay up.
start_relay "$URL_PORT" "$WORK/relay_jwks_noca.log" BYO_TWILIO_JWKS_FILE= "BYO_TWILIO_JWKS_URL=$JWKS_URL" \
    || failed=$((failed + 1))
check "an unverifiable certificate: a warning at start, ES256 refused" "yes 401" \
    "$(grep -q '"event":"jwks_error","source":"url","trigger":"start"' "$WORK/relay_jwks_noca.log" && echo yes) $(url_status "$TB")"
check "... HS256 still works beside it" 200 "$(url_status "$TA")"
stop_last_relay
start_relay "$URL_PORT" "$WORK/relay_jwks.log" BYO_TWILIO_JWKS_FILE= "BYO_TWILIO_JWKS_URL=$JWKS_URL" \
    "BYO_TWILIO_JWKS_CA_FILE=$WORK/jwks_tls/cert.pem" || failed=$((failed + 1))
check "keys fetched at start" yes \
    "$(grep -q '"event":"jwks_loaded","source":"url","trigger":"start","keys":2' "$WORK/relay_jwks.log" && echo yes)"
check "ES256 token with the URL's kid es1: 200" 200 "$(url_status "$TB")"
cp "$WORK/rotated.json" "$WORK/served_jwks.json"
T2=$(token --alg ES256 --key "$WORK/next.json" --sub $UB)
check "the issuer rotates: a token with the new kid es2 is refused while the relay holds the old set" \
    "401 JWT key id not found" "$(url_status "$T2") $(jq -r .error.message "$WORK/body")"
wait_for "the es2 token" test "$(url_status "$T2")" = 200
check "... and accepted once the unknown kid made the relay fetch again" "200 yes" \
    "$(url_status "$T2") $(grep -q '"event":"jwks_loaded","source":"url","trigger":"unknown_kid","keys":2' "$WORK/relay_jwks.log" && echo yes)"
check "... es1 still valid" 200 "$(url_status "$TB")"
stop_last_relay
start_relay "$URL_PORT" "$WORK/relay_jwks_down.log" BYO_TWILIO_JWKS_FILE= "BYO_TWILIO_JWKS_URL=$JWKS_URL" \
    "BYO_TWILIO_JWKS_CA_FILE=$WORK/jwks_tls/cert.pem" BYO_TWILIO_JWKS_REFRESH_SECONDS=1 || failed=$((failed + 1))
kill -TERM "$JWKS_PID"; wait "$JWKS_PID" 2>/dev/null; JWKS_PID=
wait_for "a failed scheduled fetch" grep -q '"event":"jwks_error","source":"url","trigger":"schedule"' "$WORK/relay_jwks_down.log"
check "JWKS URL down: a warning, the last good keys stay in use" "yes 200 200" \
    "$(grep -q '"kept":"previous keys"' "$WORK/relay_jwks_down.log" && echo yes) $(url_status "$TB") $(url_status "$T2")"
stop_last_relay

echo "# 10. logs"
LOGS=$(cat "$WORK"/relay*.log)
leaks=0
for secret in "$TA" "$TB" "$SEALED_A" "$ALICE_TOKEN" "$BYO_TWILIO_JWT_SECRET" "hello from the API" "sms from the API"; do
    grep -qF -- "$secret" <<<"$LOGS" && leaks=$((leaks + 1))
done
check "no token, secret or message body in the relay logs" 0 "$leaks"
check "API requests are logged" yes "$(grep -q '"path":"/api/twilio/sms","status":200' <<<"$LOGS" && echo yes)"
finish
