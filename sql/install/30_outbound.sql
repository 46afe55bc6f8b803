------------------------------------------------------------------------------------------------------------------
-- Outbound: conversations, messages, opt-outs and the transactional outbox the dispatcher drains.
-- Rows are written in the caller's transaction: roll back and nothing is sent; commit and the dispatcher wakes.
------------------------------------------------------------------------------------------------------------------

CREATE FUNCTION twilio._sms_segments(body text, OUT segments integer, OUT encoding text)
    AS 'MODULE_PATHNAME', 'byo_sms_segments' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION twilio._wake_dispatcher_on_commit() RETURNS trigger
    AS 'MODULE_PATHNAME', 'byo_wake_dispatcher_on_commit' LANGUAGE C;

-- Numbers a user may no longer text: STOP replies, Twilio's 21610, or added by hand.
CREATE TABLE twilio.opt_outs (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    phone text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{1,14}$'),
    source text NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'keyword', 'twilio_21610')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, phone)
);

CREATE TABLE twilio.conversations (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT twilio._uuid_v7(),  -- time-ordered: inserts append to the index
    lead_id uuid,  -- NULL for a skeleton conversation learnt from a webhook
    phone text CHECK (phone ~ '^\+[1-9][0-9]{1,14}$'),
    friendly_name text,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'failed')),
    twilio_sid text CHECK (twilio_sid ~ '^CH[0-9a-fA-F]{32}$'),
    participant_sid text,
    account_sid text,
    service_sid text,
    proxy_address text,
    error_code integer,
    error_message text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    UNIQUE (user_id, lead_id)
);

CREATE TABLE twilio.messages (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT twilio._uuid_v7(),  -- time-ordered: inserts append to the index
    conversation_id uuid,
    channel text NOT NULL CHECK (channel IN ('conversation', 'sms')),
    direction text NOT NULL DEFAULT 'outbound' CHECK (direction IN ('outbound', 'inbound')),
    to_number text,
    from_number text,
    body text NOT NULL,
    status text NOT NULL DEFAULT 'queued'
        -- Twilio's MessageStatus values, plus 'unknown': sent or not, we could not tell (docs/delivery.md).
        CHECK (status IN ('queued', 'sending', 'accepted', 'scheduled', 'sent', 'delivered', 'partially_delivered',
                          'read', 'undelivered', 'failed', 'canceled', 'receiving', 'received', 'unknown')),
    twilio_sid text,
    error_code integer,
    error_message text,
    segments integer NOT NULL DEFAULT 1,
    encoding text NOT NULL DEFAULT 'GSM-7',
    account_sid text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    media_count integer NOT NULL DEFAULT 0,  -- its rows of twilio.message_media
    PRIMARY KEY (user_id, id),
    FOREIGN KEY (user_id, conversation_id) REFERENCES twilio.conversations (user_id, id) ON DELETE CASCADE
);
CREATE INDEX messages_conversation ON twilio.messages (user_id, conversation_id, created_at);
CREATE UNIQUE INDEX messages_twilio_sid ON twilio.messages (user_id, twilio_sid);

-- A message's media (MMS pictures, Conversations attachments), in Twilio's order (position 0 = MediaUrl0).
-- Twilio's media URLs need the account's credentials to fetch: apps get a short-lived link through
-- twilio.media_link (docs/sql-api.md), never the credentials.
CREATE TABLE twilio.message_media (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    message_id uuid NOT NULL,
    position integer NOT NULL CHECK (position BETWEEN 0 AND 9),  -- Twilio sends at most 10
    url text CHECK (url ~ '^https://' AND octet_length(url) <= 2048),  -- MMS: Twilio's MediaUrlN
    media_sid text CHECK (media_sid ~ '^ME[0-9a-fA-F]{32}$'),
    content_type text CHECK (octet_length(content_type) <= 255),
    filename text CHECK (octet_length(filename) <= 255),  -- Conversations only
    size_bytes bigint CHECK (size_bytes >= 0),              -- Conversations only
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, message_id, position),
    FOREIGN KEY (user_id, message_id) REFERENCES twilio.messages (user_id, id) ON DELETE CASCADE,
    CHECK (url IS NOT NULL OR media_sid IS NOT NULL)
);
CREATE INDEX conversations_twilio_sid ON twilio.conversations (user_id, twilio_sid);

