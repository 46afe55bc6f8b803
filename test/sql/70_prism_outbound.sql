-- Every request the dispatcher makes validates against Twilio's official OpenAPI specs: pointed at Prism (which
-- answers 422 to any request its spec rejects), all of them succeed.
SET client_min_messages = warning;
\getenv prism_api PRISM_API_URL
\getenv prism_conversations PRISM_CONVERSATIONS_URL
\getenv prism_messaging PRISM_MESSAGING_URL
ALTER SYSTEM SET byo_twilio.api_base_url = :'prism_api';
ALTER SYSTEM SET byo_twilio.conversations_base_url = :'prism_conversations';
ALTER SYSTEM SET byo_twilio.messaging_base_url = :'prism_messaging';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
-- frank connected against Prism in 40_prism
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000000f0"}';
SELECT twilio.send_sms('+15005550300', 'validated by the spec') IS NOT NULL AS queued;
SELECT twilio.get_or_create_conversation_for_lead('22222222-0000-0000-0000-000000000001', '+15005550301', 'Spec lead')
    AS conv \gset
SELECT twilio.send_conversation_message(:'conv', 'also validated') IS NOT NULL AS queued;
RESET ROLE;
SELECT wait_for_dispatcher();
SET ROLE authenticated;
SELECT channel, status IN ('accepted', 'queued', 'sent') AS accepted_by_spec, error_code, error_message
  FROM twilio.messages ORDER BY channel;
SELECT status, error_message FROM twilio.conversations;
RESET ROLE;
-- Reconciliation: after an answer was lost, the dispatcher looks the message up with a GET (a list filtered by
-- To, or a conversation's latest messages) before it sends again. Those GETs must pass the spec too: both jobs
-- are marked as if their answers had been lost, and a new text wakes the dispatcher. A GET the spec rejected
-- would leave "reconciliation failed: ..." and a retry, then a failure, instead of a finished job.
UPDATE twilio.outbox SET state = 'ambiguous', not_before = now(), last_error = 'answer lost (set by the test)'
 WHERE user_id = '00000000-0000-0000-0000-0000000000f0' AND kind IN ('send_sms', 'send_conversation_message');
SET ROLE authenticated;
SELECT twilio.send_sms('+15005550302', 'wakes the dispatcher') IS NOT NULL AS queued;
RESET ROLE;
SELECT wait_for_dispatcher();
-- Prism answers every text with the same example SID, so the new text's SID is already another message's and the
-- tables refuse to record it. That job alone is failed, with the reason, and its message's fate is 'unknown';
-- the others of its pass are recorded (they used to stay in flight until the dispatcher restarted).
SELECT m.body, o.state, coalesce(o.last_error, '') NOT LIKE '%reconciliation failed%' AS lookup_accepted_by_spec,
       m.status = 'unknown' AS fate_unknown, CASE WHEN o.state = 'failed' THEN o.last_error END AS why_failed
  FROM twilio.outbox o JOIN twilio.messages m ON m.user_id = o.user_id AND m.id = o.message_id
 WHERE o.user_id = '00000000-0000-0000-0000-0000000000f0' ORDER BY m.body;
ALTER SYSTEM RESET byo_twilio.api_base_url;
ALTER SYSTEM RESET byo_twilio.conversations_base_url;
ALTER SYSTEM RESET byo_twilio.messaging_base_url;
SELECT pg_reload_conf();
RESET request.jwt.claims;
