------------------------------------------------------------------------------------------------------------------
-- Inbound: Twilio's webhooks, forwarded by the relay to twilio.handle_webhook (one call each). The tenant is found,
-- the signature checked with that tenant's own token, the event kept raw (idempotently) and routed.
------------------------------------------------------------------------------------------------------------------

-- Every accepted webhook, raw, once: (user_id, dedupe_key) makes Twilio's retries idempotent.
CREATE TABLE twilio.webhook_events (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    id bigint GENERATED ALWAYS AS IDENTITY,
    kind text NOT NULL CHECK (kind IN ('conversations', 'sms', 'status', 'voice_status')),
    event_type text,
    dedupe_key text NOT NULL,
    url text NOT NULL,
    content_type text,
    body text NOT NULL,
    params jsonb NOT NULL,
    effect text,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    UNIQUE (user_id, dedupe_key)
);

-- Calls, one row per leg (docs/dialer.md). twilio.dial writes the agent leg at once, before Twilio has it
-- (call_sid NULL, status 'queued'); the dispatcher fills in the SID; status callbacks move each leg forward and
-- bring the lead leg (the <Dial> child, parent_call_sid set). Callbacks of calls we did not place land as 'other'.
CREATE TABLE twilio.voice_calls (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    call_sid text CHECK (call_sid ~ '^CA[0-9a-fA-F]{32}$'),
    status text NOT NULL,
    from_number text,
    to_number text,
    duration_seconds integer,
    sequence_number integer,
    updated_at timestamptz NOT NULL DEFAULT now(),
    id uuid NOT NULL DEFAULT twilio._uuid_v7(),  -- time-ordered: inserts append to the index
    leg text NOT NULL DEFAULT 'other' CHECK (leg IN ('agent', 'lead', 'other')),
    parent_call_sid text CHECK (parent_call_sid ~ '^CA[0-9a-fA-F]{32}$'),
    action_id uuid,        -- the manual action this call works on (twilio.manual_actions), if any
    lead_phone text,       -- agent leg: the number the bridge dials
    account_sid text,      -- the account the call was placed with
    answered_by text,      -- Twilio's AnsweredBy (machine detection), when sent
    sip_response_code integer,
    error_code integer,
    error_message text,
    created_at timestamptz NOT NULL DEFAULT now(),
    answered_at timestamptz,
    ended_at timestamptz,
    PRIMARY KEY (user_id, id),
    UNIQUE (user_id, call_sid)
);

SELECT pg_catalog.pg_extension_config_dump('twilio.webhook_events', '');
SELECT pg_catalog.pg_extension_config_dump('twilio.voice_calls', '');
ALTER TABLE twilio.webhook_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio.voice_calls ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhook_events_select_own ON twilio.webhook_events FOR SELECT TO authenticated
    USING (user_id = auth.uid());
CREATE POLICY voice_calls_select_own ON twilio.voice_calls FOR SELECT TO authenticated USING (user_id = auth.uid());
REVOKE ALL ON twilio.webhook_events, twilio.voice_calls FROM PUBLIC;
GRANT SELECT ON twilio.webhook_events, twilio.voice_calls TO authenticated, service_role;

-- Statuses only move forward: a late "sent" after "delivered" is logged but does not regress the message
-- (src/core/message_status.cpp, shared with handle_webhook).
CREATE FUNCTION twilio._status_rank(status text) RETURNS integer
    AS 'MODULE_PATHNAME', 'byo_status_rank' LANGUAGE C IMMUTABLE STRICT;
-- Applies a delivery status to one of the user's messages (by Twilio SID); 21610 adds an opt-out; returns what
-- it did (src/pg/message_status.cpp).
CREATE FUNCTION twilio._apply_message_status(uid uuid, sid text, new_status text, new_error_code text) RETURNS text
    AS 'MODULE_PATHNAME', 'byo_apply_message_status' LANGUAGE C VOLATILE;

