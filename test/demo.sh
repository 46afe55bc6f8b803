#!/usr/bin/env bash
# Demo, end to end on a throwaway local cluster: two app users each connect their own Twilio account (against
# the local Twilio stand-in), see their own status, neither can see the other's settings, each sends an SMS and a
# Conversations message that the dispatcher delivers with that user's own account, and each receives an inbound
# message and a delivery receipt through the webhook relay, signed by Twilio's own helper library. Then each runs
# a two-step drip campaign and places a click-to-call whose status callbacks settle the action and auto-advance.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
WORK=$ROOT/.tmp/demo
rm -rf "$WORK" && mkdir -p "$WORK"

bash test/lib/install_deps.sh
make -s -j2 >"$WORK/make.log" 2>&1 && make -s install >>"$WORK/make.log" 2>&1 || { tail -30 "$WORK/make.log"; exit 1; }
{ cmake -S . -B build && cmake --build build -j2 --target byo-twilio-relay; } >"$WORK/cmake.log" 2>&1 \
    || { tail -30 "$WORK/cmake.log"; exit 1; }

export BYO_PGPORT=${BYO_PGPORT:-54339} STANDIN_PORT=${STANDIN_PORT:-4030} STANDIN_TLS_PORT=${STANDIN_TLS_PORT:-4031}
source test/lib/cluster.sh
source test/lib/standins.sh
RELAY_PID=
trap '[ -n "$RELAY_PID" ] && kill "$RELAY_PID" 2>/dev/null; cluster_remove; standins_stop' EXIT
standins_start "$WORK/standins" no
STANDIN_URL="http://127.0.0.1:$STANDIN_PORT"
PUBLIC_URL=https://hooks.demo.test
RELAY_PORT=${RELAY_PORT:-4032}
cluster_start "byo_twilio.encryption_key = 'k1:$(openssl rand -hex 32)'
byo_twilio.webhook_base_url = '$PUBLIC_URL'
byo_twilio.api_base_url = '$STANDIN_URL'
byo_twilio.conversations_base_url = '$STANDIN_URL'
byo_twilio.messaging_base_url = '$STANDIN_URL'
# pg_cron runs the drip tick; 1.4 would connect over TCP, and this cluster listens on its socket only.
cron.use_background_workers = on"
eval "$(node test/lib/fixture_env.js test/standin/fixtures.json)"

# The dispatcher serves the database named by byo_twilio.database (default: postgres).
DB=postgres
psql -X -q -d $DB -f sql/byo_twilio_auth_compat.sql
psql -X -q -d $DB -c "CREATE EXTENSION byo_twilio"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# Runs SQL as an app user: the `authenticated` role with that user's JWT claims, as PostgREST does.
as_user() {
    local uid=$1; shift
    psql -X -q -d $DB -v ON_ERROR_STOP=0 -v alice_sid="$ALICE_SID" -v alice_token="${ALICE_SEALED:-}" \
        -v bob_sid="$BOB_SID" -v bob_token="${BOB_SEALED:-}" -v wrong_token="${WRONG_SEALED:-}" \
        -c "SET ROLE authenticated" -c "SET request.jwt.claims = '{\"sub\": \"$uid\"}'" "$@"
}
ALICE=00000000-0000-0000-0000-00000000a11c
BOB=00000000-0000-0000-0000-000000000b0b

step "Two app users sign up"
psql -X -q -d $DB -c "INSERT INTO auth.users (id, email) VALUES ('$ALICE', 'alice@example.com'), ('$BOB', 'bob@example.com')"
echo "alice = $ALICE, bob = $BOB"

step "Before connecting: status"
as_user "$ALICE" -c "SELECT 'alice' AS who, state, reason, can_send FROM twilio.status()"

step "Each seals their auth token in the app (web/seal-token.js), so SQL and its logs never see it in plaintext"
KEY=$(psql -X -q -At -d $DB -c "SELECT twilio.token_sealing_key()")
ALICE_SEALED=$(node test/lib/seal_token.js "$KEY" "$ALICE" "$ALICE_SID" "$ALICE_TOKEN")
BOB_SEALED=$(node test/lib/seal_token.js "$KEY" "$BOB" "$BOB_SID" "$BOB_TOKEN")
WRONG_SEALED=$(node test/lib/seal_token.js "$KEY" "$ALICE" "$ALICE_SID" "$BOB_TOKEN")  # bob's token, alice's account
echo "alice's sealed token: ${ALICE_SEALED:0:40}..."

