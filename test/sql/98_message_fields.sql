-- Messages as Twilio has them: webhook fields stored as Twilio means them (encoding, segments, To, ErrorCode 0,
-- voice details), nonsense numbers stored as NULL, bounds checked at the SQL call, and texts sent from the user's
-- own number when they have no Messaging service. Webhooks are signed with twilio.compute_signature here
-- (test/e2e/relay_test.sh signs with the npm library).
SET client_min_messages = warning;
\set SHOW_CONTEXT never
\getenv alice_token ALICE_TOKEN
\getenv prism_api PRISM_API_URL
\getenv prism_conversations PRISM_CONVERSATIONS_URL
\getenv prism_messaging PRISM_MESSAGING_URL
SELECT webhook_key AS ann_key FROM twilio.user_settings WHERE user_id = '00000000-0000-0000-0000-00000000aa01' \gset
SET regress.alice_token = :'alice_token';
CREATE FUNCTION pg_temp.post(url text, params jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    body text := (SELECT string_agg(key || '=' || replace(replace(replace(value, '%', '%25'), '+', '%2B'), ' ', '+'),
                                    '&') FROM jsonb_each_text(params));
    sig text := twilio.compute_signature(current_setting('regress.alice_token'), url, params);
    r record;
BEGIN
    SET LOCAL ROLE byo_twilio_relay;
    SELECT * INTO r FROM twilio.handle_webhook(url, sig, 'application/x-www-form-urlencoded', body);
    RETURN r.status::text;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.post(text, jsonb) TO byo_twilio_relay;
-- Runs a statement; its SQLSTATE and message, message ids masked (they are time-ordered UUIDs).
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', '<id>', 'g');
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO authenticated;
\set base 'https://relay.example.test/twilio/'
\set sms_url :base :ann_key '/sms'
\set conv_url :base :ann_key '/conversations'
\set voice_url :base :ann_key '/voice_status'

-- inbound texts: the encoding follows from the characters; NumSegments out of 1-48 (or missing) is our own count
SELECT pg_temp.post(:'sms_url', '{"MessageSid": "SM98000000000000000000000000000001", "AccountSid": "ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "From": "+15005550980", "To": "+15005550006", "Body": "Grüße aus Köln 👋", "SmsStatus": "received", "NumSegments": "999999"}');
SELECT pg_temp.post(:'sms_url', '{"MessageSid": "SM98000000000000000000000000000002", "AccountSid": "ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "From": "+15005550980", "To": "+15005550006", "Body": "plain text", "SmsStatus": "received", "NumSegments": "-2"}');
SELECT pg_temp.post(:'sms_url', '{"MessageSid": "SM98000000000000000000000000000003", "AccountSid": "ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "From": "+15005550980", "To": "+15005550006", "Body": "two parts, Twilio says", "SmsStatus": "received", "NumSegments": "2"}');
SELECT twilio_sid, body, segments, encoding FROM twilio.messages WHERE twilio_sid LIKE 'SM98%' ORDER BY twilio_sid;

-- Conversations: an inbound message is addressed to our side of the conversation (its proxy address: ours, or
-- learnt from onParticipantAdded for a conversation we did not create); UCS-2 is recognised there too
SELECT twilio_sid AS conv_sid, proxy_address FROM twilio.conversations
 WHERE user_id = '00000000-0000-0000-0000-00000000aa01' AND lead_id = '11111111-0000-0000-0000-000000000001' \gset
SELECT pg_temp.post(:'conv_url', jsonb_build_object('EventType', 'onMessageAdded', 'ConversationSid', :'conv_sid', 'ChatServiceSid', 'ISa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', 'AccountSid', 'ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', 'MessageSid', 'IM98000000000000000000000000000001', 'Author', '+15005550200', 'Body', 'Спасибо!', 'Source', 'SMS'));
SELECT pg_temp.post(:'conv_url', '{"EventType": "onParticipantAdded", "ConversationSid": "CH98000000000000000000000000000001", "ChatServiceSid": "ISa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "AccountSid": "ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "ParticipantSid": "MB98000000000000000000000000000001", "MessagingBinding.Address": "+15005550981", "MessagingBinding.ProxyAddress": "+15005550006", "FriendlyName": "only 256 characters are kept"}');
SELECT pg_temp.post(:'conv_url', '{"EventType": "onMessageAdded", "ConversationSid": "CH98000000000000000000000000000001", "ChatServiceSid": "ISa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "AccountSid": "ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "MessageSid": "IM98000000000000000000000000000002", "Author": "+15005550981", "Body": "hello from a stranger"}');
SELECT twilio_sid, from_number, to_number = :'proxy_address' AS to_our_proxy, to_number, encoding, segments
  FROM twilio.messages WHERE twilio_sid LIKE 'IM98%' ORDER BY twilio_sid;
-- a conversation's FriendlyName longer than Twilio's 256 characters is not kept
SELECT pg_temp.post(:'conv_url', jsonb_build_object('EventType', 'onConversationAdded', 'ConversationSid', 'CH98000000000000000000000000000002', 'ChatServiceSid', 'ISa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', 'AccountSid', 'ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', 'FriendlyName', repeat('n', 257)));
SELECT twilio_sid, friendly_name FROM twilio.conversations WHERE twilio_sid LIKE 'CH98%' ORDER BY twilio_sid;

-- delivery receipts: ErrorCode 0 means no error (NULL); a real code is kept
INSERT INTO twilio.messages (user_id, channel, direction, to_number, body, status, twilio_sid)
VALUES ('00000000-0000-0000-0000-00000000aa01', 'conversation', 'outbound', '+15005550200', 'receipt test', 'sent',
        'IM98000000000000000000000000000003'),
       ('00000000-0000-0000-0000-00000000aa01', 'conversation', 'outbound', '+15005550200', 'receipt test 2', 'sent',
        'IM98000000000000000000000000000004');
SELECT pg_temp.post(:'conv_url', jsonb_build_object('EventType', 'onDeliveryUpdated', 'ConversationSid', :'conv_sid', 'ChatServiceSid', 'ISa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', 'AccountSid', 'ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', 'MessageSid', 'IM98000000000000000000000000000003', 'DeliveryReceiptSid', 'DY98000000000000000000000000000001', 'Status', 'delivered', 'ErrorCode', '0'));
SELECT pg_temp.post(:'conv_url', jsonb_build_object('EventType', 'onDeliveryUpdated', 'ConversationSid', :'conv_sid', 'ChatServiceSid', 'ISa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', 'AccountSid', 'ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', 'MessageSid', 'IM98000000000000000000000000000003', 'DeliveryReceiptSid', 'DY98000000000000000000000000000001', 'Status', 'read', 'ErrorCode', '0'));
SELECT pg_temp.post(:'conv_url', jsonb_build_object('EventType', 'onDeliveryUpdated', 'ConversationSid', :'conv_sid', 'ChatServiceSid', 'ISa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', 'AccountSid', 'ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', 'MessageSid', 'IM98000000000000000000000000000004', 'DeliveryReceiptSid', 'DY98000000000000000000000000000002', 'Status', 'undelivered', 'ErrorCode', '30003'));
SELECT body, status, error_code FROM twilio.messages WHERE twilio_sid IN ('IM98000000000000000000000000000003', 'IM98000000000000000000000000000004') ORDER BY body;

-- voice status callbacks: AnsweredBy, SipResponseCode and ErrorCode are kept; out of Twilio's ranges is NULL
SELECT pg_temp.post(:'voice_url', '{"CallSid": "CA98000000000000000000000000000001", "AccountSid": "ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "CallStatus": "completed", "CallDuration": "37", "SequenceNumber": "4", "SipResponseCode": "200", "AnsweredBy": "machine_end_beep", "From": "+15005550006", "To": "+15005550982"}');
SELECT pg_temp.post(:'voice_url', '{"CallSid": "CA98000000000000000000000000000002", "AccountSid": "ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "CallStatus": "failed", "CallDuration": "-5", "SequenceNumber": "-1", "SipResponseCode": "999", "ErrorCode": "13224", "AnsweredBy": "a robot, probably", "From": "+15005550006", "To": "+15005550983"}');
SELECT pg_temp.post(:'voice_url', '{"CallSid": "CA98000000000000000000000000000003", "AccountSid": "ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "CallStatus": "completed", "CallDuration": "99999999999", "SipResponseCode": "486", "ErrorCode": "0", "From": "+15005550006", "To": "+15005550984"}');
SELECT call_sid, status, duration_seconds, sequence_number, sip_response_code, error_code, answered_by
  FROM twilio.voice_calls WHERE call_sid LIKE 'CA98%' ORDER BY call_sid;
SELECT params ->> 'CallSid' AS call_sid, effect FROM twilio.webhook_events
 WHERE params ->> 'CallSid' LIKE 'CA98%' ORDER BY id;

-- media arrive with the message: an MMS (NumMedia, MediaUrlN, MediaContentTypeN; a media-only text has an empty
-- body) and a Conversations message (Media: SIDs, types, names, sizes); an insecure URL is not kept
SELECT pg_temp.post(:'sms_url', '{"MessageSid": "MM98000000000000000000000000000001", "AccountSid": "ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "From": "+15005550980", "To": "+15005550006", "Body": "", "SmsStatus": "received", "NumSegments": "1", "NumMedia": "3", "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1/Messages/MM98000000000000000000000000000001/Media/ME98000000000000000000000000000001", "MediaContentType0": "image/jpeg", "MediaUrl1": "http://insecure.example/cat.gif", "MediaContentType1": "image/gif", "MediaUrl2": "https://api.twilio.com/2010-04-01/Accounts/ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1/Messages/MM98000000000000000000000000000001/Media/ME98000000000000000000000000000002", "MediaContentType2": "video/mp4"}');
SELECT pg_temp.post(:'conv_url', jsonb_build_object('EventType', 'onMessageAdded', 'ConversationSid', :'conv_sid', 'ChatServiceSid', 'ISa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', 'AccountSid', 'ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', 'MessageSid', 'IM98000000000000000000000000000005', 'Author', '+15005550200', 'Media', '[{"Sid": "ME98000000000000000000000000000003", "ContentType": "application/pdf", "Filename": "menu.pdf", "Size": 48213}]'));
SELECT twilio_sid, channel, body, media_count FROM twilio.messages
 WHERE twilio_sid IN ('MM98000000000000000000000000000001', 'IM98000000000000000000000000000005') ORDER BY twilio_sid;
SELECT m.twilio_sid, d.position, d.media_sid, d.content_type, d.filename, d.size_bytes, d.url IS NOT NULL AS has_url
  FROM twilio.message_media d JOIN twilio.messages m ON m.user_id = d.user_id AND m.id = d.message_id
 ORDER BY m.twilio_sid, d.position;
-- owner-only, as messages are
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-00000000bb01"}';
SELECT count(*) AS others_see FROM twilio.message_media;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-00000000aa01"}';
SELECT count(*) AS owner_sees FROM twilio.message_media;

-- media links: Twilio's short-lived URL, asked for with the account's token inside the call (the stand-in
-- redirects an MMS media GET, and answers a Conversations media GET with links.content_direct_temporary)
SELECT id AS mms_id FROM twilio.messages WHERE twilio_sid = 'MM98000000000000000000000000000001' \gset
SELECT id AS conv_media_id FROM twilio.messages WHERE twilio_sid = 'IM98000000000000000000000000000005' \gset
SELECT twilio.media_link(:'mms_id') ~ '^https://media\.standin\.invalid/ME98000000000000000000000000000001\?Expires=[0-9]+&' AS mms_link;
SELECT twilio.media_link(:'mms_id', 1) ~ '^https://media\.standin\.invalid/ME98000000000000000000000000000002\?' AS mms_second_link;
SELECT twilio.media_link(:'conv_media_id', 0) ~ '^https://media\.standin\.invalid/ME98000000000000000000000000000003\?' AS conversations_link;
SELECT pg_temp.try(format('SELECT twilio.media_link(%L, 2)', :'mms_id')) AS no_such_position;
-- another user's media does not exist for them
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-00000000bb01"}';
SELECT pg_temp.try(format('SELECT twilio.media_link(%L)', :'mms_id')) AS another_users_media;
RESET ROLE;
-- media Twilio no longer has: a clear error
SELECT pg_temp.post(:'sms_url', '{"MessageSid": "MM98000000000000000000000000000002", "AccountSid": "ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "From": "+15005550980", "To": "+15005550006", "Body": "gone", "SmsStatus": "received", "NumMedia": "1", "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1/Messages/MM98000000000000000000000000000002/Media/MEffffffffffffffffffffffffffffffff", "MediaContentType0": "image/png"}');
SELECT id AS gone_id FROM twilio.messages WHERE twilio_sid = 'MM98000000000000000000000000000002' \gset
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-00000000aa01"}';
SELECT pg_temp.try(format('SELECT twilio.media_link(%L)', :'gone_id')) AS gone_at_twilio;
RESET ROLE;
-- no client reads the token: the links come back, and nothing in the events or messages holds it
SELECT count(*) AS token_anywhere FROM twilio.webhook_events WHERE body LIKE '%' || :'alice_token' || '%';

-- outbound bounds: a conversation's friendly_name is at most 256 characters (Twilio's limit), refused at the call
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-00000000aa01"}';
SELECT twilio.get_or_create_conversation_for_lead('98000000-0000-0000-0000-000000000001', '+15005550985',
                                                  repeat('n', 1024 * 1024));
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.get_or_create_conversation_for_lead('98000000-0000-0000-0000-000000000001', '+15005550985',
                                                  repeat('n', 257));
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT count(*) AS nothing_queued FROM twilio.conversations WHERE lead_id = '98000000-0000-0000-0000-000000000001';
RESET ROLE;

