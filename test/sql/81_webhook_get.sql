-- Webhooks Twilio sends with HTTP GET (a number or callback configured that way): the relay passes the URL with
-- its query and no content type or body; the parameters are the query and the signature covers the URL alone.
-- A GET lands exactly as the same webhook POSTed would. Also: a signature computed over the URL with the
-- connection overrides fragment that get_settings() hands out is accepted. Runs after 80_webhooks.sql (its role).
SET client_min_messages = warning;
\set SHOW_CONTEXT never
\getenv alice_token ALICE_TOKEN
SET regress.alice_token = :'alice_token';
SELECT webhook_key AS ann_key FROM twilio.user_settings WHERE user_id = '00000000-0000-0000-0000-00000000aa01' \gset
\set sms_url 'https://relay.example.test/twilio/' :ann_key '/sms'
\set overrides '#rc=5&rp=ct,rt,5xx&tt=15000'

-- The form encoding of params, as Twilio encodes a query or a body.
CREATE FUNCTION pg_temp.form(params jsonb) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(key || '=' || replace(replace(replace(value, '%', '%25'), '+', '%2B'), ' ', '+'), '&')
      FROM jsonb_each_text(params)
$$;
-- A GET to url with params in its query, signed over that URL alone (or as `signed_params` say): the answer.
CREATE FUNCTION pg_temp.get(url text, params jsonb, signed_params jsonb DEFAULT '{}', tamper text DEFAULT NULL,
                            fragment text DEFAULT '') RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    full_url text := url || '?' || pg_temp.form(params);
    sig text := twilio.compute_signature(current_setting('regress.alice_token'), full_url || fragment, signed_params);
    r record;
BEGIN
    SET LOCAL ROLE byo_twilio_relay;
    SELECT * INTO r FROM twilio.handle_webhook(coalesce(tamper, full_url), sig, NULL, NULL);
    RETURN r.status || ' ' || r.content_type || ' ' || r.body;
END
$$;
-- A POST of params to url, signed over `signed_url` (default: url itself).
CREATE FUNCTION pg_temp.post(url text, params jsonb, signed_url text DEFAULT NULL) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    sig text := twilio.compute_signature(current_setting('regress.alice_token'), coalesce(signed_url, url), params);
    body text := pg_temp.form(params);
    r record;
BEGIN
    SET LOCAL ROLE byo_twilio_relay;
    SELECT * INTO r FROM twilio.handle_webhook(url, sig, 'application/x-www-form-urlencoded', body);
    RETURN r.status || ' ' || r.content_type || ' ' || r.body;
