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
ALTER SYSTEM RESET byo_twilio.api_base_url;
ALTER SYSTEM RESET byo_twilio.conversations_base_url;
ALTER SYSTEM RESET byo_twilio.messaging_base_url;
SELECT pg_reload_conf();
RESET request.jwt.claims;
