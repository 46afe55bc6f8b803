#!/usr/bin/env bash
# Crash safety of the drip tick, end to end. One user's campaign of two steps (both due at once) for N contacts:
#   1. a pass sends every first step and commits; the dispatcher sends them slowly (the stand-in answers late);
#   2. a second pass is caught mid-statement (it waits on a rollup row another session holds, having claimed and
#      written its rows) and PostgreSQL is restarted in immediate mode: that pass must leave nothing behind, and
#      the next passes send every second step;
#   3. M more contacts, and two passes at once, both caught mid-statement: the second skips what the first claimed.
# Then every step must be recorded once and reach the stand-in exactly once (its request log, by Body).
# Waits are on events (a row count, a backend waiting on a lock), each with a deadline; never on a fixed time.
# Runs against the cluster and stand-in test/run.sh started (PGHOST, PGPORT, STANDIN_URL, BYO_CLUSTER_DIR, ALICE_*).
# Prints "drips_crash: N passed, M failed".
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
N=200
M=100
U=00000000-0000-0000-0000-00000000dc01
WORK=$(mktemp -d /tmp/byo_drips_crash.XXXXXX)
chmod 777 "$WORK"
passed=0 failed=0
check() {  # $1 description, $2 expected, $3 actual
    if [ "$2" = "$3" ]; then passed=$((passed + 1)); echo "ok - $1"; else failed=$((failed + 1)); echo "not ok - $1: expected [$2], got [$3]"; fi
}
q() { psql -X -q -t -A -d postgres "$@"; }
BG=()
finish() {
    local pid
    for pid in "${BG[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    curl -s -o /dev/null -X DELETE "$STANDIN_URL/__faults"
    rm -rf "$WORK"
}
trap finish EXIT
# Polls a query until it answers t; at most 60 s.
wait_until() {
    for _ in $(seq 1 1200); do [ "$(q -c "$1" 2>/dev/null)" = t ] && return 0; sleep 0.05; done
    echo "# gave up waiting for: $1"; return 1
}
waiting_on_lock() {  # $1 application_name: that session is blocked on a lock
    echo "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = '$1' AND wait_event_type = 'Lock')"
}
# Holds, in a session named $1, an uncommitted rollup row for step $2 of the campaign today, so that a pass that
# sends that step waits on it mid-statement (its ON CONFLICT must know whether the row commits). Until cancelled.
hold_rollup() {
    PGAPPNAME=$1 psql -X -q -d postgres -c "BEGIN" -c "
        INSERT INTO twilio.campaign_stats_daily (user_id, campaign_id, day, step_id, position)
        SELECT user_id, campaign_id, (now() AT TIME ZONE 'UTC')::date, id, position FROM twilio.campaign_steps
         WHERE user_id = '$U' AND position = $2
        ON CONFLICT (user_id, campaign_id, day, step_id) DO UPDATE SET sent = twilio.campaign_stats_daily.sent
        RETURNING 1" -c "SELECT pg_sleep(3600)" >/dev/null 2>&1 &
    BG+=($!)
    wait_until "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = '$1' AND wait_event = 'PgSleep')"
}
release() { q -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = '$1'" >/dev/null; }
pass_in_background() {  # $1 application_name, $2 max_rows: the pass's result lands in $WORK/$1
    PGAPPNAME=$1 psql -X -q -t -A -d postgres -c "SELECT claimed || ' ' || sent FROM twilio.drip_tick($2)" \
        >"$WORK/$1" 2>&1 &
    BG+=($!)
}
until_all_sent() {  # separate passes until none of the user's enrollments is active any more; at most 100
    for _ in $(seq 1 100); do
        [ "$(q -c "SELECT count(*) FROM twilio.enrollments WHERE user_id = '$U' AND status = 'active'")" = 0 ] && return 0
        q -c "SELECT twilio.drip_tick(1000)" >/dev/null
    done
    echo "# enrollments still active after 100 passes"; return 1
}
count_sends() { q -c "SELECT count(*) FROM twilio.enrollment_sends WHERE user_id = '$U' AND position = $1"; }

eval "$(node test/lib/fixture_env.js test/standin/fixtures.json)"
q -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS pg_cron" -c "SELECT twilio.unschedule_drips()" >/dev/null
q -c "INSERT INTO auth.users (id, email) VALUES ('$U', 'drips-crash@example.com') ON CONFLICT DO NOTHING" >/dev/null
q -v sid="$ALICE_SID" -v tok="$ALICE_TOKEN" >/dev/null <<SQL
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "$U"}';
SELECT twilio.save_settings(:'sid', :'tok', NULL, 'MGa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', '+15005550006');
SELECT twilio.create_campaign('Crash drip') AS c \gset
SELECT twilio.add_step(:'c', 'drip-crash 1 #{{n}}'), twilio.add_step(:'c', 'drip-crash 2 #{{n}}'),
       twilio.activate_campaign(:'c');
SELECT count(*) FROM twilio.enroll_many(:'c', (SELECT jsonb_agg(jsonb_build_object(
    'phone', '+1500888' || lpad(i::text, 4, '0'), 'variables', jsonb_build_object('n', i))) FROM generate_series(1, $N) i));