-- STOP-family keywords (or Twilio's Advanced Opt-Out) add an opt-out; START-family removes it; HELP is noted.
CREATE FUNCTION twilio._opt_keyword(body text, opt_out_type text) RETURNS text
    AS 'MODULE_PATHNAME', 'byo_opt_keyword' LANGUAGE C IMMUTABLE;
CREATE FUNCTION twilio._apply_opt_keywords(uid uuid, phone text, body text, opt_out_type text) RETURNS text
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

-- Each fallback step of handle_webhook's tenant lookup (src/pg/webhook_tenant.cpp) is an index scan, however many
-- users there are.
CREATE INDEX user_settings_conversations_service_sid ON twilio.user_settings (conversations_service_sid);
CREATE INDEX user_settings_messaging_service_sid ON twilio.user_settings (messaging_service_sid);
CREATE INDEX user_settings_sms_number ON twilio.user_settings (sms_number);
CREATE INDEX user_settings_account_sid ON twilio.user_settings (account_sid);
-- Status callbacks of platform-account traffic name no user: their message is found by SID alone (outbound only,
-- so inbound texts do not pay for this index).
CREATE INDEX messages_outbound_twilio_sid ON twilio.messages (twilio_sid) WHERE direction = 'outbound';
-- Status callbacks that beat the dispatcher to a message's SID, found by that SID when it is recorded.
CREATE INDEX webhook_events_held_messages ON twilio.webhook_events (user_id, (params ->> 'MessageSid'))
    WHERE kind = 'status' AND effect = 'status for an unknown message';

-- A new message's media (a JSON array as webhook_media_json makes it); nothing for a message already recorded.
CREATE FUNCTION twilio._record_media(uid uuid, message_id uuid, media jsonb) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO twilio.message_media (user_id, message_id, position, url, media_sid, content_type, filename,
                                      size_bytes)
    SELECT uid, message_id, m.n - 1, m.item ->> 'url', m.item ->> 'sid', m.item ->> 'content_type',
           m.item ->> 'filename', (m.item ->> 'size')::bigint
      FROM jsonb_array_elements(media) WITH ORDINALITY AS m(item, n)
     WHERE message_id IS NOT NULL
$$;

-- Applies one accepted voice or Conversations webhook (handle_webhook records inbound texts and status callbacks
-- itself) to the user's tables and says what it did (kept as the event's effect).
-- media: the message's media as src/core/webhook_event.cpp (webhook_media_json) extracted and checked them.
CREATE FUNCTION twilio._route_webhook(uid uuid, kind text, p jsonb, media jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    what_happened text;
    conv twilio.conversations;
    seg record;
    msg_id uuid;
BEGIN
    IF kind = 'voice_status' THEN
        what_happened := twilio._apply_call_status(uid, p);  -- 71_dialer_calls.sql
    ELSE
        SELECT * INTO conv FROM twilio.conversations c
         WHERE c.user_id = uid AND c.twilio_sid = p ->> 'ConversationSid' ORDER BY c.created_at LIMIT 1;
        IF NOT FOUND AND p ? 'ConversationSid' AND p ->> 'EventType' IN ('onMessageAdded', 'onConversationAdded',
                                                                          'onParticipantAdded') THEN
            -- A conversation we did not create (or have not heard back about): keep a skeleton of it.
            INSERT INTO twilio.conversations (user_id, status, twilio_sid, friendly_name, service_sid, account_sid)
            VALUES (uid, 'active', p ->> 'ConversationSid',
                    CASE WHEN char_length(p ->> 'FriendlyName') <= 256 THEN p ->> 'FriendlyName' END,
                    p ->> 'ChatServiceSid', p ->> 'AccountSid')
            RETURNING * INTO conv;
        END IF;
        CASE p ->> 'EventType'
            WHEN 'onMessageAdded' THEN
                IF (p ->> 'Attributes') LIKE '%byo_message_id%' THEN
                    what_happened := 'our own outbound message';
                ELSE
                    -- To is our side of the conversation: its proxy address (ours, or learnt from
                    -- onParticipantAdded); onMessageAdded itself does not name it.
                    seg := twilio._sms_segments(coalesce(p ->> 'Body', ''));
                    INSERT INTO twilio.messages (user_id, conversation_id, channel, direction, to_number,
                                                 from_number, body, status, twilio_sid, account_sid, segments,
                                                 encoding, media_count)
                    VALUES (uid, conv.id, 'conversation', 'inbound', conv.proxy_address, p ->> 'Author',
                            coalesce(p ->> 'Body', ''), 'received', p ->> 'MessageSid', p ->> 'AccountSid',
                            greatest(seg.segments, 1), seg.encoding, jsonb_array_length(media))
                    ON CONFLICT (user_id, twilio_sid) DO NOTHING
                    RETURNING id INTO msg_id;
                    PERFORM twilio._record_media(uid, msg_id, media);
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
                                                      THEN p ->> 'MessagingBinding.Address' END),
                       proxy_address = coalesce(c.proxy_address,
                                                CASE WHEN twilio._is_e164(p ->> 'MessagingBinding.ProxyAddress')
                                                     THEN p ->> 'MessagingBinding.ProxyAddress' END)
                 WHERE c.user_id = uid AND c.id = conv.id;
                what_happened := 'participant added';
            ELSE
                what_happened := coalesce(p ->> 'EventType', 'event') || ' recorded';
        END CASE;
    END IF;
    RETURN what_happened;
END
$$;

-- The relay's one call per webhook (src/pg/fn_webhook.cpp): parse, tenant and signature (src/pg/webhook_tenant.cpp),
-- then the event recorded once with its effect. An inbound text is recorded there in one statement; other kinds
-- go through _route_webhook. (The request's content type and body are named request_*: the result columns take
-- the plain names.)
CREATE FUNCTION twilio.handle_webhook(url text, signature text, request_content_type text, request_body text)
    RETURNS TABLE (status integer, content_type text, body text)
    AS 'MODULE_PATHNAME', 'byo_handle_webhook'
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION twilio.handle_webhook(text, text, text, text) IS
    'One Twilio webhook, as the relay received it: tenant, signature, idempotent record, routing; returns the answer';

-- The relay's call when webhooks queue up (src/pg/fn_webhook.cpp): each one checked and recorded as handle_webhook
-- would, the plain inbound texts among them in one INSERT, all in one transaction; a row per webhook, `item` its
-- 1-based position in the arrays. If the call fails, none of them stays: the relay sends each again on its own.
CREATE FUNCTION twilio.handle_webhooks(urls text[], signatures text[], request_content_types text[],
                                       request_bodies text[])
    RETURNS TABLE (item integer, status integer, content_type text, body text)
    AS 'MODULE_PATHNAME', 'byo_handle_webhooks'
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION twilio.handle_webhooks(text[], text[], text[], text[]) IS
    'Many Twilio webhooks in one transaction, as handle_webhook would take each; one answer row per webhook';