-- sends without a Messaging service go out from the user's own number (From); with neither, a clear error
UPDATE twilio.user_settings SET messaging_service_sid = NULL WHERE user_id = '00000000-0000-0000-0000-00000000aa01';
SET ROLE authenticated;
SELECT twilio.send_sms('+15005550986', 'sent from my own number') IS NOT NULL AS queued;
SELECT from_number FROM twilio.messages WHERE to_number = '+15005550986';
RESET ROLE;
SELECT wait_for_dispatcher();
\! node test/lib/standin_requests.js --method POST --fields To,From,MessagingServiceSid,Body | grep 5550986
BEGIN;
UPDATE twilio.user_settings SET sms_number = NULL WHERE user_id = '00000000-0000-0000-0000-00000000aa01';
SET LOCAL ROLE authenticated;
SELECT twilio.send_sms('+15005550987', 'no sender');
\echo sqlstate=:LAST_ERROR_SQLSTATE
ROLLBACK;
UPDATE twilio.user_settings SET messaging_service_sid = 'MGa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1'
 WHERE user_id = '00000000-0000-0000-0000-00000000aa01';

-- the same send validates against Twilio's OpenAPI spec (Prism answers 422 to what the spec rejects): fay has a
-- number and no Messaging service
INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-0000000000fa', 'fay.media@example.com');
SET byo_twilio.api_base_url = :'prism_api';
SET byo_twilio.conversations_base_url = :'prism_conversations';
SET byo_twilio.messaging_base_url = :'prism_messaging';
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000000fa"}';
\set prism_token `openssl rand -hex 16`
SELECT messaging_service_sid, sms_number, status
  FROM twilio.save_settings('ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', :'prism_token', 'ISaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
                            NULL, '+18089255327');
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
SELECT twilio.send_sms('+15005550988', 'from my number, validated by the spec') IS NOT NULL AS queued;
RESET ROLE;
SELECT wait_for_dispatcher();
SET ROLE authenticated;
SELECT from_number, status IN ('accepted', 'queued', 'sent') AS accepted_by_spec, error_code, error_message
  FROM twilio.messages;
RESET ROLE;
ALTER SYSTEM RESET byo_twilio.api_base_url;
ALTER SYSTEM RESET byo_twilio.conversations_base_url;
ALTER SYSTEM RESET byo_twilio.messaging_base_url;
SELECT pg_reload_conf();
RESET request.jwt.claims;
