-- Click-to-call through the outbox, against the Twilio stand-in: a create_call job becomes one Calls.json create
-- (To = the agent, From = the user's number, the bridge to the lead as inline TwiML), with each user's own account
-- or the platform's; faults follow the SMS rules (retried only when Twilio did not act), a create whose answer was
-- lost is looked up in the account's calls instead of dialed again, and calls are paced per account.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-00000000dd01', 'dialer.dora@example.com');

-- The agent leg and its outbox job, as a dial writes them (test data, written directly): the caller id and the
-- account are the user's resolved sender's, unless from_number is given.
CREATE FUNCTION pg_temp.queue_call(uid uuid, agent text, lead text, from_number text DEFAULT NULL,
                                   job_state text DEFAULT 'pending') RETURNS uuid
LANGUAGE sql AS $$
    WITH leg AS (
        INSERT INTO twilio.voice_calls (user_id, leg, status, to_number, from_number, lead_phone, account_sid)
        SELECT uid, 'agent', 'queued', agent, coalesce(from_number, s.sms_number), lead, s.account_sid
          FROM (SELECT 1) one LEFT JOIN twilio._resolve_config(uid) s ON true
        RETURNING id
    ), job AS (
        INSERT INTO twilio.outbox (user_id, kind, call_id, state, attempts)
        SELECT uid, 'create_call', leg.id, job_state, CASE WHEN job_state = 'ambiguous' THEN 1 ELSE 0 END FROM leg
    )
    SELECT id FROM leg
$$;
-- The SIDs of the calls the stand-in holds for an account (newest first), as Twilio would list them.
\set standin_calls 'node -e ''let d = ""; process.stdin.on("data", c => d += c).on("end", () => console.log(JSON.parse(d).calls.map(c => c.sid).join(" ")))'''

SHOW byo_twilio.max_calls_per_second;
SELECT wait_for_dispatcher();

-- each user's call goes out with that user's own account (the Basic-auth user), ringing the agent with the bridge
-- to the lead inline, and both legs reporting to the user's voice_status URL
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
SELECT pg_temp.queue_call('00000000-0000-0000-0000-00000000aa01', '+15005550200', '+15005550300') AS ann_call \gset
SELECT pg_temp.queue_call('00000000-0000-0000-0000-00000000bb01', '+15005550201', '+15005550301') AS ben_call \gset
SELECT wait_for_dispatcher();
\! node test/lib/standin_requests.js --path Calls --fields To,From,Twiml,StatusCallback,StatusCallbackEvent --sort
SELECT v.user_id, v.leg, v.status, v.call_sid ~ '^CA[0-9a-f]{32}$' AS has_sid, v.account_sid, v.to_number,
       v.from_number, v.lead_phone, o.state, o.attempts, o.last_error
  FROM twilio.voice_calls v JOIN twilio.outbox o ON o.user_id = v.user_id AND o.call_id = v.id
 WHERE v.id IN (:'ann_call', :'ben_call') ORDER BY v.user_id;
-- the recorded SID is the one the stand-in made
\set made `curl -s -u "$ALICE_SID:$ALICE_TOKEN" "$STANDIN_URL/2010-04-01/Accounts/$ALICE_SID/Calls.json?To=%2B15005550200" | :standin_calls`
SELECT call_sid = :'made' AS same_sid FROM twilio.voice_calls WHERE id = :'ann_call';

-- Twilio did not act (503, 429), or the connection closed unanswered (looked up first, not found): placed once
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
\! curl -s -o /dev/null -X POST "$STANDIN_URL/__faults" -H 'content-type: application/json' -d '[{"kind":"status","status":503,"method":"POST","path":"Calls.json$"},{"kind":"status","status":429,"method":"POST","path":"Calls.json$"},{"kind":"close_before","method":"POST","path":"Calls.json$"}]'
SELECT pg_temp.queue_call('00000000-0000-0000-0000-00000000aa01', '+15005550202', '+15005550302') AS call \gset
SELECT wait_for_dispatcher();
\! node test/lib/standin_requests.js --path Calls --fields To
\set made `curl -s -u "$ALICE_SID:$ALICE_TOKEN" "$STANDIN_URL/2010-04-01/Accounts/$ALICE_SID/Calls.json?To=%2B15005550202" | :standin_calls`
SELECT v.status, v.call_sid = :'made' AS the_one_call, o.state, o.attempts, o.last_error
  FROM twilio.voice_calls v JOIN twilio.outbox o ON o.user_id = v.user_id AND o.call_id = v.id WHERE v.id = :'call';