-- One row per Twilio request to make. Logged (unlike pg_net's queue): committed work survives a crash.
-- state: pending (due at not_before) -> in_flight (claimed, HTTP running) -> done | failed, or ambiguous
-- (Twilio may have acted: reconciled before anything is resent). See docs/delivery.md.
CREATE TABLE twilio.outbox (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    id bigint GENERATED ALWAYS AS IDENTITY,
    kind text NOT NULL CHECK (kind IN ('create_conversation', 'send_conversation_message', 'send_sms', 'create_call')),
    conversation_id uuid,
    message_id uuid,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'in_flight', 'done', 'failed', 'ambiguous')),
    attempts integer NOT NULL DEFAULT 0,
    not_before timestamptz NOT NULL DEFAULT now(),
    claimed_at timestamptz,
    finished_at timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    call_id uuid,  -- create_call: the agent leg's twilio.voice_calls row
    PRIMARY KEY (user_id, id)
);
CREATE INDEX outbox_due ON twilio.outbox (not_before, id) WHERE state IN ('pending', 'ambiguous');
CREATE INDEX outbox_open_in_order ON twilio.outbox (id) WHERE state IN ('pending', 'ambiguous');
-- Only conversation jobs: an index covering every open job lures the planner into walking all of a user's open
-- jobs for a single-row update by primary key (seen in docs/benchmarks.md with stale statistics).
CREATE INDEX outbox_open_per_conversation ON twilio.outbox (user_id, conversation_id, id)
    WHERE state IN ('pending', 'in_flight', 'ambiguous') AND conversation_id IS NOT NULL;
CREATE TRIGGER outbox_wake_dispatcher AFTER INSERT ON twilio.outbox
    FOR EACH STATEMENT EXECUTE FUNCTION twilio._wake_dispatcher_on_commit();

CREATE TRIGGER conversations_updated_at BEFORE UPDATE ON twilio.conversations
    FOR EACH ROW EXECUTE FUNCTION twilio._touch_updated_at();
CREATE TRIGGER messages_updated_at BEFORE UPDATE ON twilio.messages
    FOR EACH ROW EXECUTE FUNCTION twilio._touch_updated_at();

SELECT pg_catalog.pg_extension_config_dump('twilio.opt_outs', '');
SELECT pg_catalog.pg_extension_config_dump('twilio.conversations', '');
SELECT pg_catalog.pg_extension_config_dump('twilio.messages', '');
SELECT pg_catalog.pg_extension_config_dump('twilio.outbox', '');
SELECT pg_catalog.pg_extension_config_dump('twilio.message_media', '');

-- Owner-only visibility. Writes go through the functions below (and the dispatcher), except opt-outs, which a
-- user may also manage by hand.
ALTER TABLE twilio.opt_outs ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio.conversations ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio.messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio.outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio.message_media ENABLE ROW LEVEL SECURITY;
CREATE POLICY opt_outs_select_own ON twilio.opt_outs FOR SELECT TO authenticated USING (user_id = auth.uid());
-- A user may add and remove their own manual entries; a recipient's STOP (or Twilio's 21610) is lifted only by
-- the recipient texting START.
CREATE POLICY opt_outs_insert_own ON twilio.opt_outs FOR INSERT TO authenticated
    WITH CHECK (user_id = auth.uid() AND source = 'manual');
CREATE POLICY opt_outs_delete_own_manual ON twilio.opt_outs FOR DELETE TO authenticated
    USING (user_id = auth.uid() AND source = 'manual');
CREATE POLICY conversations_select_own ON twilio.conversations FOR SELECT TO authenticated
    USING (user_id = auth.uid());
CREATE POLICY messages_select_own ON twilio.messages FOR SELECT TO authenticated USING (user_id = auth.uid());
CREATE POLICY outbox_select_own ON twilio.outbox FOR SELECT TO authenticated USING (user_id = auth.uid());
CREATE POLICY message_media_select_own ON twilio.message_media FOR SELECT TO authenticated
    USING (user_id = auth.uid());

REVOKE ALL ON twilio.opt_outs, twilio.conversations, twilio.messages, twilio.outbox FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON twilio.opt_outs TO authenticated;
GRANT SELECT ON twilio.conversations, twilio.messages, twilio.outbox TO authenticated, service_role;
GRANT SELECT, INSERT, DELETE ON twilio.opt_outs TO service_role;
REVOKE ALL ON twilio.message_media FROM PUBLIC;
GRANT SELECT ON twilio.message_media TO authenticated, service_role;

