#!/usr/bin/env bash
# Drips end to end: pg_cron itself runs twilio.drip_tick in the test cluster, every minute (Debian 12's pg_cron 1.4
# has no second-level schedules: twilio.schedule_drips('1 second') needs pg_cron 1.5; checked below). Two users,
# each with their own Twilio account at the stand-in and their own campaign; steps go out in order, each no
# earlier than its delay, with that user's own credentials (counted per Basic-auth user at the stand-in); a reply
# (a signed webhook through twilio.handle_webhook) stops one enrollment, a STOP another; analytics add up.
# Every wait is on an event (a row), with a deadline. Runs against the cluster run.sh started (PGHOST/PGPORT,
# STANDIN_URL, ALICE_*/BOB_*); prints "drips: N passed, M failed".
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
passed=0 failed=0
check() {  # $1 description, $2 expected, $3 actual
    if [ "$2" = "$3" ]; then passed=$((passed + 1)); echo "ok - $1"; else failed=$((failed + 1)); echo "not ok - $1: expected [$2], got [$3]"; fi
}
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -d postgres)
sql() { "${PSQL[@]}" -c "$1"; }
as_user() {  # $1 user id, $2 SQL: run as that authenticated user
    "${PSQL[@]}" -c "SET ROLE authenticated" -c "SET request.jwt.claims = '{\"sub\": \"$1\"}'" -c "$2"
}
# Waits (up to 200 s: ticks come once a minute) for a SQL condition to hold; says "yes" or "timed out".
wait_for() {
    sql "DO \$\$ DECLARE deadline timestamptz := clock_timestamp() + interval '200 seconds'; ok boolean;
         BEGIN LOOP EXECUTE \$q\$SELECT ($1)\$q\$ INTO ok; EXIT WHEN ok OR clock_timestamp() > deadline;
                    PERFORM pg_sleep(0.1); END LOOP; END \$\$" && sql "SELECT CASE WHEN ($1) THEN 'yes' ELSE 'timed out' END"
}
U1=00000000-0000-0000-0000-00000000e2d1
U2=00000000-0000-0000-0000-00000000e2d2
finish() { sql "SELECT twilio.unschedule_drips()" >/dev/null 2>&1; }
trap finish EXIT

# pg_cron runs jobs over a libpq connection to cron.host (localhost) unless it uses background workers; the test
# cluster listens on a Unix socket only, so turn them on (a restart) when run.sh did not already.
if [ "$(sql "SHOW cron.use_background_workers")" != on ]; then
    sql "ALTER SYSTEM SET cron.use_background_workers = on" >/dev/null
    runuser -u postgres -- "$(pg_config --bindir)/pg_ctl" -D "$BYO_CLUSTER_DIR/data" -m fast -w -t 60 restart >/dev/null
fi
check "pg_cron runs jobs in background workers" on "$(sql "SHOW cron.use_background_workers")"
sql "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS pg_cron" >/dev/null
sql "INSERT INTO auth.users (id, email) VALUES ('$U1', 'drip1@example.com'), ('$U2', 'drip2@example.com')
     ON CONFLICT DO NOTHING" >/dev/null
as_user $U1 "SELECT account_sid FROM twilio.save_settings('$ALICE_SID', '$ALICE_TOKEN', NULL,
             'MGa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', '+15005550006')" >/dev/null
as_user $U2 "SELECT account_sid FROM twilio.save_settings('$BOB_SID', '$BOB_TOKEN', NULL,
             'MGb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0', '+15005550008')" >/dev/null
C1=$(as_user $U1 "SELECT twilio.create_campaign('Tour A', 'sms', 'America/New_York')")
as_user $U1 "SELECT twilio.add_step('$C1', 'A1 hi {{first_name}}'), twilio.add_step('$C1', 'A2 {{first_name}}', '30 seconds'),
             twilio.add_step('$C1', 'A3 bye', '30 seconds'), twilio.activate_campaign('$C1')" >/dev/null