step "Each connects their own Twilio account (verified against Twilio before saving)"
as_user "$ALICE" -f - <<'SQL'
SELECT 'alice' AS who, account_sid, sms_number, status, auth_token_masked
  FROM twilio.save_settings(:'alice_sid', :'alice_token', 'ISa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1',
                            'MGa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', '+15005550006');
SQL
as_user "$BOB" -f - <<'SQL'
SELECT 'bob' AS who, account_sid, sms_number, status, auth_token_masked
  FROM twilio.save_settings(:'bob_sid', :'bob_token', 'ISb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0',
                            'MGb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0', '+15005550009');
SQL

step "A wrong token is refused, and nothing is saved"
as_user "$ALICE" -f - <<'SQL' 2>&1 | grep -E 'ERROR|HINT' || true
SELECT twilio.save_settings(:'alice_sid', :'wrong_token');
SQL

step "Status of each"
as_user "$ALICE" -c "SELECT 'alice' AS who, state, reason, source, can_send FROM twilio.status()"
as_user "$BOB" -c "SELECT 'bob' AS who, state, reason, source, can_send FROM twilio.status()"

step "Each sees only their own settings (row-level security)"
as_user "$ALICE" -c "SELECT 'alice sees' AS who, account_sid, sms_number FROM twilio.user_settings"
as_user "$BOB" -c "SELECT 'bob sees' AS who, account_sid, sms_number FROM twilio.user_settings"
as_user "$BOB" -c "WITH u AS (UPDATE twilio.user_settings SET status = 'disabled' WHERE user_id = '$ALICE' RETURNING 1)
                    SELECT count(*) AS rows_of_alice_bob_could_disable FROM u"

step "Nobody can read the encrypted token column, not even its owner"
as_user "$ALICE" -c "SELECT auth_token_envelope FROM twilio.user_settings" 2>&1 | grep ERROR || true

step "Each sends an SMS and a Conversations message (queued in their transaction; sent after commit)"
as_user "$ALICE" -c "SELECT twilio.send_sms('+15005550100', 'Hi from Alice') AS sms_id" \
    -c "SELECT twilio.send_conversation_message(twilio.get_or_create_conversation_for_lead(
            '11111111-0000-0000-0000-00000000a11c', '+15005550200', 'Alice''s lead'), 'Welcome aboard!') AS message_id"
as_user "$BOB" -c "SELECT twilio.send_sms('+15005550101', 'Hi from Bob') AS sms_id" \
    -c "SELECT twilio.send_conversation_message(twilio.get_or_create_conversation_for_lead(
            '22222222-0000-0000-0000-000000000b0b', '+15005550201', 'Bob''s lead'), 'Thanks for your interest') AS message_id"
for _ in $(seq 1 100); do
    [ "$(psql -X -q -t -A -d $DB -c "SELECT backlog + in_flight + ambiguous FROM twilio.outbox_status")" = 0 ] && break
    sleep 0.1
done

step "Their messages' statuses"
as_user "$ALICE" -c "SELECT 'alice' AS who, channel, to_number, body, status, twilio_sid IS NOT NULL AS has_twilio_sid FROM twilio.messages ORDER BY channel"
as_user "$BOB" -c "SELECT 'bob' AS who, channel, to_number, body, status, twilio_sid IS NOT NULL AS has_twilio_sid FROM twilio.messages ORDER BY channel"
as_user "$ALICE" -c "SELECT * FROM twilio.outbox_status"

step "Twilio saw each user's own credentials (Basic auth user per request, from the stand-in's log)"
STANDIN_URL=$STANDIN_URL node test/lib/standin_requests.js --fields Body

step "The webhook relay starts (its own role may only call twilio.handle_webhook)"
psql -X -q -d $DB -c "CREATE ROLE byo_twilio_relay LOGIN" -c "GRANT USAGE ON SCHEMA twilio TO byo_twilio_relay" \
    -c "GRANT EXECUTE ON FUNCTION twilio.handle_webhook(text, text, text, text), twilio.handle_webhooks(text[], text[], text[], text[]) TO byo_twilio_relay"
