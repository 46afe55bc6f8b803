-- The dispatcher's Calls requests validate against Twilio's official OpenAPI spec: pointed at Prism (which answers
-- 422 to any request its spec rejects), the create (To, From, Twiml) and the lookup after a lost answer
-- (Calls.json filtered by To and From) both succeed.
-- Without a webhook base URL: the spec declares StatusCallbackEvent an array, sent as Twilio and its libraries do
-- (the field repeated, OpenAPI's default form style), but Prism reads a repeated form field as one string and
-- refuses it. The status callback fields are checked by test/unit/twilio_outbound_test.cpp and 96_call_dispatch.
SET client_min_messages = warning;
\getenv prism_api PRISM_API_URL
ALTER SYSTEM SET byo_twilio.api_base_url = :'prism_api';
ALTER SYSTEM SET byo_twilio.webhook_base_url = '';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
-- frank connected against Prism in 40_prism. His agent leg and its outbox job, as a dial writes them (test data).
WITH leg AS (
    INSERT INTO twilio.voice_calls (user_id, leg, status, to_number, from_number, lead_phone, account_sid)
    SELECT s.user_id, 'agent', 'queued', '+15005550400', s.sms_number, '+15005550401', s.account_sid
      FROM twilio.user_settings s WHERE s.user_id = '00000000-0000-0000-0000-0000000000f0'
    RETURNING user_id, id
)
INSERT INTO twilio.outbox (user_id, kind, call_id) SELECT user_id, 'create_call', id FROM leg;
SELECT wait_for_dispatcher();
SELECT v.call_sid ~ '^CA[0-9a-fA-F]{32}$' AS has_sid, v.error_code, v.error_message, o.state, o.attempts,
       o.last_error
  FROM twilio.voice_calls v JOIN twilio.outbox o ON o.user_id = v.user_id AND o.call_id = v.id
 WHERE v.user_id = '00000000-0000-0000-0000-0000000000f0';
-- The answer lost (set by the test: the call back to queued with no SID, its job ambiguous): the lookup must pass
-- the spec too. Prism's example list holds no call to this agent, so the call is then placed again: three
-- attempts (the lost one, the lookup, the create). A lookup the spec rejected would leave "reconciliation
-- failed: ..." and more attempts instead.
UPDATE twilio.voice_calls SET call_sid = NULL, status = 'queued', ended_at = NULL
 WHERE user_id = '00000000-0000-0000-0000-0000000000f0';
UPDATE twilio.outbox SET state = 'ambiguous', attempts = 1, not_before = now(), finished_at = NULL,
                         last_error = 'answer lost (set by the test)'
 WHERE user_id = '00000000-0000-0000-0000-0000000000f0' AND kind = 'create_call';
-- (an UPDATE does not wake the dispatcher; a new job does: one for a user with no account, which fails at once)
INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-0000000000f1', 'wakes.dispatcher@example.com');
INSERT INTO twilio.outbox (user_id, kind, call_id) VALUES ('00000000-0000-0000-0000-0000000000f1', 'create_call', NULL);
SELECT wait_for_dispatcher();
SELECT v.call_sid ~ '^CA[0-9a-fA-F]{32}$' AS has_sid, v.error_code, o.state, o.attempts, o.last_error
  FROM twilio.voice_calls v JOIN twilio.outbox o ON o.user_id = v.user_id AND o.call_id = v.id
 WHERE v.user_id = '00000000-0000-0000-0000-0000000000f0';
SELECT state, last_error FROM twilio.outbox WHERE user_id = '00000000-0000-0000-0000-0000000000f1';
ALTER SYSTEM RESET byo_twilio.api_base_url;
ALTER SYSTEM RESET byo_twilio.webhook_base_url;
SELECT pg_reload_conf();
