-- Requests validate against Twilio's official OpenAPI specs: Prism serves them and answers 422 to any request
-- the spec rejects. Its static answers: an active account, a number list holding +18089255327.
SET client_min_messages = warning;
\getenv prism_api PRISM_API_URL
\getenv prism_conversations PRISM_CONVERSATIONS_URL
\getenv prism_messaging PRISM_MESSAGING_URL
SET byo_twilio.api_base_url = :'prism_api';
SET byo_twilio.conversations_base_url = :'prism_conversations';
SET byo_twilio.messaging_base_url = :'prism_messaging';
INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-0000000000f0', 'frank@example.com');
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000000f0"}';
\set prism_token `openssl rand -hex 16`
SELECT account_sid, conversations_service_sid, messaging_service_sid, sms_number, status, verified_at IS NOT NULL AS verified
  FROM twilio.save_settings('ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', :'prism_token', 'ISaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
                            'MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '+18089255327');
SELECT state, can_send FROM twilio.verify_settings();
RESET ROLE;
RESET request.jwt.claims;
RESET byo_twilio.api_base_url;
RESET byo_twilio.conversations_base_url;
RESET byo_twilio.messaging_base_url;