BYO_TWILIO_DATABASE_URL="host=$PGHOST port=$PGPORT user=byo_twilio_relay dbname=$DB" \
BYO_TWILIO_LISTEN=127.0.0.1:$RELAY_PORT BYO_TWILIO_PUBLIC_URL=$PUBLIC_URL \
    ./build/byo-twilio-relay 2>"$WORK/relay.log" &
RELAY_PID=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$RELAY_PORT/readyz" >/dev/null && break; sleep 0.1; done
as_user "$ALICE" -c "SELECT key, value FROM twilio.get_settings(), jsonb_each_text(webhook_urls) ORDER BY key"

step "Twilio posts an inbound SMS and a delivery receipt for each user, signed with that user's token"
relay_post() {  # user uuid, token variable, kind, params JSON
    local key url
    key=$(psql -X -q -t -A -d $DB -c "SELECT webhook_key FROM twilio.user_settings WHERE user_id = '$1'")
    url="$PUBLIC_URL/twilio/$key/$3"
    printf '%-8s -> ' "$3"
    node test/lib/post_webhook.js "http://127.0.0.1:$RELAY_PORT" "$url" "$2" "$4" | cut -c1-60
}
for who in ALICE:alice:ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1:+15005550006 BOB:bob:ACb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0:+15005550008; do
    IFS=: read -r var name sid number <<<"$who"
    uid=$([ "$name" = alice ] && echo "$ALICE" || echo "$BOB")
    echo "$name:"
    relay_post "$uid" "${var}_TOKEN" sms "{\"MessageSid\":\"SM$(openssl rand -hex 16)\",\"AccountSid\":\"$sid\",\"From\":\"+15005550777\",\"To\":\"$number\",\"Body\":\"Hello $name, this is a customer\",\"SmsStatus\":\"received\"}"
    sms_sid=$(psql -X -q -t -A -d $DB -c "SELECT twilio_sid FROM twilio.messages WHERE user_id = '$uid' AND channel = 'sms' AND direction = 'outbound'")
    relay_post "$uid" "${var}_TOKEN" status "{\"MessageSid\":\"$sms_sid\",\"AccountSid\":\"$sid\",\"MessageStatus\":\"delivered\"}"
done
echo "a forged one (alice's URL, bob's token):"
relay_post "$ALICE" BOB_TOKEN sms '{"MessageSid":"SM00000000000000000000000000000bad","From":"+15005550777","To":"+15005550006","Body":"forged"}'

step "What each user now has (inbound message, delivered SMS)"
as_user "$ALICE" -c "SELECT 'alice' AS who, direction, channel, from_number, body, status FROM twilio.messages WHERE channel = 'sms' ORDER BY direction"
as_user "$BOB" -c "SELECT 'bob' AS who, direction, channel, from_number, body, status FROM twilio.messages WHERE channel = 'sms' ORDER BY direction"
as_user "$ALICE" -c "SELECT 'alice' AS who, kind, event_type, effect FROM twilio.webhook_events ORDER BY id"

step "Drip campaigns: each user enrolls a lead in their own two-step campaign"
for who in ALICE:alice:+15005550300:Ada BOB:bob:+15005550301:Ben; do
    IFS=: read -r var name phone lead <<<"$who"
    uid=$([ "$name" = alice ] && echo "$ALICE" || echo "$BOB")
    as_user "$uid" -v name="$name" -v phone="$phone" -v lead="$lead" -f - <<'SQL'
SELECT twilio.create_campaign('Welcome from ' || :'name', 'sms', 'America/New_York') AS c \gset
SELECT twilio.add_step(:'c', 'Hi {{first_name|there}}, welcome! (' || :'name' || ')') IS NOT NULL AS step_1_now,
       twilio.add_step(:'c', 'Still there, {{first_name}}? 10% off today. (' || :'name' || ')', '3 seconds')
           IS NOT NULL AS step_2_three_seconds_later;
SELECT twilio.activate_campaign(:'c');
SELECT :'name' AS who, body, segments, encoding
  FROM twilio.preview_step((SELECT id FROM twilio.campaign_steps WHERE campaign_id = :'c' AND position = 1),
                           jsonb_build_object('first_name', :'lead'));