------------------------------------------------------------------------------------------------------------------
-- Enqueueing (SQL API)
------------------------------------------------------------------------------------------------------------------

-- The caller's sending account, or a clear error: not connected (and no fallback), or disabled.
CREATE FUNCTION twilio._require_sender(uid uuid) RETURNS SETOF twilio._sender_config
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT * FROM twilio._resolve_config(uid);
    IF FOUND THEN
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM twilio.user_settings s WHERE s.user_id = uid AND s.status = 'disabled') THEN
        RAISE EXCEPTION 'your Twilio settings are disabled' USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Set twilio.user_settings.status back to ''active'' to send again.';
    END IF;
    RAISE EXCEPTION 'no Twilio account connected' USING ERRCODE = 'object_not_in_prerequisite_state',
        HINT = 'Connect one with twilio.save_settings(...).';
END
$$;

-- '+' and 2-15 digits, the first not 0 (the table CHECKs spell the same pattern out).
CREATE FUNCTION twilio._is_e164(value text) RETURNS boolean
LANGUAGE sql IMMUTABLE
-- A SQL-standard body is parsed when created (no search_path to pin) and can be inlined by the planner.
RETURN coalesce(value ~ '^\+[1-9][0-9]{1,14}$', false);

-- A webhook's whole number when it is one within [lo, hi], else NULL: a signed webhook's nonsense (a negative
-- duration, NumSegments=999999, "forty") is not stored, and the rest of the event still applies.
-- (plpgsql, not an inlinable SQL body: the planner could fold a constant's cast before the pattern check ran.)
CREATE FUNCTION twilio._int_within(value text, lo integer, hi integer) RETURNS integer
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    IF value IS NULL OR value !~ '^\s*[-+]?[0-9]{1,10}\s*$' THEN
        RETURN NULL;
    END IF;
    n := value::bigint;
    RETURN CASE WHEN n BETWEEN lo AND hi THEN n::integer END;
END
$$;

CREATE FUNCTION twilio._require_e164(field text, value text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT twilio._is_e164(value) THEN
        RAISE EXCEPTION '% must be an E.164 phone number: ''+'', country code and number, digits only', field
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example +14155550123.';
    END IF;
    RETURN value;
END
$$;

-- Twilio accepts up to 1600 characters per message.
CREATE FUNCTION twilio._require_body(body text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF body IS NULL OR body !~ '\S' THEN  -- only whitespace (tabs and newlines too) is empty
        RAISE EXCEPTION 'message body is empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF char_length(body) > 1600 THEN
        RAISE EXCEPTION 'message body has % characters; Twilio accepts at most 1600', char_length(body)
            USING ERRCODE = 'string_data_right_truncation';
    END IF;
    RETURN body;
END
$$;

CREATE FUNCTION twilio._require_not_opted_out(uid uuid, phone text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM twilio.opt_outs o WHERE o.user_id = uid AND o.phone = _require_not_opted_out.phone) THEN
        RAISE EXCEPTION 'the recipient % has opted out of your messages', phone
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'They must text START to opt back in; see twilio.opt_outs.';
    END IF;
END
$$;

-- (drips) The enqueue bodies take the user as a parameter so that twilio.drip_tick (60_drips.sql), which runs for
-- many users outside any JWT, enqueues exactly as the public functions below do; those pass auth.uid().
CREATE FUNCTION twilio._conversation_for_lead(uid uuid, lead_id uuid, phone text, friendly_name text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    sender record;
    conv twilio.conversations;
BEGIN
    IF lead_id IS NULL THEN
        RAISE EXCEPTION 'lead_id is required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM twilio._require_e164('phone', phone);
    IF char_length(friendly_name) > 256 THEN  -- Twilio's documented limit for a conversation's FriendlyName
        RAISE EXCEPTION 'friendly_name has % characters; Twilio accepts at most 256', char_length(friendly_name)
            USING ERRCODE = 'string_data_right_truncation';
    END IF;
    SELECT * INTO sender FROM twilio._require_sender(uid);
    IF sender.conversations_service_sid IS NULL OR sender.sms_number IS NULL THEN
        RAISE EXCEPTION 'your Twilio settings have no Conversations service or SMS number'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Save settings with conversations_service_sid and sms_number.';
    END IF;
    SELECT * INTO conv FROM twilio.conversations c WHERE c.user_id = uid AND c.lead_id = lead_id FOR UPDATE;
    IF FOUND THEN
        -- Failed, or created in an account the user no longer sends with: try again, from the start, in the
        -- user's current account.
        IF conv.status = 'failed' OR (conv.account_sid IS NOT NULL
                                      AND NOT EXISTS (SELECT 1 FROM twilio._pinned_config(uid, conv.account_sid))) THEN
            UPDATE twilio.conversations c SET status = 'pending', error_code = NULL, error_message = NULL,
                   twilio_sid = NULL, participant_sid = NULL, account_sid = sender.account_sid,
                   service_sid = sender.conversations_service_sid, proxy_address = sender.sms_number
             WHERE c.user_id = uid AND c.id = conv.id;
            INSERT INTO twilio.outbox (user_id, kind, conversation_id) VALUES (uid, 'create_conversation', conv.id);
        END IF;
        RETURN conv.id;
    END IF;
    INSERT INTO twilio.conversations (user_id, lead_id, phone, friendly_name, account_sid, service_sid, proxy_address)
    VALUES (uid, lead_id, phone, coalesce(friendly_name, phone), sender.account_sid,
            sender.conversations_service_sid, sender.sms_number)
    RETURNING * INTO conv;
    INSERT INTO twilio.outbox (user_id, kind, conversation_id) VALUES (uid, 'create_conversation', conv.id);
    RETURN conv.id;
END
$$;
CREATE FUNCTION twilio.get_or_create_conversation_for_lead(lead_id uuid, phone text, friendly_name text DEFAULT NULL)
    RETURNS uuid
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN twilio._conversation_for_lead(twilio._require_user(), lead_id, phone, friendly_name);
COMMENT ON FUNCTION twilio.get_or_create_conversation_for_lead(uuid, text, text) IS
    'The caller''s conversation for a lead: created here at once, and at Twilio by the dispatcher after commit';

-- Outbound media (docs/sql-api.md, "Sending media"). Checked at the call, so that nothing is queued that Twilio
-- would refuse; URLs are never echoed in errors (a presigned URL carries its own credentials).
-- MMS: up to 10 https URLs per message (Twilio's limit), each at most 2048 bytes, with no whitespace or control
-- characters. NULL and an empty array both mean "no media"; the result is never NULL.
CREATE FUNCTION twilio._require_media_urls(media_urls text[]) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    i integer;
BEGIN
    IF media_urls IS NULL OR cardinality(media_urls) = 0 THEN
        RETURN '{}';
    END IF;
    IF array_ndims(media_urls) > 1 THEN
        RAISE EXCEPTION 'media_urls must be a one-dimensional array' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF cardinality(media_urls) > 10 THEN
        RAISE EXCEPTION 'media_urls has % URLs; Twilio accepts at most 10 per message', cardinality(media_urls)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 1 .. cardinality(media_urls) LOOP
        IF media_urls[array_lower(media_urls, 1) + i - 1] IS NULL THEN
            RAISE EXCEPTION 'media_urls item % is NULL', i USING ERRCODE = 'null_value_not_allowed';
        END IF;
        IF octet_length(media_urls[array_lower(media_urls, 1) + i - 1]) > 2048 THEN
            RAISE EXCEPTION 'media_urls item % is % bytes long; at most 2048 are accepted', i,
                            octet_length(media_urls[array_lower(media_urls, 1) + i - 1])
                USING ERRCODE = 'string_data_right_truncation';
        END IF;
        IF media_urls[array_lower(media_urls, 1) + i - 1] !~ '^https://[^/?#[:space:][:cntrl:]]+[^[:space:][:cntrl:]]*$' THEN
            RAISE EXCEPTION 'media_urls item % is not an https:// URL with a host and no whitespace or control characters', i
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Twilio fetches MMS media from a public https URL.';
        END IF;
    END LOOP;
    RETURN array(SELECT unnest(media_urls));  -- subscripts from 1, whatever the caller's were
END
$$;

-- Conversations: media the app uploaded to Twilio's Media Content Service, by SID (ME + 32 hex digits). Twilio's
-- Conversations Message create takes one MediaSid per message.
CREATE FUNCTION twilio._require_media_sids(media_sids text[]) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    i integer;
BEGIN
    IF media_sids IS NULL OR cardinality(media_sids) = 0 THEN
        RETURN '{}';
    END IF;
    IF array_ndims(media_sids) > 1 THEN
        RAISE EXCEPTION 'media_sids must be a one-dimensional array' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF cardinality(media_sids) > 1 THEN
        RAISE EXCEPTION 'media_sids has % media SIDs; Twilio''s Conversations API attaches one per message',
                        cardinality(media_sids)
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Send one message per media.';
    END IF;
    FOR i IN 1 .. cardinality(media_sids) LOOP
        IF media_sids[array_lower(media_sids, 1) + i - 1] IS NULL THEN
            RAISE EXCEPTION 'media_sids item % is NULL', i USING ERRCODE = 'null_value_not_allowed';
        END IF;
        IF media_sids[array_lower(media_sids, 1) + i - 1] !~ '^ME[0-9a-fA-F]{32}$' THEN
            RAISE EXCEPTION 'media_sids item % is not a media SID (ME followed by 32 hex digits)', i
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Upload the file to Twilio''s Media Content Service first; it answers with the SID.';
        END IF;
    END LOOP;
    RETURN array(SELECT unnest(media_sids));
END
$$;

-- The body to store for a message: with media it may be empty (Twilio sends media alone), else _require_body.
CREATE FUNCTION twilio._require_body_or_media(body text, has_media boolean) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN has_media AND (body IS NULL OR body !~ '\S') THEN '' ELSE twilio._require_body(body) END;

-- An outbound message's media, stored as inbound media are (twilio.message_media), in sending order.
CREATE FUNCTION twilio._record_outbound_media(uid uuid, message_id uuid, urls text[], sids text[]) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO twilio.message_media (user_id, message_id, position, url)
    SELECT uid, message_id, u.n - 1, u.url FROM unnest(urls) WITH ORDINALITY AS u(url, n);
    INSERT INTO twilio.message_media (user_id, message_id, position, media_sid)
    SELECT uid, message_id, s.n - 1, s.sid FROM unnest(sids) WITH ORDINALITY AS s(sid, n);
$$;

CREATE FUNCTION twilio._enqueue_conversation_message(uid uuid, conversation_id uuid, body text,
                                                     media_sids text[] DEFAULT NULL) RETURNS uuid
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    conv twilio.conversations;
    seg record;
    msg_id uuid;
BEGIN
    media_sids := twilio._require_media_sids(media_sids);
    body := twilio._require_body_or_media(body, cardinality(media_sids) > 0);
    PERFORM twilio._require_sender(uid);
    SELECT * INTO conv FROM twilio.conversations c WHERE c.user_id = uid AND c.id = conversation_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'conversation % not found', conversation_id USING ERRCODE = 'no_data_found';
    END IF;
    IF conv.status = 'failed' THEN
        RAISE EXCEPTION 'conversation % could not be created at Twilio: %', conversation_id, conv.error_message
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call twilio.get_or_create_conversation_for_lead(...) again to retry.';
    END IF;
    -- Twilio knows the conversation only in the account it was created in (docs/delivery.md, "Switching accounts").
    IF conv.account_sid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM twilio._pinned_config(uid, conv.account_sid)) THEN
        RAISE EXCEPTION 'conversation % lives in Twilio account %, which you no longer send with',
                        conversation_id, conv.account_sid
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call twilio.get_or_create_conversation_for_lead(...) again: it starts the conversation afresh in your current account.';
    END IF;
    PERFORM twilio._require_not_opted_out(uid, conv.phone);
    seg := twilio._sms_segments(body);
    INSERT INTO twilio.messages (user_id, conversation_id, channel, to_number, from_number, body, segments,
                                 encoding, account_sid, media_count)
    VALUES (uid, conv.id, 'conversation', conv.phone, conv.proxy_address, body, greatest(seg.segments, 1),
            seg.encoding, conv.account_sid, cardinality(media_sids))
    RETURNING id INTO msg_id;
    PERFORM twilio._record_outbound_media(uid, msg_id, '{}', media_sids);
    INSERT INTO twilio.outbox (user_id, kind, conversation_id, message_id)
    VALUES (uid, 'send_conversation_message', conv.id, msg_id);
    RETURN msg_id;
END
$$;

CREATE FUNCTION twilio.send_conversation_message(conversation_id uuid, body text DEFAULT NULL,
                                                 media_sids text[] DEFAULT NULL) RETURNS uuid
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN twilio._enqueue_conversation_message(twilio._require_user(), conversation_id, body, media_sids);

CREATE FUNCTION twilio._enqueue_sms(uid uuid, to_number text, body text, media_urls text[] DEFAULT NULL)
    RETURNS uuid
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    sender record;
    seg record;
    msg_id uuid;
BEGIN
    PERFORM twilio._require_e164('to_number', to_number);
    media_urls := twilio._require_media_urls(media_urls);
    body := twilio._require_body_or_media(body, cardinality(media_urls) > 0);
    SELECT * INTO sender FROM twilio._require_sender(uid);
    -- Sent through the Messaging service when there is one, else from the user's own number (From).
    IF sender.messaging_service_sid IS NULL AND sender.sms_number IS NULL THEN
        RAISE EXCEPTION 'your Twilio settings have neither a Messaging service nor an SMS number to send from'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Save settings with messaging_service_sid or sms_number (or both).';
    END IF;
    PERFORM twilio._require_not_opted_out(uid, to_number);
    seg := twilio._sms_segments(body);
    INSERT INTO twilio.messages (user_id, channel, to_number, from_number, body, segments, encoding, account_sid,
                                 media_count)
    VALUES (uid, 'sms', to_number, sender.sms_number, body, greatest(seg.segments, 1), seg.encoding,
            sender.account_sid, cardinality(media_urls))
    RETURNING id INTO msg_id;
    PERFORM twilio._record_outbound_media(uid, msg_id, media_urls, '{}');
    INSERT INTO twilio.outbox (user_id, kind, message_id) VALUES (uid, 'send_sms', msg_id);
    RETURN msg_id;
END
$$;

CREATE FUNCTION twilio.send_sms(to_number text, body text DEFAULT NULL, media_urls text[] DEFAULT NULL)
    RETURNS uuid
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN twilio._enqueue_sms(twilio._require_user(), to_number, body, media_urls);

------------------------------------------------------------------------------------------------------------------
-- Media links: Twilio's media need the account's credentials to fetch. An app gets a short-lived URL that needs
-- none (docs/security.md): Twilio's own temporary link, asked for with the stored token inside the C call.
------------------------------------------------------------------------------------------------------------------

CREATE FUNCTION twilio._fetch_media_link(owner text, account_sid text, envelope bytea, media_sid text,
                                         message_sid text, service_sid text) RETURNS text
    AS 'MODULE_PATHNAME', 'byo_fetch_media_link' LANGUAGE C VOLATILE;

-- The caller's own media only (the same rows RLS shows them), fetched with the account the message came through;
-- no lock is held while Twilio answers.
CREATE FUNCTION twilio.media_link(message_id uuid, media_position integer DEFAULT 0) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    item record;
    cfg record;
BEGIN
    SELECT d.media_sid, m.twilio_sid, m.channel, m.account_sid, c.service_sid INTO item
      FROM twilio.message_media d
      JOIN twilio.messages m ON m.user_id = d.user_id AND m.id = d.message_id
      LEFT JOIN twilio.conversations c ON c.user_id = m.user_id AND c.id = m.conversation_id
     WHERE d.user_id = uid AND d.message_id = message_id AND d.position = media_position;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'message % has no media at position %', message_id, media_position
            USING ERRCODE = 'no_data_found';
    END IF;
    IF item.media_sid IS NULL OR item.twilio_sid IS NULL THEN
        RAISE EXCEPTION 'this media is not stored at Twilio under a media SID: there is no Twilio link to make'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT * INTO cfg FROM twilio._resolve_config(uid) r WHERE r.account_sid = item.account_sid;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the message came through a Twilio account you are no longer connected with'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN twilio._fetch_media_link(cfg.owner, cfg.account_sid, cfg.auth_token_envelope, item.media_sid,
                                    CASE WHEN item.channel = 'sms' THEN item.twilio_sid END,
                                    CASE WHEN item.channel = 'conversation' THEN item.service_sid END);
END
$$;
COMMENT ON FUNCTION twilio.media_link(uuid, integer) IS
    'A short-lived URL (Twilio''s temporary link) to one of the caller''s media; never the account''s credentials';