-- ambiguous: Twilio placed the call but the answer was lost. Looked up (the account's calls to the agent from the
-- caller id), found, recorded: the agent's phone rings once.
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
\! curl -s -o /dev/null -X POST "$STANDIN_URL/__faults" -H 'content-type: application/json' -d '{"kind":"close_after","method":"POST","path":"Calls.json$"}'
SELECT pg_temp.queue_call('00000000-0000-0000-0000-00000000aa01', '+15005550203', '+15005550303') AS lost_call \gset
SELECT wait_for_dispatcher();
\! node test/lib/standin_requests.js --path Calls --query --fields To
\set made `curl -s -u "$ALICE_SID:$ALICE_TOKEN" "$STANDIN_URL/2010-04-01/Accounts/$ALICE_SID/Calls.json?To=%2B15005550203" | :standin_calls`
SELECT v.status, v.call_sid = :'made' AS found_the_call_twilio_made, o.state, o.attempts, o.last_error
  FROM twilio.voice_calls v JOIN twilio.outbox o ON o.user_id = v.user_id AND o.call_id = v.id
 WHERE v.id = :'lost_call';

-- a create of unknown fate that never reached Twilio: the lookup finds only the earlier call to the same agent,
-- which is already another row's, so it places the call (once) and records a new SID
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
SELECT pg_temp.queue_call('00000000-0000-0000-0000-00000000aa01', '+15005550203', '+15005550304',
                          job_state => 'ambiguous') AS never_sent \gset
SELECT wait_for_dispatcher();
\! node test/lib/standin_requests.js --path Calls --query --fields To
SELECT v.status, v.call_sid ~ '^CA' AS has_sid, v.call_sid <> l.call_sid AS not_the_earlier_call, o.state, o.attempts
  FROM twilio.voice_calls v JOIN twilio.outbox o ON o.user_id = v.user_id AND o.call_id = v.id,
       twilio.voice_calls l
 WHERE v.id = :'never_sent' AND l.id = :'lost_call';

-- a refusal (a caller id the account does not own: 21210) fails the job and the call, with Twilio's code
SELECT pg_temp.queue_call('00000000-0000-0000-0000-00000000aa01', '+15005550204', '+15005550305',
                          from_number => '+15005550001') AS refused \gset
SELECT wait_for_dispatcher();
SELECT v.status, v.call_sid, v.error_code, v.error_message, v.ended_at IS NOT NULL AS ended, o.state, o.attempts,
       o.last_error
  FROM twilio.voice_calls v JOIN twilio.outbox o ON o.user_id = v.user_id AND o.call_id = v.id WHERE v.id = :'refused';

-- one call per second per account (byo_twilio.max_calls_per_second = 1): two calls enqueued together are both
-- placed, the second claimed at least a second after the first
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
BEGIN;
SELECT pg_temp.queue_call('00000000-0000-0000-0000-00000000aa01', '+15005550205', '+15005550306') AS first \gset
SELECT pg_temp.queue_call('00000000-0000-0000-0000-00000000aa01', '+15005550206', '+15005550307') AS second \gset
COMMIT;
SELECT wait_for_dispatcher();
\! node test/lib/standin_requests.js --path Calls --fields To --sort
SELECT count(*) FILTER (WHERE o.state = 'done') AS placed,
       max(o.claimed_at) - min(o.claimed_at) >= interval '1 second' AS paced,
       sum(o.attempts) AS attempts_counted
  FROM twilio.outbox o WHERE o.call_id IN (:'first', :'second');

-- a user without settings calls with the platform account when fallback is on (its number, its credentials, the
-- "platform" webhook key); with fallback off the call fails: nothing to call with
SET ROLE service_role;
SELECT twilio.set_platform_fallback(true);
RESET ROLE;
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
SELECT pg_temp.queue_call('00000000-0000-0000-0000-00000000dd01', '+15005550207', '+15005550308') AS platform_call \gset
SELECT wait_for_dispatcher();
\! node test/lib/standin_requests.js --path Calls --fields To,From,StatusCallback
SELECT v.status, v.call_sid ~ '^CA' AS has_sid, v.account_sid, o.state
  FROM twilio.voice_calls v JOIN twilio.outbox o ON o.user_id = v.user_id AND o.call_id = v.id
 WHERE v.id = :'platform_call';
SET ROLE service_role;
SELECT twilio.set_platform_fallback(false);
RESET ROLE;
SELECT pg_temp.queue_call('00000000-0000-0000-0000-00000000dd01', '+15005550207', '+15005550309',
                          from_number => '+15005550008') AS nothing_to_call_with \gset
SELECT wait_for_dispatcher();
SELECT v.status, v.error_message, o.state, o.last_error
  FROM twilio.voice_calls v JOIN twilio.outbox o ON o.user_id = v.user_id AND o.call_id = v.id
 WHERE v.id = :'nothing_to_call_with';

-- each user sees only their own calls
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-00000000bb01"}';
SELECT to_number, leg, status FROM twilio.voice_calls WHERE leg = 'agent' ORDER BY created_at;
RESET ROLE;
RESET request.jwt.claims;
