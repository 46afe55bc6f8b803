#!/usr/bin/env bash
# Crash safety of the dispatcher, end to end: 200 SMS and 5 click-to-calls are queued against a slow Twilio
# stand-in, the dispatcher is killed with SIGKILL mid-run (the postmaster then resets every backend), and PostgreSQL
# is restarted in immediate mode mid-run. Afterwards every message must be sent and every call placed, and the
# stand-in must have received (and so created) each exactly once: jobs that were in flight are reconciled with
# Twilio before anything is resent.
# Runs against the cluster and stand-in test/run.sh started (PGHOST, PGPORT, STANDIN_URL, BYO_CLUSTER_DIR set).
set -uo pipefail
N=200
CALLS=5
USER_ID=00000000-0000-0000-0000-00000000cafe
passed=0 failed=0
check() {  # $1 description, $2 expected, $3 actual
    if [ "$2" = "$3" ]; then passed=$((passed + 1)); echo "ok - $1"; else failed=$((failed + 1)); echo "not ok - $1: expected $2, got $3"; fi
}
q() { psql -X -q -t -A -d postgres "$@"; }
restart_cluster() {
    runuser -u postgres -- "$(pg_config --bindir)/pg_ctl" -D "$BYO_CLUSTER_DIR/data" -m immediate -w -t 60 restart \
        -l "$BYO_CLUSTER_DIR/server.log" >/dev/null
}

eval "$(node test/lib/fixture_env.js test/standin/fixtures.json)"
q -c "INSERT INTO auth.users (id, email) VALUES ('$USER_ID', 'crash@example.com') ON CONFLICT DO NOTHING" >/dev/null
q -v sid="$ALICE_SID" -v tok="$ALICE_TOKEN" >/dev/null <<SQL
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "$USER_ID"}';
SELECT twilio.save_settings(:'sid', :'tok', NULL, 'MGa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', '+15005550006');
RESET ROLE;
UPDATE twilio.user_settings SET max_segments_per_second = 10000 WHERE user_id = '$USER_ID';
SQL
curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
curl -s -o /dev/null -X DELETE "$STANDIN_URL/__faults"
# The stand-in creates each message at once but answers 400 ms later, so the run lasts a few seconds, the kills
# land mid-run, and the requests in flight when they land were already acted on: resending them would duplicate.
curl -s -o /dev/null -X POST "$STANDIN_URL/__faults" -H 'content-type: application/json' \
    -d "[{\"kind\":\"delay_after\",\"ms\":400,\"method\":\"POST\",\"path\":\"Messages.json\$\",\"count\":100000},
         {\"kind\":\"delay_after\",\"ms\":400,\"method\":\"POST\",\"path\":\"Calls.json\$\",\"count\":100000}]"

# The calls' agent legs and jobs, as a dial writes them (test data, written directly); paced at one a second.
q >/dev/null <<SQL
WITH legs AS (
    INSERT INTO twilio.voice_calls (user_id, leg, status, to_number, from_number, lead_phone, account_sid)
    SELECT '$USER_ID', 'agent', 'queued', '+1500888' || lpad(i::text, 4, '0'), '+15005550006', '+15005550300',
           '$ALICE_SID'
      FROM generate_series(1, $CALLS) i RETURNING id)
INSERT INTO twilio.outbox (user_id, kind, call_id) SELECT '$USER_ID', 'create_call', id FROM legs;
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "$USER_ID"}';
SELECT count(twilio.send_sms('+1500777' || lpad(i::text, 4, '0'), 'crash-test-' || i)) FROM generate_series(1, $N) i;
SQL
# Each step waits for an event, bounded, never for a fixed time. The stand-in records a request before it delays
# the answer, so once it has seen one, that job is in flight: the kill lands mid-run. The restart lands once the
# new dispatcher has itself reached Twilio (a lookup or a send), before the run can have finished.
wait_until() {  # a command whose output must be "t", polled for at most 60 s
    for _ in $(seq 1 1200); do [ "$("$@" 2>/dev/null)" = t ] && return 0; sleep 0.05; done
    echo "# gave up waiting for: $*"; return 1
}
standin_requests() { curl -s "$STANDIN_URL/__requests" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).length))'; }
more_requests_than() { [ "$(standin_requests)" -gt "$1" ] && echo t; }
done_count="SELECT count(*) FROM twilio.outbox WHERE user_id = '$USER_ID' AND state = 'done'"
wait_until more_requests_than 0
pid=$(q -c "SELECT twilio.dispatcher_pid()")
sent_before_kill=$(q -c "$done_count")
seen_at_kill=$(standin_requests)
kill -9 "$pid" && echo "# killed dispatcher $pid with $sent_before_kill/$N done"
wait_until more_requests_than "$seen_at_kill"
done_before_restart=$(q -c "$done_count")
restart_cluster && echo "# restarted PostgreSQL (immediate) with $done_before_restart/$N done"

for _ in $(seq 1 600); do
    open=$(q -c "SELECT count(*) FROM twilio.outbox WHERE user_id = '$USER_ID' AND state IN ('pending','in_flight','ambiguous')" 2>/dev/null)
    [ "$open" = 0 ] && break
    sleep 0.1
done
curl -s -o /dev/null -X DELETE "$STANDIN_URL/__faults"

check "the kill landed mid-run" yes "$([ "$sent_before_kill" -lt "$N" ] && echo yes || echo no)"
check "the restart landed mid-run" yes "$([ "$done_before_restart" -lt "$N" ] && echo yes || echo no)"
check "outbox drained after the crashes" 0 "$open"
check "every message sent" "$N" "$(q -c "SELECT count(*) FROM twilio.messages WHERE user_id = '$USER_ID' AND status = 'accepted' AND twilio_sid IS NOT NULL")"
counts=$(curl -s "$STANDIN_URL/__requests" | node -e '
let s = ""; process.stdin.on("data", d => (s += d)).on("end", () => {
  const seen = new Map();
  for (const r of JSON.parse(s)) {
    if (r.method !== "POST" || !/Messages\.json$/.test(r.path)) continue;
    const body = new URLSearchParams(r.body || "").get("Body") || "";
    if (body.startsWith("crash-test-")) seen.set(body, (seen.get(body) || 0) + 1);
  }
  const twice = [...seen.values()].filter(n => n > 1).length;
  console.log(`${seen.size} ${twice}`);
});')
check "the stand-in received every message" "$N" "${counts% *}"
check "the stand-in received no message twice" 0 "${counts#* }"
calls=$(curl -s "$STANDIN_URL/__requests" | node -e '
let s = ""; process.stdin.on("data", d => (s += d)).on("end", () => {
  const seen = new Map();
  for (const r of JSON.parse(s)) {
    if (r.method !== "POST" || !/Calls\.json$/.test(r.path)) continue;
    const to = new URLSearchParams(r.body || "").get("To") || "";
    if (to.startsWith("+1500888")) seen.set(to, (seen.get(to) || 0) + 1);
  }
  console.log(`${seen.size} ${[...seen.values()].filter(n => n > 1).length}`);
});')
check "every call placed" "$CALLS" "$(q -c "SELECT count(*) FROM twilio.voice_calls WHERE user_id = '$USER_ID' AND call_sid IS NOT NULL")"
check "the stand-in was asked for every call" "$CALLS" "${calls% *}"
check "the stand-in placed no call twice" 0 "${calls#* }"
check "the restarted dispatcher reported the reconciliation" yes \
    "$(grep -q 'were in flight at the last stop' "$BYO_CLUSTER_DIR/server.log" && echo yes || echo no)"
echo "crash: $passed passed, $failed failed"
[ "$failed" = 0 ]
