------------------------------------------------------------------------------------------------------------------
-- Inbound: Twilio's webhooks, forwarded by the relay to twilio.handle_webhook (one call each). The tenant is found,
-- the signature checked with that tenant's own token, the event kept raw (idempotently) and routed.
------------------------------------------------------------------------------------------------------------------

CREATE FUNCTION twilio._form_to_jsonb(body text) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'byo_form_to_jsonb' LANGUAGE C IMMUTABLE STRICT;
CREATE FUNCTION twilio._webhook_signature_ok(owner text, account_sid text, envelope bytea, signature text, url text,
                                             body text, content_type text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'byo_webhook_signature_ok' LANGUAGE C STABLE STRICT;

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

-- Voice status callbacks, kept for the power dialer: the latest state of each call.
CREATE TABLE twilio.voice_calls (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    call_sid text NOT NULL CHECK (call_sid ~ '^CA[0-9a-fA-F]{32}$'),
    status text NOT NULL,
    from_number text,
    to_number text,
    duration_seconds integer,
    sequence_number integer,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, call_sid)
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

-- Whether a signature validates with a user's stored token; a token that cannot be decrypted counts as "no"
-- (and is logged), so one broken row cannot block webhooks for everyone matched with it.
CREATE FUNCTION twilio._user_signature_ok(uid uuid, signature text, url text, body text, content_type text)
    RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s twilio.user_settings;
BEGIN
    SELECT * INTO s FROM twilio.user_settings u WHERE u.user_id = uid;
    RETURN twilio._webhook_signature_ok(uid::text, s.account_sid, s.auth_token_envelope, signature, url, body,
                                        content_type);
EXCEPTION WHEN OTHERS THEN
    RAISE LOG 'byo_twilio webhook: the stored token of user % cannot be used: %', uid, SQLERRM;
    RETURN false;
END
$$;

-- Statuses only move forward: a late "sent" after "delivered" is logged but does not regress the message.
CREATE FUNCTION twilio._status_rank(status text) RETURNS integer
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE status
        WHEN 'queued' THEN 1 WHEN 'accepted' THEN 1 WHEN 'scheduled' THEN 1 WHEN 'sending' THEN 2 WHEN 'sent' THEN 3
        WHEN 'delivered' THEN 4 WHEN 'partially_delivered' THEN 4 WHEN 'undelivered' THEN 4 WHEN 'failed' THEN 4
        WHEN 'canceled' THEN 4
        WHEN 'read' THEN 5 ELSE 0 END
$$;

-- Applies a delivery status to one of the user's messages (by Twilio SID); returns what it did.
CREATE FUNCTION twilio._apply_message_status(uid uuid, sid text, new_status text, new_error_code text) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m twilio.messages;
BEGIN
    SELECT * INTO m FROM twilio.messages WHERE user_id = uid AND twilio_sid = sid FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'status for an unknown message';
    END IF;
    IF new_status NOT IN ('queued', 'sending', 'accepted', 'scheduled', 'sent', 'delivered', 'partially_delivered',
                          'read', 'undelivered', 'failed', 'canceled') THEN
        RETURN format('status %s recorded only', new_status);
    END IF;
    IF twilio._status_rank(new_status) <= twilio._status_rank(m.status) THEN
        RETURN format('late %s after %s: not applied', new_status, m.status);
    END IF;
    UPDATE twilio.messages
       SET status = new_status, error_code = coalesce(nullif(new_error_code, '')::integer, messages.error_code)
     WHERE user_id = uid AND id = m.id;
    IF new_error_code = '21610' AND m.to_number IS NOT NULL THEN
        INSERT INTO twilio.opt_outs (user_id, phone, source) VALUES (uid, m.to_number, 'twilio_21610')
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN format('%s -> %s', m.status, new_status);
END
$$;

-- STOP-family keywords (or Twilio's Advanced Opt-Out) add an opt-out; START-family removes it; HELP is noted.
CREATE FUNCTION twilio._apply_opt_keywords(uid uuid, phone text, body text, opt_out_type text) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    word text := upper(btrim(coalesce(body, '')));
    kind text := upper(coalesce(nullif(opt_out_type, ''),
                   CASE WHEN word IN ('STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT') THEN 'STOP'
                        WHEN word IN ('START', 'YES', 'UNSTOP') THEN 'START'
                        WHEN word IN ('HELP', 'INFO') THEN 'HELP' END));
BEGIN
    IF NOT twilio._is_e164(phone) THEN
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

-- The tenant a webhook belongs to: the key in the URL path first; then ChatServiceSid, MessagingServiceSid, the
-- To number, AccountSid. A step that matches nobody falls through to the next; one that matches several users is
-- narrowed by whose token validates the signature (two users sharing an AccountSid share its token: refused).
CREATE FUNCTION twilio._resolve_webhook_tenant(url text, p jsonb, signature text, body text, content_type text,
                                               OUT user_id uuid, OUT outcome text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    key text := substring(url FROM '/twilio/([0-9a-fA-F]{16,64}|platform)(?:/|\?|$)');
    step record;
    candidates uuid[];
    valid uuid[];
BEGIN
    -- Status callbacks of messages sent with the platform account carry the key "platform": checked with the
    -- platform's token, they belong to whoever the message belongs to.
    IF key = 'platform' THEN
        IF EXISTS (SELECT 1 FROM twilio.platform_account pa
                    WHERE twilio._webhook_signature_ok('platform', pa.account_sid, pa.auth_token_envelope, signature,
                                                       url, body, content_type)) THEN
            SELECT m.user_id INTO user_id FROM twilio.messages m
             WHERE m.twilio_sid = coalesce(p ->> 'MessageSid', p ->> 'SmsSid') LIMIT 1;
            outcome := CASE WHEN user_id IS NULL THEN 'platform callback for an unknown message' ELSE 'ok' END;
        ELSE
            outcome := 'signature does not validate with the platform account';
        END IF;
        RETURN;
    END IF;
    FOR step IN
        SELECT * FROM (VALUES (1, 'webhook key', key, 'webhook_key'),
                              (2, 'ChatServiceSid', p ->> 'ChatServiceSid', 'conversations_service_sid'),
                              (3, 'MessagingServiceSid', p ->> 'MessagingServiceSid', 'messaging_service_sid'),
                              (4, 'To', p ->> 'To', 'sms_number'),
                              (5, 'AccountSid', p ->> 'AccountSid', 'account_sid')) v(ord, label, value, col)
         WHERE value IS NOT NULL ORDER BY ord
    LOOP
        EXECUTE format('SELECT array_agg(s.user_id) FROM twilio.user_settings s WHERE s.%I = $1', step.col)
            INTO candidates USING step.value;
        CONTINUE WHEN candidates IS NULL;
        SELECT array_agg(c) INTO valid
          FROM unnest(candidates) c
         WHERE twilio._user_signature_ok(c, signature, url, body, content_type);
        IF cardinality(valid) = 1 THEN
            user_id := valid[1];
            outcome := 'ok';
        ELSIF cardinality(valid) > 1 THEN
            outcome := format('%s users match by %s and their tokens all validate: cannot tell them apart '
                              '(give each user their own webhook URL with its key)', cardinality(valid), step.label);
        ELSE
            outcome := format('signature does not validate for the user(s) matched by %s', step.label);
        END IF;
        RETURN;
    END LOOP;
    outcome := 'no tenant matches';
END
$$;

-- (The request's content type and body are named request_*: the result columns take the plain names.)
CREATE FUNCTION twilio.handle_webhook(url text, signature text, request_content_type text, request_body text)
    RETURNS TABLE (status integer, content_type text, body text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    content_type text := request_content_type;
    body text := request_body;
    p jsonb;
    kind text;
    tenant record;
    uid uuid;
    dedupe text;
    event_id bigint;
    what_happened text;
    conv twilio.conversations;
    empty_twiml constant text := '<?xml version="1.0" encoding="UTF-8"?><Response></Response>';
BEGIN
    -- Malformed or unsigned requests: 400, nothing written.
    IF url IS NULL OR body IS NULL THEN
        RAISE LOG 'byo_twilio webhook rejected (400): missing url or body';
        RETURN QUERY SELECT 400, 'text/plain', 'malformed request';
        RETURN;
    END IF;
    IF signature IS NULL OR signature = '' THEN
        RAISE LOG 'byo_twilio webhook rejected (400): no X-Twilio-Signature';
        RETURN QUERY SELECT 400, 'text/plain', 'missing X-Twilio-Signature';
        RETURN;
    END IF;
    BEGIN
        IF lower(btrim(split_part(coalesce(content_type, ''), ';', 1))) = 'application/json' THEN
            p := body::jsonb;
        ELSIF lower(btrim(split_part(coalesce(content_type, ''), ';', 1))) = 'application/x-www-form-urlencoded' THEN
            p := twilio._form_to_jsonb(body);
        END IF;
    EXCEPTION WHEN OTHERS THEN
        p := NULL;
    END;
    IF p IS NULL OR jsonb_typeof(p) <> 'object' THEN
        RAISE LOG 'byo_twilio webhook rejected (400): unsupported content type or unreadable body';
        RETURN QUERY SELECT 400, 'text/plain', 'malformed body';
        RETURN;
    END IF;
    kind := CASE WHEN p ? 'EventType' THEN 'conversations'
                 WHEN p ? 'CallSid' AND p ? 'CallStatus' THEN 'voice_status'
                 WHEN p ->> 'SmsStatus' = 'received' OR (p ? 'Body' AND NOT p ? 'MessageStatus') THEN 'sms'
                 WHEN p ? 'MessageStatus' OR p ? 'SmsStatus' THEN 'status' END;
    IF kind IS NULL THEN
        RAISE LOG 'byo_twilio webhook rejected (400): not a webhook byo_twilio knows';
        RETURN QUERY SELECT 400, 'text/plain', 'unrecognised webhook';
        RETURN;
    END IF;

    -- Tenant and signature: unknown and forged look alike from outside (403), the log says which.
    tenant := twilio._resolve_webhook_tenant(url, p, signature, body, content_type);
    IF tenant.user_id IS NULL THEN
        RAISE LOG 'byo_twilio webhook rejected (403, %): %', kind, tenant.outcome;
        RETURN QUERY SELECT 403, 'text/plain', 'forbidden';
        RETURN;
    END IF;
    uid := tenant.user_id;

    dedupe := CASE kind
        WHEN 'status' THEN 'status:' || coalesce(p ->> 'MessageSid', p ->> 'SmsSid', '') || ':'
                           || coalesce(p ->> 'MessageStatus', p ->> 'SmsStatus', '')
        WHEN 'sms' THEN 'sms:' || coalesce(p ->> 'MessageSid', p ->> 'SmsSid', md5(body))
        WHEN 'voice_status' THEN 'voice:' || (p ->> 'CallSid') || ':' || (p ->> 'CallStatus') || ':'
                                 || coalesce(p ->> 'SequenceNumber', '')
        ELSE 'conv:' || (p ->> 'EventType') || ':'
             || coalesce(p ->> 'MessageSid', p ->> 'ParticipantSid', p ->> 'ConversationSid', md5(body))
             || coalesce(':' || (p ->> 'Status'), '') || coalesce(':' || (p ->> 'ErrorCode'), '')
        END;
    INSERT INTO twilio.webhook_events (user_id, kind, event_type, dedupe_key, url, content_type, body, params)
    VALUES (uid, kind, coalesce(p ->> 'EventType', p ->> 'MessageStatus', p ->> 'SmsStatus', p ->> 'CallStatus'),
            dedupe, url, content_type, body, p)
    ON CONFLICT (user_id, dedupe_key) DO NOTHING
    RETURNING id INTO event_id;
    IF event_id IS NULL THEN  -- Twilio retried: acknowledge, change nothing
        RETURN QUERY SELECT 200, CASE WHEN kind = 'sms' THEN 'text/xml' ELSE 'text/plain' END,
                            CASE WHEN kind = 'sms' THEN empty_twiml ELSE '' END;
        RETURN;
    END IF;

    -- Applied in a block of its own: a signed webhook carrying a value we cannot apply is kept with the reason,
    -- and acknowledged, rather than failing (503) and being retried by Twilio forever.
    BEGIN
        IF kind = 'status' THEN
            what_happened := twilio._apply_message_status(uid, coalesce(p ->> 'MessageSid', p ->> 'SmsSid'),
                                                   coalesce(p ->> 'MessageStatus', p ->> 'SmsStatus'), p ->> 'ErrorCode');
        ELSIF kind = 'sms' THEN
            INSERT INTO twilio.messages (user_id, channel, direction, to_number, from_number, body, status, twilio_sid,
                                         segments, account_sid)
            VALUES (uid, 'sms', 'inbound', p ->> 'To', p ->> 'From', coalesce(p ->> 'Body', ''), 'received',
                    coalesce(p ->> 'MessageSid', p ->> 'SmsSid'), coalesce(nullif(p ->> 'NumSegments', '')::integer, 1),
                    p ->> 'AccountSid')
            ON CONFLICT (user_id, twilio_sid) DO NOTHING;
            what_happened := coalesce(twilio._apply_opt_keywords(uid, p ->> 'From', p ->> 'Body', p ->> 'OptOutType'),
                               'inbound message');
        ELSIF kind = 'voice_status' THEN
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
                    what_happened := twilio._apply_message_status(uid, p ->> 'MessageSid', p ->> 'Status', p ->> 'ErrorCode');
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
    EXCEPTION WHEN OTHERS THEN
        what_happened := 'not applied: ' || SQLERRM;
        RAISE LOG 'byo_twilio webhook (%) for user % not applied: %', kind, uid, SQLERRM;
    END;
    UPDATE twilio.webhook_events e SET effect = what_happened WHERE e.user_id = uid AND e.id = event_id;
    RETURN QUERY SELECT 200, CASE WHEN kind = 'sms' THEN 'text/xml' ELSE 'text/plain' END,
                        CASE WHEN kind = 'sms' THEN empty_twiml ELSE '' END;
END
$$;
COMMENT ON FUNCTION twilio.handle_webhook(text, text, text, text) IS
    'One Twilio webhook, as the relay received it: tenant, signature, idempotent record, routing; returns the answer';