RESET ROLE;
UPDATE twilio.user_settings SET max_segments_per_second = 10000 WHERE user_id = '$U';
SQL
curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
curl -s -o /dev/null -X DELETE "$STANDIN_URL/__faults"
# The stand-in creates each message at once and answers 400 ms later: the restart lands while first steps are still
# being sent, and a request in flight then was already acted on (resending it would duplicate).
curl -s -o /dev/null -X POST "$STANDIN_URL/__faults" -H 'content-type: application/json' \
    -d "{\"kind\":\"delay_after\",\"ms\":400,\"method\":\"POST\",\"path\":\"Messages.json\$\",\"count\":100000}"

# 1. The first steps, committed.
q -c "SELECT sent FROM twilio.drip_tick(1000)" >/dev/null
check "a pass sends every first step" "$N" "$(count_sends 1)"

# 2. A pass caught mid-statement, then an immediate restart.
hold_rollup drip_crash_hold 2
pass_in_background drip_crash_pass 1000
wait_until "$(waiting_on_lock drip_crash_pass)"
check "the second pass is mid-statement, holding every due enrollment (a concurrent claim finds none)" "0" \
    "$(q -c "SELECT count(*) FROM (SELECT 1 FROM twilio.enrollments WHERE user_id = '$U' AND status = 'active'
              FOR UPDATE SKIP LOCKED) x")"
first_done=$(q -c "SELECT count(*) FROM twilio.outbox WHERE user_id = '$U' AND state = 'done'")
runuser -u postgres -- "$(pg_config --bindir)/pg_ctl" -D "$BYO_CLUSTER_DIR/data" -m immediate -w -t 60 restart \
    -l "$BYO_CLUSTER_DIR/server.log" >/dev/null && echo "# restarted PostgreSQL (immediate) mid-pass, $first_done/$N first steps sent"
check "the restart landed while first steps were being sent" yes "$([ "$first_done" -lt "$N" ] && echo yes || echo no)"
check "the interrupted pass left nothing: no second step recorded, none advanced" "0 0" \
    "$(count_sends 2) $(q -c "SELECT count(*) FROM twilio.enrollments WHERE user_id = '$U' AND last_position <> 1")"
check "the interrupted pass left no message or outbox job behind" "$N $N" \
    "$(q -c "SELECT count(*) FROM twilio.messages WHERE user_id = '$U'") $(q -c "SELECT count(*) FROM twilio.outbox WHERE user_id = '$U'")"
until_all_sent
check "the next passes send every second step once" "$N $N" \
    "$(count_sends 2) $(q -c "SELECT count(*) FROM twilio.enrollments WHERE user_id = '$U' AND status = 'completed'")"

# 3. Two passes at once over M new contacts: the first claims half and is held mid-statement; the second, started
# meanwhile, skips the rows the first holds and takes the rest.
q >/dev/null <<SQL
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "$U"}';
SELECT count(*) FROM twilio.enroll_many((SELECT id FROM twilio.campaigns WHERE name = 'Crash drip'),
    (SELECT jsonb_agg(jsonb_build_object('phone', '+1500889' || lpad(i::text, 4, '0'),
                                         'variables', jsonb_build_object('n', 1000 + i))) FROM generate_series(1, $M) i));
SQL
hold_rollup drip_two_hold 1
pass_in_background drip_pass_a $((M / 2))
wait_until "$(waiting_on_lock drip_pass_a)"
pass_in_background drip_pass_b 1000
wait_until "$(waiting_on_lock drip_pass_b)"
release drip_two_hold
wait_until "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name IN ('drip_pass_a', 'drip_pass_b'))"
check "the first pass claimed and sent its share" "$((M / 2)) $((M / 2))" "$(cat "$WORK/drip_pass_a")"
check "the second pass, at the same time, took the others (it skipped what the first held)" "$((M / 2))" \
    "$(cut -d' ' -f2 "$WORK/drip_pass_b")"
check "each new contact got its first step once" "$M $M" \
    "$(q -c "SELECT count(*) || ' ' || count(DISTINCT s.enrollment_id) FROM twilio.enrollment_sends s
              WHERE s.user_id = '$U' AND s.phone LIKE '+1500889%'")"
until_all_sent

# Everything reaches Twilio exactly once.
TOTAL=$((2 * N + 2 * M))
wait_until "SELECT NOT EXISTS (SELECT 1 FROM twilio.outbox WHERE user_id = '$U' AND state IN ('pending', 'in_flight', 'ambiguous'))"
check "every step is recorded once" "$TOTAL $TOTAL" \
    "$(q -c "SELECT count(*) || ' ' || count(DISTINCT (enrollment_id, step_id)) FROM twilio.enrollment_sends WHERE user_id = '$U'")"
check "every message was accepted by Twilio" "$TOTAL" \
    "$(q -c "SELECT count(*) FROM twilio.messages WHERE user_id = '$U' AND status = 'accepted' AND twilio_sid IS NOT NULL")"
REQS=$(node test/lib/standin_requests.js --method POST --path '/Messages.json$' --fields Body | grep -o 'Body=drip-crash .*')
check "the stand-in received every step" "$TOTAL" "$(sort -u <<<"$REQS" | grep -c .)"
check "the stand-in received no step twice" 0 "$(sort <<<"$REQS" | uniq -d | grep -c .)"
echo "drips_crash: $passed passed, $failed failed"
[ "$failed" = 0 ]