END
$$;
CREATE FUNCTION pg_temp.inbound(sid text, body text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('MessageSid', sid, 'SmsSid', sid, 'AccountSid', 'ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1',
                              'From', '+15005550481', 'To', '+15005550006', 'Body', body, 'SmsStatus', 'received',
                              'NumSegments', '1')
$$;

-- an inbound SMS by GET, and the same text by POST under another SID: answered alike
SELECT pg_temp.get(:'sms_url', pg_temp.inbound('SM000000000000000000000000000081a1', 'Same 100% + text')) AS by_get;
SELECT pg_temp.post(:'sms_url', pg_temp.inbound('SM000000000000000000000000000081b1', 'Same 100% + text')) AS by_post;
-- the same rows: message and event alike but for the SID (the event's body is the query or the form, as it came)
SELECT count(DISTINCT (user_id, direction, channel, from_number, to_number, body, status)) AS distinct_messages,
       count(*) AS messages
  FROM twilio.messages WHERE twilio_sid IN ('SM000000000000000000000000000081a1', 'SM000000000000000000000000000081b1');
SELECT count(DISTINCT (user_id, kind, event_type, effect, params - 'MessageSid' - 'SmsSid',
                       replace(body, '81a1', '81b1'))) AS distinct_events, count(*) AS events,
       bool_and(url LIKE '%/sms?%') FILTER (WHERE content_type IS NULL) AS get_keeps_its_url
  FROM twilio.webhook_events WHERE params ->> 'MessageSid' IN ('SM000000000000000000000000000081a1',
                                                               'SM000000000000000000000000000081b1');
-- Twilio retries the GET: one message, one event
SELECT pg_temp.get(:'sms_url', pg_temp.inbound('SM000000000000000000000000000081a1', 'Same 100% + text')) AS retried;
SELECT count(*) AS messages FROM twilio.messages WHERE twilio_sid = 'SM000000000000000000000000000081a1';
-- a GET signed as a POST would be (the params appended to the URL): 403
SELECT pg_temp.get(:'sms_url', pg_temp.inbound('SM000000000000000000000000000081a2', 'signed like a POST'),
                   pg_temp.inbound('SM000000000000000000000000000081a2', 'signed like a POST')) AS signed_as_post;
-- a GET whose query was changed after signing: 403
SELECT pg_temp.get(:'sms_url', pg_temp.inbound('SM000000000000000000000000000081a3', 'original'),
                   tamper => :'sms_url' || '?' || pg_temp.form(pg_temp.inbound('SM000000000000000000000000000081a3',
                                                                               'changed'))) AS tampered;
-- a content type without a body is no GET: 400
SET ROLE byo_twilio_relay;
SELECT status, body FROM twilio.handle_webhook(:'sms_url' || '?Body=x', 'sig', 'application/x-www-form-urlencoded', NULL);
RESET ROLE;
SELECT count(*) AS refused_written FROM twilio.messages
 WHERE twilio_sid IN ('SM000000000000000000000000000081a2', 'SM000000000000000000000000000081a3');

-- a GET in a batch (handle_webhooks: NULL content type and body for it), beside a POST
GRANT EXECUTE ON FUNCTION twilio.handle_webhooks(text[], text[], text[], text[]) TO byo_twilio_relay;
SELECT :'sms_url' || '?' || pg_temp.form(pg_temp.inbound('SM000000000000000000000000000081c1', 'batched GET')) AS get_url,
       pg_temp.form(pg_temp.inbound('SM000000000000000000000000000081c2', 'batched POST')) AS post_body,
       twilio.compute_signature(:'alice_token', :'sms_url',
                                pg_temp.inbound('SM000000000000000000000000000081c2', 'batched POST')) AS post_sig \gset
SELECT twilio.compute_signature(:'alice_token', :'get_url', '{}') AS get_sig \gset
SET ROLE byo_twilio_relay;
SELECT item, status FROM twilio.handle_webhooks(ARRAY[:'get_url', :'sms_url'], ARRAY[:'get_sig', :'post_sig'],
                                                ARRAY[NULL, 'application/x-www-form-urlencoded'],
                                                ARRAY[NULL, :'post_body']) ORDER BY item;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION twilio.handle_webhooks(text[], text[], text[], text[]) FROM byo_twilio_relay;
SELECT twilio_sid, body FROM twilio.messages
 WHERE twilio_sid IN ('SM000000000000000000000000000081c1', 'SM000000000000000000000000000081c2') ORDER BY twilio_sid;

-- signed over the URL as get_settings() gives it, fragment included (Twilio never sends the fragment): accepted;
-- signed over the URL with another fragment: 403
SELECT pg_temp.post(:'sms_url', pg_temp.inbound('SM000000000000000000000000000081d1', 'signed with overrides'),
                    :'sms_url' || :'overrides') AS with_overrides;
SELECT pg_temp.get(:'sms_url', pg_temp.inbound('SM000000000000000000000000000081d2', 'GET with overrides'),
                   fragment => :'overrides') AS get_with_overrides;
SELECT pg_temp.post(:'sms_url', pg_temp.inbound('SM000000000000000000000000000081d3', 'another fragment'),
                    :'sms_url' || '#rc=1') AS other_fragment;
SELECT twilio_sid FROM twilio.messages WHERE twilio_sid LIKE 'SM000000000000000000000000000081d%' ORDER BY 1;

-- the dispatcher's StatusCallback URLs end in the same overrides: a status callback signed over the URL with them
-- is accepted (an SMS's and a call's); with another fragment: 403
\set status_url 'https://relay.example.test/twilio/' :ann_key '/status'
\set voice_url 'https://relay.example.test/twilio/' :ann_key '/voice_status'
SELECT pg_temp.post(:'status_url', '{"MessageSid": "SM000000000000000000000000000081e1", "MessageStatus": "delivered",
                                     "AccountSid": "ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"}',
                    :'status_url' || :'overrides') AS status_with_overrides;
SELECT pg_temp.post(:'voice_url', '{"CallSid": "CA000000000000000000000000000081e2", "CallStatus": "ringing",
                                    "SequenceNumber": "0", "AccountSid": "ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"}',
                    :'voice_url' || :'overrides') AS voice_status_with_overrides;
SELECT pg_temp.post(:'status_url', '{"MessageSid": "SM000000000000000000000000000081e3", "MessageStatus": "delivered",
                                     "AccountSid": "ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"}',
                    :'status_url' || '#rc=1') AS status_other_fragment;
SELECT kind, params ->> 'MessageSid' AS message_sid, params ->> 'CallSid' AS call_sid FROM twilio.webhook_events
 WHERE coalesce(params ->> 'MessageSid', params ->> 'CallSid') LIKE '%81e%' ORDER BY id;
