-- Inbound webhooks through twilio.handle_webhook (the relay's one SQL call): tenant by webhook key or by Twilio's
-- identifiers with fallback, signature checked with the tenant's own token, idempotent, routed; rejections write
-- nothing. Signatures here come from twilio.compute_signature; test/e2e/relay_test.sh signs with the npm library.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
\getenv alice_token ALICE_TOKEN
\getenv bob_token BOB_TOKEN
CREATE ROLE byo_twilio_relay NOLOGIN;
GRANT USAGE ON SCHEMA twilio TO byo_twilio_relay;
GRANT EXECUTE ON FUNCTION twilio.handle_webhook(text, text, text, text) TO byo_twilio_relay;
SELECT webhook_key AS ann_key FROM twilio.user_settings WHERE user_id = '00000000-0000-0000-0000-00000000aa01' \gset
SELECT webhook_key AS ben_key FROM twilio.user_settings WHERE user_id = '00000000-0000-0000-0000-00000000bb01' \gset
SET regress.alice_token = :'alice_token';
SET regress.bob_token = :'bob_token';

-- Posts params to url as Twilio would (form body, signed with token_setting's token) and returns the answer.
CREATE FUNCTION pg_temp.post(url text, params jsonb, token_setting text DEFAULT 'regress.alice_token',
                             tamper text DEFAULT NULL) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    body text := (SELECT string_agg(key || '=' || replace(replace(value, '+', '%2B'), ' ', '+'), '&')
                    FROM jsonb_each_text(params));
    sig text := twilio.compute_signature(current_setting(token_setting), url, params);
    r record;
BEGIN
    SET LOCAL ROLE byo_twilio_relay;
    SELECT * INTO r FROM twilio.handle_webhook(url, sig, 'application/x-www-form-urlencoded',
                                               coalesce(tamper, body));
    RETURN r.status || ' ' || r.content_type || ' ' || r.body;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.post(text, jsonb, text, text) TO byo_twilio_relay;
\set base 'https://relay.example.test/twilio/'
\set sms_url :base :ann_key '/sms'
\set status_url :base :ann_key '/status'
\set conv_url :base :ann_key '/conversations'

-- only the relay role may call it
SET ROLE authenticated;
SELECT * FROM twilio.handle_webhook('x', 'y', 'z', 'w');
\echo sqlstate=:LAST_ERROR_SQLSTATE
-- each user gets their webhook URLs to paste into the Twilio console
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-00000000aa01"}';
SELECT key, regexp_replace(value #>> '{}', '[0-9a-f]{32}', '<key>') AS url FROM twilio.get_settings(),
       jsonb_each(webhook_urls) ORDER BY key;
RESET ROLE;

-- an inbound SMS, then the same delivery again (Twilio retries): one message, one event
SELECT pg_temp.post(:'sms_url', '{"MessageSid": "SM00000000000000000000000000000001", "AccountSid": "ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "MessagingServiceSid": "MGa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "From": "+15005550400", "To": "+15005550006", "Body": "Hello there", "SmsStatus": "received", "NumSegments": "1"}');
SELECT pg_temp.post(:'sms_url', '{"MessageSid": "SM00000000000000000000000000000001", "AccountSid": "ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "MessagingServiceSid": "MGa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "From": "+15005550400", "To": "+15005550006", "Body": "Hello there", "SmsStatus": "received", "NumSegments": "1"}');
SELECT user_id, direction, channel, from_number, body, status FROM twilio.messages WHERE direction = 'inbound';
SELECT user_id, kind, event_type, effect FROM twilio.webhook_events ORDER BY id;

-- rejected: forged (another token), replayed with a changed body, unsigned, malformed: nothing written
SELECT pg_temp.post(:'sms_url', '{"MessageSid": "SM00000000000000000000000000000002", "From": "+15005550400", "To": "+15005550006", "Body": "forged"}', 'regress.bob_token') AS forged;
SELECT pg_temp.post(:'sms_url', '{"MessageSid": "SM00000000000000000000000000000003", "From": "+15005550400", "To": "+15005550006", "Body": "original"}', 'regress.alice_token', 'MessageSid=SM00000000000000000000000000000003&From=%2B15005550400&To=%2B15005550006&Body=changed') AS replayed_with_changes;
SET ROLE byo_twilio_relay;
SELECT * FROM twilio.handle_webhook(:'sms_url', NULL, 'application/x-www-form-urlencoded', 'Body=x&From=%2B1555');
SELECT * FROM twilio.handle_webhook(:'sms_url', 'c2ln', 'text/plain', 'hello');
SELECT * FROM twilio.handle_webhook(:'base' || 'ffffffffffffffffffffffffffffffff/sms', 'c2ln',
                                    'application/x-www-form-urlencoded', 'Body=x&From=%2B15005550400&To=%2B19999999999');
RESET ROLE;
SELECT count(*) AS events, (SELECT count(*) FROM twilio.messages WHERE direction = 'inbound') AS inbound
  FROM twilio.webhook_events;

-- status callbacks move a message forward, never back; 21610 records an opt-out
SELECT twilio_sid AS sms_sid FROM twilio.messages WHERE body = 'from ann' \gset
SELECT pg_temp.post(:'status_url', jsonb_build_object('MessageSid', :'sms_sid', 'MessageStatus', 'delivered', 'AccountSid', 'ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1'));
SELECT pg_temp.post(:'status_url', jsonb_build_object('MessageSid', :'sms_sid', 'MessageStatus', 'sent', 'AccountSid', 'ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1'));
SELECT status FROM twilio.messages WHERE twilio_sid = :'sms_sid';
SELECT event_type, effect FROM twilio.webhook_events WHERE kind = 'status' ORDER BY id;

-- STOP from a recipient blocks that user's next send to them; another user is unaffected; START lifts it
SELECT pg_temp.post(:'sms_url', '{"MessageSid": "SM00000000000000000000000000000004", "From": "+15005550401", "To": "+15005550006", "Body": "stop", "OptOutType": "STOP"}');
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-00000000aa01"}';
SELECT twilio.send_sms('+15005550401', 'are you there?');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-00000000bb01"}';
SELECT twilio.send_sms('+15005550401', 'hello from ben') IS NOT NULL AS ben_can_still_send;
RESET ROLE;
SELECT pg_temp.post(:'sms_url', '{"MessageSid": "SM00000000000000000000000000000005", "From": "+15005550401", "To": "+15005550006", "Body": "START"}');
SELECT count(*) AS ann_opt_outs_for_401 FROM twilio.opt_outs
 WHERE user_id = '00000000-0000-0000-0000-00000000aa01' AND phone = '+15005550401';
-- Twilio retrying that old STOP after the START is a repeat: acknowledged, and it does not opt them out again
SELECT pg_temp.post(:'sms_url', '{"MessageSid": "SM00000000000000000000000000000004", "From": "+15005550401", "To": "+15005550006", "Body": "stop", "OptOutType": "STOP"}') AS stop_retried;
SELECT count(*) AS ann_opt_outs_for_401_after_retry FROM twilio.opt_outs
 WHERE user_id = '00000000-0000-0000-0000-00000000aa01' AND phone = '+15005550401';
SELECT effect, count(*) FROM twilio.webhook_events WHERE dedupe_key LIKE 'sms:SM0000000000000000000000000000000_'
 GROUP BY effect ORDER BY effect;
-- START lifts a recipient's STOP, not an opt-out the user added by hand
SELECT pg_temp.post(:'sms_url', '{"MessageSid": "SM00000000000000000000000000000009", "From": "+15005550111", "To": "+15005550006", "Body": "start"}');
SELECT phone, source FROM twilio.opt_outs WHERE user_id = '00000000-0000-0000-0000-00000000aa01' AND phone = '+15005550111';

-- no key in the URL: found by MessagingServiceSid (ben), with fallback when that finds nobody (To: ben's number)
SELECT pg_temp.post(:'base' || 'sms', '{"MessageSid": "SM00000000000000000000000000000006", "AccountSid": "ACb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0", "MessagingServiceSid": "MGb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0", "From": "+15005550402", "To": "+15005550008", "Body": "to ben"}', 'regress.bob_token');
SELECT pg_temp.post(:'base' || 'sms', '{"MessageSid": "SM00000000000000000000000000000007", "AccountSid": "ACb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0", "MessagingServiceSid": "MG00000000000000000000000000000000", "From": "+15005550402", "To": "+15005550008", "Body": "to ben, unknown service"}', 'regress.bob_token');
SELECT user_id, body FROM twilio.messages WHERE from_number = '+15005550402' ORDER BY body;
-- two users connected the same account and number: nothing tells them apart, so it is refused
SELECT pg_temp.post(:'base' || 'sms', '{"MessageSid": "SM00000000000000000000000000000008", "AccountSid": "ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "From": "+15005550403", "To": "+15005550006", "Body": "who am I for?"}') AS ambiguous_tenant;

-- Conversations: an inbound message in ann's conversation, a delivery receipt for her outbound one, and a
-- conversation we never created (kept as a skeleton)
SELECT twilio_sid AS conv_sid FROM twilio.conversations WHERE lead_id = '11111111-0000-0000-0000-000000000001' \gset
SELECT twilio_sid AS im_sid FROM twilio.messages WHERE body = 'first' \gset
SELECT pg_temp.post(:'conv_url', jsonb_build_object('EventType', 'onMessageAdded', 'ConversationSid', :'conv_sid', 'ChatServiceSid', 'ISa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', 'AccountSid', 'ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', 'MessageSid', 'IM00000000000000000000000000000001', 'Author', '+15005550200', 'Body', 'Reply from the lead', 'Source', 'SMS', 'RetryCount', '0'));
SELECT pg_temp.post(:'conv_url', jsonb_build_object('EventType', 'onDeliveryUpdated', 'ConversationSid', :'conv_sid', 'ChatServiceSid', 'ISa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', 'AccountSid', 'ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', 'MessageSid', :'im_sid', 'Status', 'delivered'));
SELECT pg_temp.post(:'conv_url', jsonb_build_object('EventType', 'onMessageAdded', 'ConversationSid', 'CH00000000000000000000000000000009', 'ChatServiceSid', 'ISa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', 'AccountSid', 'ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', 'MessageSid', 'IM00000000000000000000000000000002', 'Author', '+15005550404', 'Body', 'Hi, new here'));
SELECT c.lead_id IS NULL AS skeleton, m.direction, m.from_number, m.body, m.status
  FROM twilio.messages m JOIN twilio.conversations c ON c.user_id = m.user_id AND c.id = m.conversation_id
 WHERE m.user_id = '00000000-0000-0000-0000-00000000aa01' AND m.channel = 'conversation'
 ORDER BY m.direction, m.created_at, m.body;

-- voice status callbacks, kept per call; an older sequence number does not overwrite a newer one
SELECT pg_temp.post(:'base' || :'ann_key' || '/voice_status', '{"CallSid": "CA00000000000000000000000000000001", "CallStatus": "completed", "CallDuration": "42", "SequenceNumber": "3", "From": "+15005550006", "To": "+15005550405"}');
SELECT pg_temp.post(:'base' || :'ann_key' || '/voice_status', '{"CallSid": "CA00000000000000000000000000000001", "CallStatus": "ringing", "SequenceNumber": "1", "From": "+15005550006", "To": "+15005550405"}');
SELECT call_sid, status, duration_seconds, sequence_number FROM twilio.voice_calls;
-- a number Twilio never sends ("forty") is stored as NULL; the rest of the callback applies
SELECT pg_temp.post(:'base' || :'ann_key' || '/voice_status', '{"CallSid": "CA00000000000000000000000000000002", "CallStatus": "completed", "CallDuration": "forty", "SequenceNumber": "1"}');
SELECT event_type, effect FROM twilio.webhook_events WHERE params ->> 'CallSid' = 'CA00000000000000000000000000000002';

-- status callbacks of platform-account traffic (key "platform"): checked with the platform account's token (bob's
-- credentials here, set in 20_settings), filed under the user whose outbound message they name
INSERT INTO twilio.messages (user_id, channel, direction, to_number, body, status, twilio_sid, account_sid)
VALUES ('00000000-0000-0000-0000-00000000aa01', 'sms', 'outbound', '+15005550406', 'sent with the platform account',
        'sent', 'SM0000000000000000000000000000000a', 'ACb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0');
SELECT pg_temp.post(:'base' || 'platform/status', '{"MessageSid": "SM0000000000000000000000000000000a", "MessageStatus": "delivered", "AccountSid": "ACb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"}', 'regress.bob_token') AS platform_callback;
SELECT pg_temp.post(:'base' || 'platform/status', '{"MessageSid": "SM0000000000000000000000000000000a", "MessageStatus": "read", "AccountSid": "ACb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"}', 'regress.alice_token') AS platform_forged;
SELECT pg_temp.post(:'base' || 'platform/status', '{"MessageSid": "SM0000000000000000000000000000000b", "MessageStatus": "delivered", "AccountSid": "ACb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"}', 'regress.bob_token') AS platform_unknown_message;
-- the platform's token reaches only platform traffic: a message ann sent with her own account is out of its reach
-- (no status rewritten, no 21610 opt-out planted)
INSERT INTO twilio.messages (user_id, channel, direction, to_number, body, status, twilio_sid, account_sid)
VALUES ('00000000-0000-0000-0000-00000000aa01', 'sms', 'outbound', '+15005550407', 'sent with her own account',
        'sent', 'SM0000000000000000000000000000000c', 'ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1');
SELECT pg_temp.post(:'base' || 'platform/status', '{"MessageSid": "SM0000000000000000000000000000000c", "MessageStatus": "undelivered", "ErrorCode": "21610", "To": "+15005550407", "AccountSid": "ACb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"}', 'regress.bob_token') AS platform_on_users_message;
SELECT user_id, status FROM twilio.messages WHERE twilio_sid IN ('SM0000000000000000000000000000000a', 'SM0000000000000000000000000000000c')
 ORDER BY twilio_sid;
SELECT user_id, effect FROM twilio.webhook_events WHERE dedupe_key LIKE 'status:SM0000000000000000000000000000000_:%'
 ORDER BY id;
SELECT count(*) AS planted_opt_outs FROM twilio.opt_outs WHERE phone = '+15005550407';

-- messages and conversations get time-ordered ids (UUID version 7, RFC 9562): version nibble 7, variant 10, and
-- the id's first 48 bits are the creation time in milliseconds (created_at, within a second)
SELECT bool_and(substr(id::text, 15, 1) = '7' AND substr(id::text, 20, 1) IN ('8', '9', 'a', 'b')) AS v7_ids,
       bool_and(abs(extract(epoch FROM created_at) * 1000
                    - ('x' || lpad(replace(substr(id::text, 1, 13), '-', ''), 16, '0'))::bit(64)::bigint) < 1000)
           AS v7_time
  FROM (SELECT id, created_at FROM twilio.messages UNION ALL SELECT id, created_at FROM twilio.conversations) ids;
-- one session's ids strictly increase, even many within one millisecond
SELECT bool_and(id > previous) AS increasing, count(*) AS ids
  FROM (SELECT id, lag(id) OVER (ORDER BY n) AS previous
          FROM (SELECT n, twilio._uuid_v7() AS id FROM generate_series(1, 20000) n) g) s
 WHERE previous IS NOT NULL;

-- hostile bodies get a definite answer (never an error, which the relay answers 503 and Twilio retries) and
-- never crash the backend. The issue's body, 200,000 levels deep and unsigned: 400 before any tenant lookup.
SELECT count(*) AS events_before FROM twilio.webhook_events \gset
SET ROLE byo_twilio_relay;
SELECT * FROM twilio.handle_webhook(:'conv_url', 'anything', 'application/json',
                                    '{"z":' || repeat('[', 200000) || repeat(']', 200000) || '}');
RESET ROLE;
SELECT 'still here' AS backend;
-- Posts a JSON body as Twilio does: the URL carries the body's SHA-256, the signature covers that URL alone.
CREATE FUNCTION pg_temp.post_json(url text, body text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    signed_url text := url || '?bodySHA256=' || encode(sha256(convert_to(body, 'UTF8')), 'hex');
    sig text := twilio.compute_signature(current_setting('regress.alice_token'), signed_url, '{}');
    r record;
BEGIN
    SET LOCAL ROLE byo_twilio_relay;
    SELECT * INTO r FROM twilio.handle_webhook(signed_url, sig, 'application/json', body);
    RETURN r.status || ' ' || r.content_type || ' ' || r.body;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.post_json(text, text) TO byo_twilio_relay;
-- signed, and nested 64 levels (the limit: accepted, kept as it came), 65 and 15,000 levels (refused)
SELECT n AS levels, pg_temp.post_json(:'conv_url', '{"EventType": "onConversationStateUpdated", "AccountSid": "ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "RetryCount": "' || n || '", "z": ' || repeat('[', n - 1) || repeat(']', n - 1) || '}')
  FROM unnest(ARRAY[64, 65, 15000]) n;
SELECT params ->> 'RetryCount' AS levels, jsonb_typeof(params -> 'z') AS z, effect FROM twilio.webhook_events
 WHERE params ->> 'EventType' = 'onConversationStateUpdated' ORDER BY id;
-- signed JSON that jsonb cannot hold as it came (a number beyond numeric's scale, a byte order mark): recorded
-- with its params as an object of strings
SELECT pg_temp.post_json(:'conv_url', '{"EventType": "onConversationUpdated", "AccountSid": "ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "ConversationSid": "CH0000000000000000000000000000000b", "n": 1e-20000}') AS tiny_number;
SELECT pg_temp.post_json(:'conv_url', convert_from('\xefbbbf', 'UTF8') || '{"EventType": "onConversationUpdated", "AccountSid": "ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "ConversationSid": "CH0000000000000000000000000000000c"}') AS byte_order_mark;
SELECT params ->> 'ConversationSid' AS conversation, params ->> 'n' AS n, effect FROM twilio.webhook_events
 WHERE params ->> 'EventType' = 'onConversationUpdated' ORDER BY id;
-- signed, with a 1 MB MessageSid or MessageStatus (incompressible, so no index entry could hold it): 400
SELECT string_agg(md5(i::text), '') AS mb FROM generate_series(1, 32768) i \gset
SELECT pg_temp.post(:'sms_url', jsonb_build_object('MessageSid', :'mb', 'AccountSid', 'ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', 'From', '+15005550407', 'To', '+15005550006', 'Body', 'long sid', 'SmsStatus', 'received')) AS mb_message_sid;
SELECT pg_temp.post(:'status_url', jsonb_build_object('MessageSid', 'SM0000000000000000000000000000000c', 'MessageStatus', :'mb', 'AccountSid', 'ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1')) AS mb_message_status;
-- a body beyond 8 MB: 413, whoever sent it
SET ROLE byo_twilio_relay;
SELECT * FROM twilio.handle_webhook(:'sms_url', 'anything', 'application/x-www-form-urlencoded',
                                    'Body=' || repeat('a', 9 * 1024 * 1024));
RESET ROLE;
-- written since the 200,000 levels: the three signed JSON webhooks accepted above, nothing of the refused ones
SELECT count(*) - :events_before AS events_written FROM twilio.webhook_events;
-- however long a value, nothing stored quotes it: a 1 MB CallDuration is NULL, the callback applies
SELECT pg_temp.post(:'base' || :'ann_key' || '/voice_status', jsonb_build_object('CallSid', 'CA00000000000000000000000000000003', 'CallStatus', 'completed', 'CallDuration', :'mb', 'SequenceNumber', '1'));
SELECT length(effect) < 300 AS bounded, left(effect, 60) AS effect FROM twilio.webhook_events
 WHERE params ->> 'CallSid' = 'CA00000000000000000000000000000003';

-- each user sees only their own events
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-00000000bb01"}';
SELECT kind, event_type FROM twilio.webhook_events ORDER BY id;
RESET ROLE;
RESET request.jwt.claims;