C2=$(as_user $U2 "SELECT twilio.create_campaign('Tour B', 'sms', 'Europe/Paris')")
as_user $U2 "SELECT twilio.add_step('$C2', 'B1 hello {{first_name|there}}'), twilio.add_step('$C2', 'B2 again', '30 seconds'),
             twilio.activate_campaign('$C2')" >/dev/null
curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
as_user $U1 "SELECT count(*) FROM twilio.enroll_many('$C1', '[{\"phone\": \"+15005550701\", \"variables\": {\"first_name\": \"Ann\"}},
             {\"phone\": \"+15005550702\", \"variables\": {\"first_name\": \"Abe\"}}]')" >/dev/null
as_user $U2 "SELECT count(*) FROM twilio.enroll_many('$C2', '[{\"phone\": \"+15005550801\"},
             {\"phone\": \"+15005550802\", \"time_zone\": \"Asia/Tokyo\"}]')" >/dev/null

SECONDS_OK=$(sql "SELECT twilio.schedule_drips('1 second') IS NOT NULL" 2>&1)
case "$SECONDS_OK" in
    t) check "schedule_drips takes a one-second schedule (pg_cron >= 1.5)" "1 seconds" \
           "$(sql "SELECT schedule FROM cron.job WHERE jobname = 'byo_twilio_drips'")" ;;
    *) check "schedule_drips refuses second schedules that this pg_cron lacks, saying why" "pg_cron refused" \
           "$(grep -o 'pg_cron refused' <<<"$SECONDS_OK")" ;;
esac
check "schedule_drips installs (or changes) the pg_cron job" "*/1 * * * *|SELECT twilio.drip_tick(500)" \
    "$(sql "SELECT twilio.schedule_drips('1 minute') IS NOT NULL" >/dev/null;
       sql "SELECT schedule || '|' || command FROM cron.job WHERE jobname = 'byo_twilio_drips'")"

# First steps go out; then a reply from +15005550701 and a STOP from +15005550801 arrive as signed webhooks.
check "pg_cron's tick sends each first step" yes \
    "$(wait_for "(SELECT count(*) FROM twilio.enrollment_sends WHERE user_id IN ('$U1', '$U2') AND position = 1) = 4")"
webhook() {  # $1 user, $2 token, $3 from, $4 body, $5 MessageSid: inbound SMS, signed with the user's own token
    sql "WITH s AS (SELECT webhook_key, account_sid, sms_number FROM twilio.user_settings WHERE user_id = '$1'),
              p AS (SELECT 'https://relay.example.test/twilio/' || webhook_key || '/sms' AS url,
                           jsonb_build_object('MessageSid', '$5', 'AccountSid', account_sid, 'From', '$3',
                                              'To', sms_number, 'Body', '$4') AS params FROM s)
         SELECT h.status FROM p, twilio.handle_webhook(p.url, twilio.compute_signature('$2', p.url, p.params),
             'application/x-www-form-urlencoded',
             (SELECT string_agg(k || '=' || replace(replace(v, '+', '%2B'), ' ', '+'), '&') FROM jsonb_each_text(p.params) e(k, v))) h"
}
check "the reply webhook is accepted" 200 "$(webhook $U1 "$ALICE_TOKEN" +15005550701 'Sounds good' SM00000000000000000000000000e2d701)"
SENT_701=$(sql "SELECT count(*) FROM twilio.enrollment_sends WHERE user_id = '$U1' AND phone = '+15005550701'")
check "the STOP webhook is accepted" 200 "$(webhook $U2 "$BOB_TOKEN" +15005550801 STOP SM00000000000000000000000000e2d801)"
SENT_801=$(sql "SELECT count(*) FROM twilio.enrollment_sends WHERE user_id = '$U2' AND phone = '+15005550801'")
check "the reply stops that enrollment" "stopped replied" \
    "$(sql "SELECT status || ' ' || stop_reason FROM twilio.enrollments WHERE user_id = '$U1' AND phone = '+15005550701'")"
check "the STOP stops that enrollment as an opt-out" "stopped opted_out" \
    "$(sql "SELECT status || ' ' || stop_reason FROM twilio.enrollments WHERE user_id = '$U2' AND phone = '+15005550801'")"

