-- Outbound: SMS and Conversations messages through the outbox and the dispatcher, against the Twilio stand-in.
-- Each user's requests carry that user's own account; rolled-back work is never sent; Twilio's answers (and
-- faults injected into the stand-in) drive retries, final failures, opt-outs and reconciliation.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
\getenv alice_sid ALICE_SID
\getenv alice_token ALICE_TOKEN
\getenv bob_sid BOB_SID
\getenv bob_token BOB_TOKEN
INSERT INTO auth.users (id, email) VALUES
    ('00000000-0000-0000-0000-00000000aa01', 'ann@example.com'),
    ('00000000-0000-0000-0000-00000000bb01', 'ben@example.com'),
    ('00000000-0000-0000-0000-00000000cc01', 'cat@example.com');

-- Waits (up to 30 s) until the dispatcher has nothing left to do; says how it ended.
CREATE FUNCTION public.wait_for_dispatcher() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + interval '30 seconds';
BEGIN
    LOOP
        IF NOT EXISTS (SELECT 1 FROM twilio.outbox WHERE state IN ('pending', 'in_flight', 'ambiguous')) THEN
            RETURN 'drained';
        END IF;
        IF clock_timestamp() > deadline THEN
            RETURN 'still busy: ' || (SELECT string_agg(kind || '/' || state || coalesce(' ' || last_error, ''), ', ')
                                       FROM twilio.outbox WHERE state IN ('pending', 'in_flight', 'ambiguous'));
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;
SELECT twilio.dispatcher_pid() IS NOT NULL AS dispatcher_running;

SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-00000000aa01"}';
-- not connected yet: a clear error, nothing queued
SELECT twilio.send_sms('+15005550100', 'hello');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT account_sid FROM twilio.save_settings(:'alice_sid', :'alice_token', 'ISa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1',
                                             'MGa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', '+15005550006');
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-00000000bb01"}';
SELECT account_sid FROM twilio.save_settings(:'bob_sid', :'bob_token', 'ISb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0',
                                             'MGb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0', '+15005550008');
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-00000000aa01"}';

-- validation at enqueue
SELECT twilio.send_sms('5550100', 'hello');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.send_sms('+15005550100', '   ');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.send_sms('+15005550100', repeat('x', 1601));
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.send_conversation_message('00000000-0000-0000-0000-000000000000', 'hi');
\echo sqlstate=:LAST_ERROR_SQLSTATE
INSERT INTO twilio.opt_outs (user_id, phone) VALUES ('00000000-0000-0000-0000-00000000aa01', '+15005550111');
SELECT twilio.send_sms('+15005550111', 'hello');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT count(*) AS queued FROM twilio.outbox;

-- a rolled-back transaction sends nothing; a committed one is sent
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
BEGIN;
SELECT twilio.send_sms('+15005550100', 'never sent: rolled back') IS NOT NULL AS queued;
ROLLBACK;
SELECT twilio.send_sms('+15005550100', 'from ann') IS NOT NULL AS queued;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-00000000bb01"}';
SELECT twilio.send_sms('+15005550100', 'from ben') IS NOT NULL AS queued;
RESET ROLE;
SELECT wait_for_dispatcher();
-- each user's request went out with that user's own account (Basic auth user), with a status callback
\! node test/lib/standin_requests.js --method POST --fields To,Body,MessagingServiceSid,StatusCallback --sort
SET ROLE authenticated;
SELECT to_number, body, status, twilio_sid IS NOT NULL AS has_sid, segments, encoding FROM twilio.messages;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-00000000aa01"}';
SELECT to_number, body, status, twilio_sid IS NOT NULL AS has_sid FROM twilio.messages;

-- conversations: created at Twilio (conversation, then the lead as SMS participant), messages in order
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
SELECT twilio.get_or_create_conversation_for_lead('11111111-0000-0000-0000-000000000001', '+15005550200', 'Lead 1')
    AS conv \gset
SELECT twilio.get_or_create_conversation_for_lead('11111111-0000-0000-0000-000000000001', '+15005550200') = :'conv'
    AS same_conversation_for_same_lead;
