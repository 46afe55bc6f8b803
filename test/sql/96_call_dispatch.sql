-- Click-to-call through the outbox, against the Twilio stand-in: twilio.dial's job becomes one Calls.json create
-- (To = the agent, From = the user's number, the bridge to the lead as inline TwiML), with each user's own account
-- or the platform's; faults follow the SMS rules (retried only when Twilio did not act), a create whose answer was
-- lost is looked up in the account's calls instead of dialed again, and calls are paced per account.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-00000000dd01', 'dialer.dora@example.com');

\set as_ann 'SET request.jwt.claims = ''{"sub": "00000000-0000-0000-0000-00000000aa01"}'''
\set as_ben 'SET request.jwt.claims = ''{"sub": "00000000-0000-0000-0000-00000000bb01"}'''
\set as_dora 'SET request.jwt.claims = ''{"sub": "00000000-0000-0000-0000-00000000dd01"}'''
-- An Etc/GMT zone where it is now about noon: every lead is inside the default calling hours.
SELECT 'Etc/GMT' || CASE WHEN n >= 0 THEN '+' || n ELSE n::text END AS noon_zone
  FROM (SELECT ((extract(hour FROM now() AT TIME ZONE 'UTC')::integer - 12 + 36) % 24) - 12 AS n) h \gset
-- The SIDs of the calls the stand-in holds for an account (newest first), as Twilio would list them.
\set standin_calls 'node -e ''let d = ""; process.stdin.on("data", c => d += c).on("end", () => console.log(JSON.parse(d).calls.map(c => c.sid).join(" ")))'''

SHOW byo_twilio.max_calls_per_second;
SELECT wait_for_dispatcher();

-- each user's call goes out with that user's own account (the Basic-auth user), ringing the agent with the bridge
-- to the lead inline, and both legs reporting to the user's voice_status URL
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
SET ROLE authenticated;
:as_ann;
SELECT id AS ann_call FROM twilio.dial(lead_phone => '+15005550300', agent_phone => '+15005550200', time_zone => :'noon_zone') \gset
:as_ben;
SELECT id AS ben_call FROM twilio.dial(lead_phone => '+15005550301', agent_phone => '+15005550201', time_zone => :'noon_zone') \gset
RESET ROLE;
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
SET ROLE authenticated;
:as_ann;
SELECT id AS call FROM twilio.dial(lead_phone => '+15005550302', agent_phone => '+15005550202', time_zone => :'noon_zone') \gset
RESET ROLE;
SELECT wait_for_dispatcher();
\! node test/lib/standin_requests.js --path Calls --fields To
\set made `curl -s -u "$ALICE_SID:$ALICE_TOKEN" "$STANDIN_URL/2010-04-01/Accounts/$ALICE_SID/Calls.json?To=%2B15005550202" | :standin_calls`
SELECT v.status, v.call_sid = :'made' AS the_one_call, o.state, o.attempts, o.last_error
  FROM twilio.voice_calls v JOIN twilio.outbox o ON o.user_id = v.user_id AND o.call_id = v.id WHERE v.id = :'call';

-- ambiguous: Twilio placed the call but the answer was lost. Looked up (the account's calls to the agent from the
-- caller id), found, recorded: the agent's phone rings once.
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
\! curl -s -o /dev/null -X POST "$STANDIN_URL/__faults" -H 'content-type: application/json' -d '{"kind":"close_after","method":"POST","path":"Calls.json$"}'
SET ROLE authenticated;
:as_ann;
SELECT id AS lost_call FROM twilio.dial(lead_phone => '+15005550303', agent_phone => '+15005550203', time_zone => :'noon_zone') \gset
RESET ROLE;
SELECT wait_for_dispatcher();
\! node test/lib/standin_requests.js --path Calls --query --fields To
\set made `curl -s -u "$ALICE_SID:$ALICE_TOKEN" "$STANDIN_URL/2010-04-01/Accounts/$ALICE_SID/Calls.json?To=%2B15005550203" | :standin_calls`
SELECT v.status, v.call_sid = :'made' AS found_the_call_twilio_made, o.state, o.attempts, o.last_error
  FROM twilio.voice_calls v JOIN twilio.outbox o ON o.user_id = v.user_id AND o.call_id = v.id
 WHERE v.id = :'lost_call';