SELECT twilio.enroll(:'c', NULL, :'phone', 'Europe/Paris', jsonb_build_object('first_name', :'lead')) IS NOT NULL
    AS enrolled;
SQL
done

step "pg_cron runs the sending pass (twilio.drip_tick) every minute: the operator schedules it once"
psql -X -q -d $DB -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS pg_cron"
psql -X -q -d $DB -c "SELECT twilio.schedule_drips('1 minute') AS cron_job_id"
psql -X -q -d $DB -c "SELECT jobname, schedule, command FROM cron.job"
echo "Debian 12's pg_cron 1.4 has only minute schedules (1.5 takes '10 seconds'): the first step goes out at the"
echo "next minute, the second (due 3 seconds later) at the one after. Waiting for pg_cron..."
for _ in $(seq 1 360); do
    [ "$(psql -X -q -t -A -d $DB -c "SELECT count(*) FROM twilio.enrollments WHERE status = 'completed'")" = 2 ] && break
    sleep 0.5
done
psql -X -q -d $DB -c "SELECT count(*) AS pg_cron_runs, bool_and(status = 'succeeded') AS all_succeeded
                        FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname = 'byo_twilio_drips'"
for _ in $(seq 1 100); do
    [ "$(psql -X -q -t -A -d $DB -c "SELECT backlog + in_flight + ambiguous FROM twilio.outbox_status")" = 0 ] && break
    sleep 0.1
done
as_user "$ALICE" -c "SELECT 'alice' AS who, e.phone, e.status, s.position, m.body, m.status AS message_status
                       FROM twilio.enrollments e JOIN twilio.enrollment_sends s ON s.enrollment_id = e.id
                       JOIN twilio.messages m ON m.id = s.message_id ORDER BY s.position"
as_user "$BOB" -c "SELECT 'bob' AS who, e.phone, e.status, s.position, m.body, m.status AS message_status
                     FROM twilio.enrollments e JOIN twilio.enrollment_sends s ON s.enrollment_id = e.id
                     JOIN twilio.messages m ON m.id = s.message_id ORDER BY s.position"
echo "Twilio saw each drip with its user's own account:"
STANDIN_URL=$STANDIN_URL node test/lib/standin_requests.js --path 'Messages.json$' --fields To,Body | grep -E 'Body=(Hi [A-Z][a-z]+, welcome|Still there)'