# The others run to the end, step by step.
check "the other enrollments complete" yes \
    "$(wait_for "(SELECT count(*) FROM twilio.enrollments WHERE user_id IN ('$U1', '$U2') AND status = 'completed') = 2")"
check "steps went out in order, each no earlier than its delay after the previous" "1,2,3 true|1,2 true" \
    "$(sql "SELECT string_agg(positions || ' ' || on_time, '|' ORDER BY phone) FROM (
              SELECT phone, string_agg(position::text, ',' ORDER BY sent_at) AS positions,
                     bool_and(sent_at >= coalesce(prev + interval '30 seconds', sent_at)) AS on_time
                FROM (SELECT phone, position, sent_at, lag(sent_at) OVER (PARTITION BY phone ORDER BY position) AS prev
                        FROM twilio.enrollment_sends WHERE phone IN ('+15005550702', '+15005550802')) x
               GROUP BY phone) y")"
check "nothing was sent after the reply or the STOP" "$SENT_701 $SENT_801" \
    "$(sql "SELECT (SELECT count(*) FROM twilio.enrollment_sends WHERE user_id = '$U1' AND phone = '+15005550701') || ' ' ||
                   (SELECT count(*) FROM twilio.enrollment_sends WHERE user_id = '$U2' AND phone = '+15005550801')")"

# At the stand-in: every drip request carried its own user's account, and nothing else reached those numbers.
check "the dispatcher sent every drip message" yes \
    "$(wait_for "NOT EXISTS (SELECT 1 FROM twilio.outbox WHERE user_id IN ('$U1', '$U2') AND state IN ('pending', 'in_flight', 'ambiguous'))")"
REQS=$(node test/lib/standin_requests.js --method POST --path '/Messages.json$' --fields To,Body)
count() { grep -cE "$1" <<<"$REQS"; }
check "user 1's steps went out as user 1's account" "$((SENT_701 + 3))" "$(count "as $ALICE_SID To=\+1500555070[12] Body=A")"
check "user 2's steps went out as user 2's account" "$((SENT_801 + 2))" "$(count "as $BOB_SID To=\+1500555080[12] Body=B")"
check "no drip request went out with the other user's account" "0 0" \
    "$(count "as $BOB_SID To=\+1500555070") $(count "as $ALICE_SID To=\+1500555080")"
check "the messages are rendered with each contact's variables" "A1 hi Abe|A2 Abe|A3 bye|B1 hello there" \
    "$(sql "SELECT string_agg(DISTINCT body, '|' ORDER BY body) FROM twilio.messages
             WHERE user_id IN ('$U1', '$U2') AND to_number IN ('+15005550702', '+15005550802') AND body <> 'B2 again'")"

# Analytics: each user sees their own campaign; the reply and the STOP count for the step that reached them.
check "user 1's analytics" "Tour A 1 2 1 0|Tour A 2 1 0 0|Tour A 3 1 0 0" \
    "$(as_user $U1 "SELECT string_agg(concat_ws(' ', campaign_name, step_position, sent, replies, opt_outs), '|'
                                       ORDER BY step_position) FROM twilio.analytics(current_date - 1, current_date + 1)" | tail -1)"
check "user 2's analytics" "Tour B 1 2 0 1|Tour B 2 1 0 0" \
    "$(as_user $U2 "SELECT string_agg(concat_ws(' ', campaign_name, step_position, sent, replies, opt_outs), '|'
                                       ORDER BY step_position) FROM twilio.analytics(current_date - 1, current_date + 1)" | tail -1)"
check "pg_cron ran the tick (succeeded runs recorded)" t \
    "$(sql "SELECT count(*) > 0 FROM cron.job_run_details d JOIN cron.job j ON j.jobid = d.jobid
             WHERE j.jobname = 'byo_twilio_drips' AND d.status = 'succeeded'")"
check "unschedule_drips removes the job" "t 0" \
    "$(sql "SELECT twilio.unschedule_drips()") $(sql "SELECT count(*) FROM cron.job WHERE jobname = 'byo_twilio_drips'")"
echo "drips: $passed passed, $failed failed"
[ "$failed" = 0 ]
