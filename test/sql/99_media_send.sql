-- Sending media: MMS URLs with send_sms, a Media Content Service SID with send_conversation_message. Checked at
-- the call (nothing queued on a bad one), stored in twilio.message_media as inbound media are, and sent as
-- MediaUrl (once per URL, in order) and MediaSid: to the stand-in, which shows the exact form, and the MediaSid
-- create to Prism, which holds it to Twilio's OpenAPI spec. (The spec declares MediaUrl an array, sent as Twilio
-- and its libraries do, the field repeated; Prism reads a repeated form field as one string and refuses any
-- MediaUrl, as it does StatusCallbackEvent in 97_prism_calls: the stand-in and test/unit check that form.)
SET client_min_messages = warning;
\set SHOW_CONTEXT never
\getenv prism_api PRISM_API_URL
\getenv prism_conversations PRISM_CONVERSATIONS_URL
\getenv prism_messaging PRISM_MESSAGING_URL
-- Runs a statement; its SQLSTATE and message.
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO authenticated;

SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-00000000aa01"}';
SELECT twilio.get_or_create_conversation_for_lead('99000000-0000-0000-0000-000000000001', '+15005550990', 'Media lead')
    AS conv \gset
SELECT count(*) AS messages_before FROM twilio.messages \gset

-- bad media: a clear error naming what is wrong, and nothing queued
SELECT v.what, pg_temp.try(v.stmt) AS outcome FROM (VALUES
    ('11 URLs', $$SELECT twilio.send_sms('+15005550991', 'x', array_fill('https://example.com/a.jpg'::text, ARRAY[11]))$$),
    ('http', $$SELECT twilio.send_sms('+15005550991', 'x', ARRAY['https://example.com/a.jpg', 'http://example.com/b.jpg'])$$),
    ('no host', $$SELECT twilio.send_sms('+15005550991', 'x', ARRAY['https:///a.jpg'])$$),
    ('a space', $$SELECT twilio.send_sms('+15005550991', 'x', ARRAY['https://example.com/a b.jpg'])$$),
    ('too long', $$SELECT twilio.send_sms('+15005550991', 'x', ARRAY['https://example.com/' || repeat('a', 2029)])$$),
    ('NULL item', $$SELECT twilio.send_sms('+15005550991', 'x', ARRAY['https://example.com/a.jpg', NULL])$$),
    ('2-D', $$SELECT twilio.send_sms('+15005550991', 'x', ARRAY[['https://example.com/a.jpg']])$$),
    ('no body, no media', $$SELECT twilio.send_sms('+15005550991', NULL, '{}')$$),
    ('long body with media', $$SELECT twilio.send_sms('+15005550991', repeat('x', 1601), ARRAY['https://example.com/a.jpg'])$$),
    ('not a media SID', format('SELECT twilio.send_conversation_message(%L, %L, ARRAY[%L])', :'conv', 'x', 'MM0123456789abcdef0123456789abcdef')),
    ('two media SIDs', format('SELECT twilio.send_conversation_message(%L, NULL, ARRAY[%L, %L])', :'conv',
                              'ME0123456789abcdef0123456789abcdef', 'ME0123456789abcdef0123456789abcde0')),
    ('no body, no media SID', format('SELECT twilio.send_conversation_message(%L, %L, %L)', :'conv', ' ', '{}'))
) v(what, stmt);
SELECT count(*) - :messages_before AS queued_by_bad_calls FROM twilio.messages;
-- 2048 bytes is still fine
SELECT pg_temp.try($$SELECT twilio.send_sms('+15005550992', 'longest URL', ARRAY['https://example.com/' || repeat('a', 2028)])$$);

-- good media: stored with the message, in order; a media-only message has an empty body
SELECT twilio.send_sms('+15005550993', 'two pictures', ARRAY['https://example.com/a.jpg', 'https://example.com/b.png?x=1&y=2']) IS NOT NULL AS queued;
SELECT twilio.send_sms(to_number => '+15005550994', media_urls => ARRAY['https://example.com/only.gif']) IS NOT NULL AS queued;
SELECT twilio.send_conversation_message(:'conv', 'with a file', ARRAY['ME0123456789abcdef0123456789abcdef']) IS NOT NULL AS queued;
SELECT twilio.send_conversation_message(:'conv', media_sids => ARRAY['ME99999999999999999999999999999999']) IS NOT NULL AS queued;
SELECT m.channel, m.to_number, m.body, m.media_count, d.position, d.url, d.media_sid
  FROM twilio.messages m JOIN twilio.message_media d ON d.user_id = m.user_id AND d.message_id = m.id
 WHERE m.to_number IN ('+15005550993', '+15005550994', '+15005550990')
 ORDER BY m.created_at, d.position;
RESET ROLE;
SELECT wait_for_dispatcher();
\! node test/lib/standin_requests.js --method POST --fields To,Body,MediaUrl --sort | grep -E '55509(93|94)'
\! node test/lib/standin_requests.js --method POST --path '/Messages$' --fields Body,MediaSid | grep -E 'MediaSid=ME'
SET ROLE authenticated;
SELECT to_number, body, status, error_message FROM twilio.messages
 WHERE to_number IN ('+15005550993', '+15005550994', '+15005550990') ORDER BY created_at;
RESET ROLE;

-- a MediaSid create validates against Twilio's OpenAPI spec (Prism answers 422 to what it rejects): gus is a new
-- user connected against Prism (Prism answers every create with one example SID, which a user records once)
INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-000000000099', 'gus.media@example.com');
SET byo_twilio.api_base_url = :'prism_api';
SET byo_twilio.conversations_base_url = :'prism_conversations';
SET byo_twilio.messaging_base_url = :'prism_messaging';
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-000000000099"}';
\set prism_token `openssl rand -hex 16`
SELECT status FROM twilio.save_settings('ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', :'prism_token',
                                        'ISaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
                                        '+18089255327');
RESET ROLE;
RESET byo_twilio.api_base_url;
RESET byo_twilio.conversations_base_url;
RESET byo_twilio.messaging_base_url;
ALTER SYSTEM SET byo_twilio.api_base_url = :'prism_api';
ALTER SYSTEM SET byo_twilio.conversations_base_url = :'prism_conversations';
ALTER SYSTEM SET byo_twilio.messaging_base_url = :'prism_messaging';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SET ROLE authenticated;
SELECT twilio.get_or_create_conversation_for_lead('99000000-0000-0000-0000-000000000002', '+15005550996', 'Spec media')
    AS gus_conv \gset
SELECT twilio.send_conversation_message(:'gus_conv', NULL, ARRAY['ME0123456789abcdef0123456789abcdef']) IS NOT NULL AS queued;
RESET ROLE;
SELECT wait_for_dispatcher();
SET ROLE authenticated;
SELECT channel, media_count, status IN ('accepted', 'queued', 'sent') AS accepted_by_spec, error_code, error_message
  FROM twilio.messages ORDER BY channel;
RESET ROLE;
ALTER SYSTEM RESET byo_twilio.api_base_url;
ALTER SYSTEM RESET byo_twilio.conversations_base_url;
ALTER SYSTEM RESET byo_twilio.messaging_base_url;
SELECT pg_reload_conf();
RESET request.jwt.claims;
