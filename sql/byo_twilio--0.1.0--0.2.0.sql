-- byo_twilio 0.1.0 -> 0.2.0: handle_webhook moves to C++ (src/pg/fn_webhook.cpp), with kept plans for the tenant
-- lookup, indexes for its fallback steps, and effect and event recorded in one subtransaction; message statuses
-- are applied in C++ (src/pg/message_status.cpp).
\echo Use "ALTER EXTENSION byo_twilio UPDATE TO '0.2.0'" to load this file. \quit

-- A SQL-standard body: parsed once, no search_path to pin, inlinable.
CREATE OR REPLACE FUNCTION twilio._is_e164(value text) RETURNS boolean
LANGUAGE sql IMMUTABLE
-- A SQL-standard body is parsed when created (no search_path to pin) and can be inlined by the planner.
RETURN coalesce(value ~ '^\+[1-9][0-9]{1,14}$', false);

-- C++ now (OR REPLACE keeps each function's grants and its callers' plans valid).
CREATE OR REPLACE FUNCTION twilio._status_rank(status text) RETURNS integer
    AS 'MODULE_PATHNAME', 'byo_status_rank' LANGUAGE C IMMUTABLE STRICT;
-- Applies a delivery status to one of the user's messages (by Twilio SID); 21610 adds an opt-out; returns what
-- it did (src/pg/message_status.cpp).
CREATE OR REPLACE FUNCTION twilio._apply_message_status(uid uuid, sid text, new_status text, new_error_code text) RETURNS text
    AS 'MODULE_PATHNAME', 'byo_apply_message_status' LANGUAGE C VOLATILE;

-- The keyword classifier is C++ now, shared by handle_webhook and _apply_opt_keywords.
CREATE FUNCTION twilio._opt_keyword(body text, opt_out_type text) RETURNS text
    AS 'MODULE_PATHNAME', 'byo_opt_keyword' LANGUAGE C IMMUTABLE;
CREATE OR REPLACE FUNCTION twilio._apply_opt_keywords(uid uuid, phone text, body text, opt_out_type text) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    kind text := twilio._opt_keyword(body, opt_out_type);
BEGIN
    IF kind IS NULL OR NOT twilio._is_e164(phone) THEN
        RETURN NULL;
    END IF;
    IF kind = 'STOP' THEN
        INSERT INTO twilio.opt_outs (user_id, phone, source) VALUES (uid, phone, 'keyword') ON CONFLICT DO NOTHING;
        RETURN 'opted out';
    ELSIF kind = 'START' THEN
        DELETE FROM twilio.opt_outs o
         WHERE o.user_id = uid AND o.phone = _apply_opt_keywords.phone AND o.source <> 'manual';
        RETURN 'opted back in';
    ELSIF kind = 'HELP' THEN
        RETURN 'asked for help';
    END IF;
    RETURN NULL;
END
$$;

CREATE INDEX user_settings_conversations_service_sid ON twilio.user_settings (conversations_service_sid);
CREATE INDEX user_settings_messaging_service_sid ON twilio.user_settings (messaging_service_sid);
CREATE INDEX user_settings_sms_number ON twilio.user_settings (sms_number);
CREATE INDEX user_settings_account_sid ON twilio.user_settings (account_sid);
-- Status callbacks of platform-account traffic name no user: their message is found by SID alone (outbound only,
-- so inbound texts do not pay for this index).
CREATE INDEX messages_outbound_twilio_sid ON twilio.messages (twilio_sid) WHERE direction = 'outbound';