step "Twilio reports alice's first drip delivered; bob's lead replies"
first_drip=$(psql -X -q -t -A -d $DB -c "SELECT m.twilio_sid FROM twilio.enrollment_sends s JOIN twilio.messages m
                                          ON m.user_id = s.user_id AND m.id = s.message_id
                                         WHERE s.user_id = '$ALICE' AND s.position = 1")
relay_post "$ALICE" ALICE_TOKEN status "{\"MessageSid\":\"$first_drip\",\"AccountSid\":\"ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\",\"MessageStatus\":\"delivered\"}"
relay_post "$BOB" BOB_TOKEN sms "{\"MessageSid\":\"SM$(openssl rand -hex 16)\",\"AccountSid\":\"ACb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0\",\"From\":\"+15005550301\",\"To\":\"+15005550009\",\"Body\":\"Thanks, see you soon\",\"SmsStatus\":\"received\"}"

step "Each user's drip analytics (their own campaigns only)"
as_user "$ALICE" -c "SELECT 'alice' AS who, campaign_name, step_position, sent, delivered, failed, replies, opt_outs, segments,
                            delivery_rate, reply_rate FROM twilio.analytics(current_date - 30, current_date)"
as_user "$BOB" -c "SELECT 'bob' AS who, campaign_name, step_position, sent, delivered, failed, replies, opt_outs, segments,
                          delivery_rate, reply_rate FROM twilio.analytics(current_date - 30, current_date)"

step "Power dialer: each user queues two calls to a lead and dials the first (Twilio rings the agent, then bridges)"
echo "(calling hours are opened to the whole day here so the demo runs at any hour; the default is 08:00-21:00)"
for who in ALICE:alice:+15005550300:+15005550400 BOB:bob:+15005550301:+15005550401; do
    IFS=: read -r var name lead agent <<<"$who"
    uid=$([ "$name" = alice ] && echo "$ALICE" || echo "$BOB")
    as_user "$uid" -v name="$name" -v lead="$lead" -v agent="$agent" -f - <<'SQL'
SELECT :'name' AS who, agent_phone, calling_hours_start, calling_hours_end, default_time_zone, auto_advance
  FROM twilio.save_dialer_settings(agent_phone => :'agent', calling_hours_start => '00:00',
                                   calling_hours_end => '23:59:59', default_time_zone => 'Europe/Paris');
SELECT :'name' AS who, kind, title, phone, status
  FROM twilio.create_actions(jsonb_build_array(
           jsonb_build_object('kind', 'call', 'title', 'Call about the quote', 'phone', :'lead', 'priority', 1),
           jsonb_build_object('kind', 'call', 'title', 'Follow-up call', 'phone', :'lead')));
SELECT :'name' AS who, title, status AS now FROM twilio.next_action();
SELECT :'name' AS who, leg, status, to_number AS rings_first, lead_phone AS then_bridges_to, from_number AS caller_id
  FROM twilio.dial(action_id => (SELECT id FROM twilio.current_action()));
SQL
done
for _ in $(seq 1 100); do
    [ "$(psql -X -q -t -A -d $DB -c "SELECT backlog + in_flight + ambiguous FROM twilio.outbox_status")" = 0 ] && break
    sleep 0.1
done
echo "Twilio saw each call with its user's own account (the bridge to the lead is the call's inline TwiML):"
STANDIN_URL=$STANDIN_URL node test/lib/standin_requests.js --path 'Calls.json$' --fields To,From

step "Twilio reports each call's progress, both legs, signed with that user's token: the lead answers, they talk"
call_callbacks() {  # user uuid, token variable, account sid
    local agent_sid lead_sid agent lead from
    IFS='|' read -r agent_sid agent lead from < <(psql -X -q -t -A -d $DB -c "SELECT call_sid, to_number, lead_phone,
        from_number FROM twilio.voice_calls WHERE user_id = '$1' AND leg = 'agent'")
    lead_sid=CA$(openssl rand -hex 16)
    cb() {  # user, token variable, account, call sid, status, sequence number, more JSON fields
        relay_post "$1" "$2" voice_status "{\"AccountSid\":\"$3\",\"CallSid\":\"$4\",\"CallStatus\":\"$5\",\"SequenceNumber\":\"$6\"$7}"
    }
    local to_agent=",\"From\":\"$from\",\"To\":\"$agent\",\"Direction\":\"outbound-api\""
    local to_lead=",\"From\":\"$from\",\"To\":\"$lead\",\"Direction\":\"outbound-dial\",\"ParentCallSid\":\"$agent_sid\""
    cb "$1" "$2" "$3" "$agent_sid" initiated 0 "$to_agent"
    cb "$1" "$2" "$3" "$agent_sid" ringing 1 "$to_agent"
    cb "$1" "$2" "$3" "$agent_sid" in-progress 2 "$to_agent"
    cb "$1" "$2" "$3" "$lead_sid" ringing 0 "$to_lead"
    cb "$1" "$2" "$3" "$lead_sid" in-progress 1 "$to_lead"
    cb "$1" "$2" "$3" "$lead_sid" completed 2 "$to_lead,\"CallDuration\":\"42\""
    cb "$1" "$2" "$3" "$agent_sid" completed 3 "$to_agent,\"CallDuration\":\"51\""
}
echo "alice:"; call_callbacks "$ALICE" ALICE_TOKEN ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1
echo "bob:"; call_callbacks "$BOB" BOB_TOKEN ACb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0

step "Each user's calls (both legs), the action's outcome, and the next action handed out (auto-advance)"
for who in "$ALICE":alice "$BOB":bob; do
    IFS=: read -r uid name <<<"$who"
    as_user "$uid" -v name="$name" -f - <<'SQL'
SELECT :'name' AS who, leg, status, to_number, duration_seconds, answered_at IS NOT NULL AS answered
  FROM twilio.voice_calls ORDER BY created_at;
SELECT :'name' AS who, title, status, outcome FROM twilio.manual_actions ORDER BY priority DESC, created_at;
SQL
done

step "Done"