-- a create of unknown fate that never reached Twilio (its job marked so by the test before the dispatcher sees
-- it): the lookup finds only the earlier call to the same agent, which is already another row's, so it places
-- the call (once) and records a new SID
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
BEGIN;
SET LOCAL ROLE authenticated;
:as_ann;
SELECT id AS never_sent FROM twilio.dial(lead_phone => '+15005550304', agent_phone => '+15005550203', time_zone => :'noon_zone') \gset
RESET ROLE;
UPDATE twilio.outbox SET state = 'ambiguous', attempts = 1 WHERE call_id = :'never_sent';
COMMIT;
SELECT wait_for_dispatcher();
\! node test/lib/standin_requests.js --path Calls --query --fields To
SELECT v.status, v.call_sid ~ '^CA' AS has_sid, v.call_sid <> l.call_sid AS not_the_earlier_call, o.state, o.attempts
  FROM twilio.voice_calls v JOIN twilio.outbox o ON o.user_id = v.user_id AND o.call_id = v.id,
       twilio.voice_calls l
 WHERE v.id = :'never_sent' AND l.id = :'lost_call';

-- a callback that beats the dispatcher to the SID (the answer lost while Twilio already rings the agent) is held,
-- then applied when the lookup records the SID. The job is parked by the test while the stand-in is asked for the
-- call directly, as the lost request did, and a signed callback reports it ringing.
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
\getenv alice_sid ALICE_SID
\getenv alice_token ALICE_TOKEN
SET regress.alice_token = :'alice_token';
CREATE FUNCTION pg_temp.post(url text, params jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    body text := (SELECT string_agg(key || '=' || replace(value, '+', '%2B'), '&') FROM jsonb_each_text(params));
    sig text := twilio.compute_signature(current_setting('regress.alice_token'), url, params);
    r record;
BEGIN
    SET LOCAL ROLE byo_twilio_relay;  -- as the relay calls it
    SELECT * INTO r FROM twilio.handle_webhook(url, sig, 'application/x-www-form-urlencoded', body);
    RETURN r.status;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.post(text, jsonb) TO byo_twilio_relay;
SELECT 'https://relay.example.test/twilio/' || webhook_key || '/voice_status' AS ann_voice_url
  FROM twilio.user_settings WHERE user_id = '00000000-0000-0000-0000-00000000aa01' \gset
BEGIN;
SET LOCAL ROLE authenticated;
:as_ann;
SELECT id AS held_call FROM twilio.dial(lead_phone => '+15005550310', agent_phone => '+15005550208', time_zone => :'noon_zone') \gset
RESET ROLE;
UPDATE twilio.outbox SET state = 'ambiguous', attempts = 1, not_before = now() + interval '1 hour'
 WHERE call_id = :'held_call';
COMMIT;
\set made `curl -s -u "$ALICE_SID:$ALICE_TOKEN" -X POST "$STANDIN_URL/2010-04-01/Accounts/$ALICE_SID/Calls.json" --data-urlencode To=+15005550208 --data-urlencode From=+15005550006 --data-urlencode Twiml=x | node -e 'let d = ""; process.stdin.on("data", c => d += c).on("end", () => console.log(JSON.parse(d).sid))'`
SELECT pg_temp.post(:'ann_voice_url', jsonb_build_object('CallSid', :'made', 'AccountSid', :'alice_sid',
                    'CallStatus', 'ringing', 'From', '+15005550006', 'To', '+15005550208', 'SequenceNumber', '1'))
    AS callback_answer;
SELECT effect FROM twilio.webhook_events WHERE params ->> 'CallSid' = :'made';
-- released; a new job wakes the dispatcher (one with no call to place: it fails at once)
UPDATE twilio.outbox SET not_before = now() WHERE call_id = :'held_call';
INSERT INTO twilio.outbox (user_id, kind) VALUES ('00000000-0000-0000-0000-00000000dd01', 'create_call');
SELECT wait_for_dispatcher();
\! node test/lib/standin_requests.js --path Calls --query --fields To
SELECT v.status, v.call_sid = :'made' AS found_the_call_twilio_made, o.state, o.attempts
  FROM twilio.voice_calls v JOIN twilio.outbox o ON o.user_id = v.user_id AND o.call_id = v.id
 WHERE v.id = :'held_call';
SELECT effect FROM twilio.webhook_events WHERE params ->> 'CallSid' = :'made';

-- a refusal (a caller id the account does not own: 21210, the number changed by the test) fails the job and the
-- call, with Twilio's code, and the manual action it was working on
SET ROLE authenticated;
:as_ann;
SELECT id AS refused_action FROM twilio.create_action('call', 'Call Rex', '+15005550305', time_zone => :'noon_zone') \gset
BEGIN;
SET LOCAL ROLE authenticated;
:as_ann;
SELECT id AS refused FROM twilio.dial(:'refused_action', agent_phone => '+15005550204') \gset
RESET ROLE;
UPDATE twilio.voice_calls SET from_number = '+15005550001' WHERE id = :'refused';
COMMIT;
SELECT wait_for_dispatcher();
SELECT v.status, v.call_sid, v.error_code, v.error_message, v.ended_at IS NOT NULL AS ended, o.state, o.attempts,
       o.last_error
  FROM twilio.voice_calls v JOIN twilio.outbox o ON o.user_id = v.user_id AND o.call_id = v.id WHERE v.id = :'refused';
SELECT title, status, outcome, call_id = :'refused' AS this_call FROM twilio.manual_actions WHERE id = :'refused_action';

-- one call per second per account (byo_twilio.max_calls_per_second = 1): two calls enqueued together are both
-- placed, the second claimed at least a second after the first
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
BEGIN;
SET LOCAL ROLE authenticated;
:as_ann;
SELECT id AS first FROM twilio.dial(lead_phone => '+15005550306', agent_phone => '+15005550205', time_zone => :'noon_zone') \gset
SELECT id AS second FROM twilio.dial(lead_phone => '+15005550307', agent_phone => '+15005550206', time_zone => :'noon_zone') \gset
COMMIT;
SELECT wait_for_dispatcher();
\! node test/lib/standin_requests.js --path Calls --fields To --sort
SELECT count(*) FILTER (WHERE o.state = 'done') AS placed,
       max(o.claimed_at) - min(o.claimed_at) >= interval '1 second' AS paced,
       sum(o.attempts) AS attempts_counted
  FROM twilio.outbox o WHERE o.call_id IN (:'first', :'second');

-- a user without settings calls with the platform account when fallback is on (its number, its credentials, the
-- "platform" webhook key); with fallback off by the time its turn comes, the call fails: nothing to call with
SET ROLE service_role;
SELECT twilio.set_platform_fallback(true);
RESET ROLE;
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
SET ROLE authenticated;
:as_dora;
SELECT id AS platform_call FROM twilio.dial(lead_phone => '+15005550308', agent_phone => '+15005550207', time_zone => :'noon_zone') \gset
RESET ROLE;
SELECT wait_for_dispatcher();
\! node test/lib/standin_requests.js --path Calls --fields To,From,StatusCallback
SELECT v.status, v.call_sid ~ '^CA' AS has_sid, v.account_sid, o.state
  FROM twilio.voice_calls v JOIN twilio.outbox o ON o.user_id = v.user_id AND o.call_id = v.id
 WHERE v.id = :'platform_call';
-- (the fallback turned off in the dial's own transaction: the account is gone by the time the call's turn comes)
BEGIN;
SET LOCAL ROLE authenticated;
:as_dora;
SELECT id AS nothing_to_call_with FROM twilio.dial(lead_phone => '+15005550309', agent_phone => '+15005550207', time_zone => :'noon_zone') \gset
SET LOCAL ROLE service_role;
SELECT twilio.set_platform_fallback(false);
COMMIT;
SELECT wait_for_dispatcher();
SELECT v.status, v.error_message, o.state, o.last_error
  FROM twilio.voice_calls v JOIN twilio.outbox o ON o.user_id = v.user_id AND o.call_id = v.id
 WHERE v.id = :'nothing_to_call_with';

-- each user sees only their own calls
SET ROLE authenticated;
:as_ben;
SELECT to_number, leg, status FROM twilio.voice_calls WHERE leg = 'agent' ORDER BY created_at;
RESET ROLE;
RESET request.jwt.claims;