CREATE FUNCTION twilio._route_webhook(uid uuid, kind text, p jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    what_happened text;
    conv twilio.conversations;
BEGIN
    IF kind = 'voice_status' THEN
        INSERT INTO twilio.voice_calls AS v (user_id, call_sid, status, from_number, to_number, duration_seconds,
                                             sequence_number)
        VALUES (uid, p ->> 'CallSid', p ->> 'CallStatus', p ->> 'From', p ->> 'To',
                nullif(p ->> 'CallDuration', '')::integer, nullif(p ->> 'SequenceNumber', '')::integer)
        ON CONFLICT (user_id, call_sid) DO UPDATE
            SET status = EXCLUDED.status, duration_seconds = coalesce(EXCLUDED.duration_seconds, v.duration_seconds),
                sequence_number = EXCLUDED.sequence_number, updated_at = now()
            WHERE coalesce(EXCLUDED.sequence_number, 0) >= coalesce(v.sequence_number, 0);
        what_happened := 'call ' || (p ->> 'CallStatus');
    ELSE
        SELECT * INTO conv FROM twilio.conversations c
         WHERE c.user_id = uid AND c.twilio_sid = p ->> 'ConversationSid' ORDER BY c.created_at LIMIT 1;
        IF NOT FOUND AND p ? 'ConversationSid' AND p ->> 'EventType' IN ('onMessageAdded', 'onConversationAdded',
                                                                          'onParticipantAdded') THEN
            -- A conversation we did not create (or have not heard back about): keep a skeleton of it.
            INSERT INTO twilio.conversations (user_id, status, twilio_sid, friendly_name, service_sid, account_sid)
            VALUES (uid, 'active', p ->> 'ConversationSid', p ->> 'FriendlyName', p ->> 'ChatServiceSid',
                    p ->> 'AccountSid')
            RETURNING * INTO conv;
        END IF;
        CASE p ->> 'EventType'
            WHEN 'onMessageAdded' THEN
                IF (p ->> 'Attributes') LIKE '%byo_message_id%' THEN
                    what_happened := 'our own outbound message';
                ELSE
                    INSERT INTO twilio.messages (user_id, conversation_id, channel, direction, from_number, body,
                                                 status, twilio_sid, account_sid)
                    VALUES (uid, conv.id, 'conversation', 'inbound', p ->> 'Author', coalesce(p ->> 'Body', ''),
                            'received', p ->> 'MessageSid', p ->> 'AccountSid')
                    ON CONFLICT (user_id, twilio_sid) DO NOTHING;
                    what_happened := coalesce(twilio._apply_opt_keywords(uid, p ->> 'Author', p ->> 'Body', NULL),
                                              'inbound conversation message');
                END IF;
            WHEN 'onDeliveryUpdated' THEN
                what_happened := twilio._apply_message_status(uid, p ->> 'MessageSid', p ->> 'Status',
                                                              p ->> 'ErrorCode');
            WHEN 'onParticipantAdded' THEN
                UPDATE twilio.conversations c
                   SET participant_sid = coalesce(c.participant_sid, p ->> 'ParticipantSid'),
                       phone = coalesce(c.phone, CASE WHEN twilio._is_e164(p ->> 'MessagingBinding.Address')
                                                      THEN p ->> 'MessagingBinding.Address' END)
                 WHERE c.user_id = uid AND c.id = conv.id;
                what_happened := 'participant added';
            ELSE
                what_happened := coalesce(p ->> 'EventType', 'event') || ' recorded';
        END CASE;
    END IF;
    RETURN what_happened;
END
$$;

-- OR REPLACE keeps the EXECUTE grant the operator gave the relay's role.
CREATE OR REPLACE FUNCTION twilio.handle_webhook(url text, signature text, request_content_type text, request_body text)
    RETURNS TABLE (status integer, content_type text, body text)
    AS 'MODULE_PATHNAME', 'byo_handle_webhook'
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- 0.1.0's PL/pgSQL tenant lookup and its helpers, now in C++.
DROP FUNCTION twilio._resolve_webhook_tenant(text, jsonb, text, text, text);
DROP FUNCTION twilio._user_signature_ok(uuid, text, text, text, text);
DROP FUNCTION twilio._webhook_signature_ok(text, text, bytea, text, text, text, text);
DROP FUNCTION twilio._form_to_jsonb(text);

REVOKE ALL ON FUNCTION twilio._opt_keyword(text, text), twilio._route_webhook(uuid, text, jsonb) FROM PUBLIC;