SELECT twilio.send_conversation_message(:'conv', 'first') IS NOT NULL AS queued;
SELECT twilio.send_conversation_message(:'conv', 'second') IS NOT NULL AS queued;
SELECT twilio.send_conversation_message(:'conv', 'third ✓') IS NOT NULL AS queued;
RESET ROLE;
SELECT wait_for_dispatcher();
\! node test/lib/standin_requests.js --method POST --fields FriendlyName,MessagingBinding.Address,MessagingBinding.ProxyAddress,Body
SET ROLE authenticated;
SELECT status, twilio_sid IS NOT NULL AS has_sid, participant_sid IS NOT NULL AS has_participant
  FROM twilio.conversations;
SELECT body, status, segments, encoding FROM twilio.messages WHERE conversation_id = :'conv' ORDER BY created_at;
-- a lead whose number is already bound to a conversation in the service reuses that conversation (50416)
SELECT twilio.get_or_create_conversation_for_lead('11111111-0000-0000-0000-000000000002', '+15005550200', 'Lead 2')
    AS conv2 \gset
RESET ROLE;
SELECT wait_for_dispatcher();
SET ROLE authenticated;
SELECT c2.status, c2.twilio_sid = c1.twilio_sid AS reuses_the_bound_conversation
  FROM twilio.conversations c1, twilio.conversations c2 WHERE c1.id = :'conv' AND c2.id = :'conv2';

-- Twilio did not act (503, 429), or the connection closed unanswered (looked up first): sent exactly once
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
\! curl -s -o /dev/null -X POST "$STANDIN_URL/__faults" -H 'content-type: application/json' -d '[{"kind":"status","status":503,"method":"POST","path":"Messages.json$","count":1},{"kind":"status","status":429,"method":"POST","path":"Messages.json$","count":1},{"kind":"close_before","method":"POST","path":"Messages.json$","count":1}]'
SELECT twilio.send_sms('+15005550101', 'survives three faults') IS NOT NULL AS queued;
RESET ROLE;
SELECT wait_for_dispatcher();
\! node test/lib/standin_requests.js --method POST --fields Body
SELECT m.status, o.attempts, o.state FROM twilio.messages m JOIN twilio.outbox o ON o.message_id = m.id
 WHERE m.body = 'survives three faults';

-- a final refusal: failed with Twilio's code; 21610 also records the opt-out, so the next send is refused
SET ROLE authenticated;
SELECT twilio.send_sms('+15005550099', 'to an unsubscribed number') IS NOT NULL AS queued;
RESET ROLE;
SELECT wait_for_dispatcher();
SET ROLE authenticated;
SELECT status, error_code, error_message FROM twilio.messages WHERE to_number = '+15005550099';
SELECT phone, source FROM twilio.opt_outs ORDER BY phone;
SELECT twilio.send_sms('+15005550099', 'again');
\echo sqlstate=:LAST_ERROR_SQLSTATE

-- ambiguous: Twilio processed the request but the answer was lost. Reconciled (looked up), never resent.
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
\! curl -s -o /dev/null -X POST "$STANDIN_URL/__faults" -H 'content-type: application/json' -d '[{"kind":"close_after","method":"POST","path":"Messages.json$","count":1},{"kind":"close_after","method":"POST","path":"/Messages$","count":1}]'
SELECT twilio.send_sms('+15005550102', 'answer lost after sending') IS NOT NULL AS queued;
SELECT twilio.send_conversation_message(:'conv', 'conversation answer lost') IS NOT NULL AS queued;
RESET ROLE;
SELECT wait_for_dispatcher();
\! node test/lib/standin_requests.js --fields Body --sort
SELECT m.body, m.status, m.twilio_sid IS NOT NULL AS has_sid, o.state
  FROM twilio.messages m JOIN twilio.outbox o ON o.message_id = m.id
 WHERE m.body IN ('answer lost after sending', 'conversation answer lost') ORDER BY m.body;

-- observability
SELECT backlog, in_flight, ambiguous, sent, failed, oldest_waiting_age FROM twilio.outbox_status;
SELECT segments, encoding FROM twilio._sms_segments(repeat('a', 160));
SELECT segments, encoding FROM twilio._sms_segments(repeat('a', 161));
SELECT segments, encoding FROM twilio._sms_segments('€' || repeat('a', 159));
SELECT segments, encoding FROM twilio._sms_segments('Grüße 👋');
RESET request.jwt.claims;
