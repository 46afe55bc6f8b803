-- byo_twilio 0.6.0 -> 0.7.0: messages as Twilio has them (media, sends from a number, webhook fields) and a
-- dispatcher that keeps each job on the account it belongs to.
\echo Use "ALTER EXTENSION byo_twilio UPDATE TO '0.7.0'" to load this file. \quit

-- Webhook URLs end in Twilio connection overrides, so Twilio retries a webhook the relay answered 503.
-- The webhook URLs carrying a user's key (NULL until byo_twilio.webhook_base_url is set). Each ends in Twilio's
-- connection overrides (a fragment Twilio reads and never sends): retry on a connect failure, a read timeout or a
-- 5xx, 5 times within 15 s, so a relay that cannot store a webhook (503) gets it again. The webhook check accepts
-- signatures over the URL with and without it (src/core/webhook_url.hpp, kConnectionOverrides: the same text).
CREATE OR REPLACE FUNCTION twilio._webhook_urls(webhook_key text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_object_agg(kind, rtrim(base, '/') || '/twilio/' || webhook_key || '/' || kind
                                  || '#rc=5&rp=ct,rt,5xx&tt=15000')
      FROM (SELECT nullif(current_setting('byo_twilio.webhook_base_url', true), '') AS base) b,
           unnest(ARRAY['conversations', 'sms', 'status', 'voice_status']) AS kind
     WHERE b.base IS NOT NULL
$$;

-- Webhook fields as Twilio means them: numbers out of Twilio's ranges stored as NULL (twilio._int_within),
-- ErrorCode 0 is no error, inbound Conversations messages get their To and encoding, FriendlyName bounded.
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
REVOKE ALL ON FUNCTION twilio._int_within(text, integer, integer) FROM PUBLIC;

CREATE OR REPLACE FUNCTION twilio._route_webhook(uid uuid, kind text, p jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    what_happened text;
    conv twilio.conversations;
    seg record;
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
                                                 encoding)
                    VALUES (uid, conv.id, 'conversation', 'inbound', conv.proxy_address, p ->> 'Author',
                            coalesce(p ->> 'Body', ''), 'received', p ->> 'MessageSid', p ->> 'AccountSid',
                            greatest(seg.segments, 1), seg.encoding)
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

CREATE OR REPLACE FUNCTION twilio._apply_call_status(uid uuid, p jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    sid text := p ->> 'CallSid';
    new_status text := p ->> 'CallStatus';
    parent_sid text := nullif(p ->> 'ParentCallSid', '');
    new_rank integer := twilio._call_status_rank(p ->> 'CallStatus');
    -- Out of Twilio's ranges is stored as NULL (docs/sql-api.md): a call lasts at most 24 hours, SIP codes are
    -- 100-699, Twilio's error codes are positive (0 means no error).
    duration integer := twilio._int_within(p ->> 'CallDuration', 0, 86400);
    sequence_no integer := twilio._int_within(p ->> 'SequenceNumber', 0, 2147483647);
    sip integer := twilio._int_within(p ->> 'SipResponseCode', 100, 699);
    err integer := twilio._int_within(p ->> 'ErrorCode', 1, 999999);
    answered text := CASE WHEN p ->> 'AnsweredBy' IN ('human', 'machine_start', 'machine_end_beep',
                                                      'machine_end_silence', 'machine_end_other', 'fax', 'unknown')
                          THEN p ->> 'AnsweredBy' END;  -- Twilio's documented values only
    parent twilio.voice_calls;
    leg_row twilio.voice_calls;
    advanced boolean;
    what text;
BEGIN
    IF new_rank IS NULL THEN
        RETURN 'call status ' || left(coalesce(new_status, 'NULL'), 40) || ' not understood: not applied';
    END IF;
    IF parent_sid IS NOT NULL THEN  -- locked first: the parent's own callbacks take the same lock (see below)
        SELECT * INTO parent FROM twilio.voice_calls v WHERE v.user_id = uid AND v.call_sid = parent_sid FOR UPDATE;
    END IF;
    SELECT * INTO leg_row FROM twilio.voice_calls v WHERE v.user_id = uid AND v.call_sid = sid FOR UPDATE;
    IF NOT FOUND THEN
        IF parent.id IS NULL AND EXISTS (
                SELECT 1 FROM twilio.voice_calls v
                 WHERE v.user_id = uid AND v.call_sid IS NULL AND v.from_number = p ->> 'From'
                   AND v.status = 'queued'
                   AND CASE WHEN parent_sid IS NULL THEN v.to_number ELSE v.lead_phone END = p ->> 'To') THEN
            RETURN 'status for an unknown call';
        END IF;
        INSERT INTO twilio.voice_calls (user_id, call_sid, status, from_number, to_number, leg, parent_call_sid,
                                        action_id, account_sid)
        VALUES (uid, sid, 'queued', p ->> 'From', p ->> 'To', CASE WHEN parent.id IS NULL THEN 'other' ELSE 'lead' END,
                parent_sid, parent.action_id, parent.account_sid)  -- a stranger's AccountSid is not taken on trust
        ON CONFLICT (user_id, call_sid) DO NOTHING;
        SELECT * INTO leg_row FROM twilio.voice_calls v WHERE v.user_id = uid AND v.call_sid = sid FOR UPDATE;
    END IF;
    advanced := new_rank > twilio._call_status_rank(leg_row.status) AND twilio._call_status_rank(leg_row.status) < 4;
    -- An event that moves the call forward brings the newer details; a late one only fills in what is missing.
    UPDATE twilio.voice_calls v
       SET status = CASE WHEN advanced THEN new_status ELSE v.status END,
           duration_seconds = CASE WHEN advanced THEN coalesce(duration, v.duration_seconds)
                                   ELSE coalesce(v.duration_seconds, duration) END,
           sequence_number = greatest(v.sequence_number, sequence_no),
           answered_by = CASE WHEN advanced THEN coalesce(answered, v.answered_by)
                              ELSE coalesce(v.answered_by, answered) END,
           sip_response_code = CASE WHEN advanced THEN coalesce(sip, v.sip_response_code)
                                    ELSE coalesce(v.sip_response_code, sip) END,
           error_code = CASE WHEN advanced THEN coalesce(err, v.error_code) ELSE coalesce(v.error_code, err) END,
           error_message = CASE WHEN advanced THEN coalesce(nullif(p ->> 'ErrorMessage', ''), v.error_message)
                                ELSE coalesce(v.error_message, nullif(p ->> 'ErrorMessage', '')) END,
           from_number = coalesce(v.from_number, p ->> 'From'),
           to_number = coalesce(v.to_number, p ->> 'To'),
           -- Answered when it went in progress; a completed call that skipped that (out of order) was answered
           -- its duration before it ended.
           answered_at = CASE WHEN v.answered_at IS NOT NULL THEN v.answered_at
                              WHEN advanced AND new_status = 'in-progress' THEN now()
                              WHEN advanced AND new_status = 'completed' AND duration IS NOT NULL
                                  THEN now() - make_interval(secs => duration) END,
           ended_at = CASE WHEN advanced AND new_rank = 4 THEN now() ELSE v.ended_at END,
           updated_at = now()
     WHERE v.user_id = uid AND v.id = leg_row.id
    RETURNING * INTO leg_row;
    what := leg_row.leg || ' leg ' || new_status;
    IF NOT advanced THEN
        RETURN what || CASE WHEN new_status = leg_row.status THEN ' again' ELSE ' after ' || leg_row.status END
                    || ': status kept';
    END IF;
    IF new_rank = 4 AND leg_row.leg = 'agent' AND leg_row.action_id IS NOT NULL THEN
        RETURN what || '; ' || twilio._settle_action(uid, leg_row);
    END IF;
    -- The lead leg ended after its agent leg: correct the outcome the agent leg's end left on the action.
    IF new_rank = 4 AND leg_row.leg = 'lead' AND parent.ended_at IS NOT NULL THEN
        UPDATE twilio.manual_actions a SET outcome = twilio._call_outcome(leg_row)
         WHERE a.user_id = uid AND a.id = parent.action_id AND a.call_id = parent.id AND a.status = 'done'
           AND a.completed_at = parent.ended_at AND a.outcome IS DISTINCT FROM twilio._call_outcome(leg_row);
        IF FOUND THEN
            RETURN what || '; action outcome now ' || twilio._call_outcome(leg_row);
        END IF;
    END IF;
    RETURN what;
END
$$;

-- SMS from the user's own number (From) when they have no Messaging service.
CREATE OR REPLACE FUNCTION twilio._enqueue_sms(uid uuid, to_number text, body text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    sender record;
    seg record;
    msg_id uuid;
BEGIN
    PERFORM twilio._require_e164('to_number', to_number);
    PERFORM twilio._require_body(body);
    SELECT * INTO sender FROM twilio._require_sender(uid);
    -- Sent through the Messaging service when there is one, else from the user's own number (From).
    IF sender.messaging_service_sid IS NULL AND sender.sms_number IS NULL THEN
        RAISE EXCEPTION 'your Twilio settings have neither a Messaging service nor an SMS number to send from'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Save settings with messaging_service_sid or sms_number (or both).';
    END IF;
    PERFORM twilio._require_not_opted_out(uid, to_number);
    seg := twilio._sms_segments(body);
    INSERT INTO twilio.messages (user_id, channel, to_number, from_number, body, segments, encoding, account_sid)
    VALUES (uid, 'sms', to_number, sender.sms_number, body, seg.segments, seg.encoding, sender.account_sid)
    RETURNING id INTO msg_id;
    INSERT INTO twilio.outbox (user_id, kind, message_id) VALUES (uid, 'send_sms', msg_id);
    RETURN msg_id;
END
$$;

-- Media stored with the message: twilio.message_media (owner-only, as messages) and messages.media_count.
ALTER TABLE twilio.messages ADD COLUMN IF NOT EXISTS media_count integer NOT NULL DEFAULT 0;
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
SELECT pg_catalog.pg_extension_config_dump('twilio.message_media', '');
ALTER TABLE twilio.message_media ENABLE ROW LEVEL SECURITY;
CREATE POLICY message_media_select_own ON twilio.message_media FOR SELECT TO authenticated
    USING (user_id = auth.uid());
REVOKE ALL ON twilio.message_media FROM PUBLIC;
GRANT SELECT ON twilio.message_media TO authenticated, service_role;

CREATE FUNCTION twilio._record_media(uid uuid, message_id uuid, media jsonb) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO twilio.message_media (user_id, message_id, position, url, media_sid, content_type, filename,
                                      size_bytes)
    SELECT uid, message_id, m.n - 1, m.item ->> 'url', m.item ->> 'sid', m.item ->> 'content_type',
           m.item ->> 'filename', (m.item ->> 'size')::bigint
      FROM jsonb_array_elements(media) WITH ORDINALITY AS m(item, n)
     WHERE message_id IS NOT NULL
$$;
REVOKE ALL ON FUNCTION twilio._record_media(uuid, uuid, jsonb) FROM PUBLIC;

DROP FUNCTION twilio._route_webhook(uuid, text, jsonb);
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
REVOKE ALL ON FUNCTION twilio._route_webhook(uuid, text, jsonb, jsonb) FROM PUBLIC;

-- Media links: twilio.media_link, a short-lived URL to one of the caller's media (docs/security.md).
CREATE FUNCTION twilio._fetch_media_link(owner text, account_sid text, envelope bytea, media_sid text,
                                         message_sid text, service_sid text) RETURNS text
    AS 'MODULE_PATHNAME', 'byo_fetch_media_link' LANGUAGE C VOLATILE;

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
REVOKE ALL ON FUNCTION twilio._fetch_media_link(text, text, bytea, text, text, text), twilio.media_link(uuid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION twilio.media_link(uuid, integer) TO authenticated;

-- Each job on the account it belongs to: the claim sends a job with the account its conversation, message or
-- call was created in (twilio._pinned_config), and a conversation whose account the user no longer sends with is
-- refused at enqueue and started afresh by get_or_create_conversation_for_lead.

-- Internal: a user's settings row, found by the primary key. (Many users may share an account SID; a lookup
-- that also names the SID must not let the planner walk the account_sid index instead.)
CREATE FUNCTION twilio._own_settings(uid uuid) RETURNS SETOF twilio.user_settings
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM twilio.user_settings s WHERE s.user_id = uid
$$;
CREATE FUNCTION twilio._pinned_config(uid uuid, pinned text) RETURNS SETOF twilio._sender_config
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM twilio._resolve_config(uid) WHERE pinned IS NULL
    UNION ALL
    SELECT 'user', s.user_id::text, s.account_sid, s.auth_token_envelope, s.conversations_service_sid,
           s.messaging_service_sid, s.sms_number, s.webhook_key, s.max_segments_per_second
      FROM twilio._own_settings(uid) s
     WHERE s.status = 'active' AND s.account_sid = pinned
    UNION ALL
    SELECT 'platform', 'platform', p.account_sid, p.auth_token_envelope, p.conversations_service_sid,
           p.messaging_service_sid, p.sms_number, 'platform', NULL::real
      FROM twilio.platform_account p
     WHERE p.account_sid = pinned AND p.fallback_enabled
       AND NOT EXISTS (SELECT 1 FROM twilio._own_settings(uid) s WHERE s.status = 'active' AND s.account_sid = pinned)
$$;

REVOKE ALL ON FUNCTION twilio._own_settings(uuid), twilio._pinned_config(uuid, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION twilio._conversation_for_lead(uid uuid, lead_id uuid, phone text, friendly_name text) RETURNS uuid
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

CREATE OR REPLACE FUNCTION twilio._enqueue_conversation_message(uid uuid, conversation_id uuid, body text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    conv twilio.conversations;
    seg record;
    msg_id uuid;
BEGIN
    PERFORM twilio._require_body(body);
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
                                 encoding, account_sid)
    VALUES (uid, conv.id, 'conversation', conv.phone, conv.proxy_address, body, seg.segments, seg.encoding,
            conv.account_sid)
    RETURNING id INTO msg_id;
    INSERT INTO twilio.outbox (user_id, kind, conversation_id, message_id)
    VALUES (uid, 'send_conversation_message', conv.id, msg_id);
    RETURN msg_id;
END
$$;

DROP FUNCTION twilio._claim_outbox(integer);

-- Claims up to max_rows due jobs: only the oldest open job of each conversation (messages go out in order, after
-- the conversation exists), rows other workers hold are skipped. Returns what the requests need; for a call, its
-- agent leg (call_to = the agent, call_from = the caller id) and, when a lookup follows an ambiguous create, the
-- SIDs of the user's other recent calls (space-separated), which the lookup must not mistake for this one.
-- Each job goes out with the account its conversation, message or call was created in (pinned_account_sid), as
-- long as the user may still send with it (twilio._pinned_config); when not, the account columns are NULL and the
-- dispatcher fails the job with the reason, rather than trying another account.
CREATE FUNCTION twilio._claim_outbox(max_rows integer)
    RETURNS TABLE (user_id uuid, id bigint, kind text, prior_state text, attempts integer, claimed_at timestamptz,
                   source text, owner text, account_sid text, auth_token_envelope bytea,
                   conversations_service_sid text, messaging_service_sid text, sms_number text, webhook_key text,
                   max_segments_per_second real, conversation_id uuid, conversation_status text,
                   conversation_sid text, participant_sid text, phone text, friendly_name text, message_id uuid,
                   body text, to_number text, segments integer, created_at text, call_id uuid, call_to text,
                   call_from text, lead_phone text, call_status text, call_sid text, known_call_sids text,
                   pinned_account_sid text)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    WITH claimable AS (
        SELECT o.user_id, o.id, o.state
          FROM twilio.outbox o
         WHERE o.state IN ('pending', 'ambiguous') AND o.not_before <= now()
           -- (SMS jobs have no conversation to wait for; skipping the probe for them keeps the plan linear.)
           AND (o.conversation_id IS NULL
                OR NOT EXISTS (SELECT 1 FROM twilio.outbox e
                                WHERE e.user_id = o.user_id AND e.conversation_id = o.conversation_id
                                  AND e.id < o.id AND e.state IN ('pending', 'in_flight', 'ambiguous')))
         ORDER BY o.id
         LIMIT max_rows
           FOR UPDATE OF o SKIP LOCKED
    ), claimed AS (
        UPDATE twilio.outbox o
           SET state = 'in_flight', claimed_at = now(), attempts = o.attempts + 1
          FROM claimable c
         WHERE o.user_id = c.user_id AND o.id = c.id
     RETURNING o.user_id, o.id, o.kind, c.state AS prior_state, o.attempts, o.claimed_at, o.created_at, o.conversation_id,
               o.message_id, o.call_id
    )
    SELECT c.user_id, c.id, c.kind, c.prior_state, c.attempts, c.claimed_at,
           cfg.source, cfg.owner, cfg.account_sid, cfg.auth_token_envelope,
           coalesce(conv.service_sid, cfg.conversations_service_sid), cfg.messaging_service_sid,
           coalesce(conv.proxy_address, cfg.sms_number), cfg.webhook_key, cfg.max_segments_per_second,
           conv.id, conv.status, conv.twilio_sid, conv.participant_sid, conv.phone, conv.friendly_name,
           m.id, m.body, m.to_number, m.segments,
           to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           vc.id, vc.to_number, vc.from_number, vc.lead_phone, vc.status, vc.call_sid,
           CASE WHEN c.kind = 'create_call' AND c.prior_state = 'ambiguous' THEN
               -- ids are time-ordered: the newest calls by the primary key
               (SELECT string_agg(k.call_sid, ' ')
                  FROM (SELECT k.call_sid FROM twilio.voice_calls k
                         WHERE k.user_id = c.user_id AND k.id <> c.call_id AND k.call_sid IS NOT NULL
                         ORDER BY k.id DESC LIMIT 200) k)
           END,
           coalesce(conv.account_sid, m.account_sid, vc.account_sid)
      FROM claimed c
      LEFT JOIN twilio.conversations conv ON conv.user_id = c.user_id AND conv.id = c.conversation_id
      LEFT JOIN twilio.messages m ON m.user_id = c.user_id AND m.id = c.message_id
      LEFT JOIN twilio.voice_calls vc ON vc.user_id = c.user_id AND vc.id = c.call_id
      LEFT JOIN LATERAL (SELECT * FROM twilio._pinned_config(c.user_id,
                                                             coalesce(conv.account_sid, m.account_sid, vc.account_sid))
                          LIMIT 1) cfg ON true
     ORDER BY c.id
$$;

REVOKE ALL ON FUNCTION twilio._claim_outbox(integer) FROM PUBLIC;

-- Plans that do not depend on statistics: the claim, the finish (now set-based) and the next-due check use index
-- scans and nested loops only; held status callbacks of messages are found by an index.
CREATE INDEX webhook_events_held_messages ON twilio.webhook_events (user_id, (params ->> 'MessageSid'))
    WHERE kind = 'status' AND effect = 'status for an unknown message';

-- Claims up to max_rows due jobs: only the oldest open job of each conversation (messages go out in order, after
-- the conversation exists), rows other workers hold are skipped. Returns what the requests need; for a call, its
-- agent leg (call_to = the agent, call_from = the caller id) and, when a lookup follows an ambiguous create, the
-- SIDs of the user's other recent calls (space-separated), which the lookup must not mistake for this one.
-- Each job goes out with the account its conversation, message or call was created in (pinned_account_sid), as
-- long as the user may still send with it (twilio._pinned_config); when not, the account columns are NULL and the
-- dispatcher fails the job with the reason, rather than trying another account.
CREATE OR REPLACE FUNCTION twilio._claim_outbox(max_rows integer)
    RETURNS TABLE (user_id uuid, id bigint, kind text, prior_state text, attempts integer, claimed_at timestamptz,
                   source text, owner text, account_sid text, auth_token_envelope bytea,
                   conversations_service_sid text, messaging_service_sid text, sms_number text, webhook_key text,
                   max_segments_per_second real, conversation_id uuid, conversation_status text,
                   conversation_sid text, participant_sid text, phone text, friendly_name text, message_id uuid,
                   body text, to_number text, segments integer, created_at text, call_id uuid, call_to text,
                   call_from text, lead_phone text, call_status text, call_sid text, known_call_sids text,
                   pinned_account_sid text)
-- Plans: the due jobs come from the partial index outbox_open_in_order (ORDER BY id LIMIT), and every other table
-- is joined by its primary key, with or without statistics. (Function-level enable_* settings, as on
-- _finish_outbox, made this function 50x slower.)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    WITH claimable AS (
        SELECT o.user_id, o.id, o.state
          FROM twilio.outbox o
         WHERE o.state IN ('pending', 'ambiguous') AND o.not_before <= now()
           -- (SMS jobs have no conversation to wait for; skipping the probe for them keeps the plan linear.)
           AND (o.conversation_id IS NULL
                OR NOT EXISTS (SELECT 1 FROM twilio.outbox e
                                WHERE e.user_id = o.user_id AND e.conversation_id = o.conversation_id
                                  AND e.id < o.id AND e.state IN ('pending', 'in_flight', 'ambiguous')))
         ORDER BY o.id
         LIMIT max_rows
           FOR UPDATE OF o SKIP LOCKED
    ), claimed AS (
        UPDATE twilio.outbox o
           SET state = 'in_flight', claimed_at = now(), attempts = o.attempts + 1
          FROM claimable c
         WHERE o.user_id = c.user_id AND o.id = c.id
     RETURNING o.user_id, o.id, o.kind, c.state AS prior_state, o.attempts, o.claimed_at, o.created_at, o.conversation_id,
               o.message_id, o.call_id
    )
    SELECT c.user_id, c.id, c.kind, c.prior_state, c.attempts, c.claimed_at,
           cfg.source, cfg.owner, cfg.account_sid, cfg.auth_token_envelope,
           coalesce(conv.service_sid, cfg.conversations_service_sid), cfg.messaging_service_sid,
           coalesce(conv.proxy_address, cfg.sms_number), cfg.webhook_key, cfg.max_segments_per_second,
           conv.id, conv.status, conv.twilio_sid, conv.participant_sid, conv.phone, conv.friendly_name,
           m.id, m.body, m.to_number, m.segments,
           to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           vc.id, vc.to_number, vc.from_number, vc.lead_phone, vc.status, vc.call_sid,
           CASE WHEN c.kind = 'create_call' AND c.prior_state = 'ambiguous' THEN
               -- ids are time-ordered: the newest calls by the primary key
               (SELECT string_agg(k.call_sid, ' ')
                  FROM (SELECT k.call_sid FROM twilio.voice_calls k
                         WHERE k.user_id = c.user_id AND k.id <> c.call_id AND k.call_sid IS NOT NULL
                         ORDER BY k.id DESC LIMIT 200) k)
           END,
           pin.sid
      FROM claimed c
      LEFT JOIN twilio.conversations conv ON conv.user_id = c.user_id AND conv.id = c.conversation_id
      LEFT JOIN twilio.messages m ON m.user_id = c.user_id AND m.id = c.message_id
      LEFT JOIN twilio.voice_calls vc ON vc.user_id = c.user_id AND vc.id = c.call_id
      -- twilio._pinned_config, inline (no function call per row); each settings row found by its key only
      CROSS JOIN LATERAL (SELECT coalesce(conv.account_sid, m.account_sid, vc.account_sid) AS sid) pin
      LEFT JOIN LATERAL (
          SELECT 'user' AS source, s.user_id::text AS owner, s.account_sid, s.auth_token_envelope,
                 s.conversations_service_sid, s.messaging_service_sid, s.sms_number, s.webhook_key,
                 s.max_segments_per_second
            FROM twilio.user_settings s
           WHERE s.user_id = c.user_id AND s.status = 'active'
             AND (pin.sid IS NULL OR s.account_sid IS NOT DISTINCT FROM pin.sid)
          UNION ALL
          SELECT 'platform', 'platform', p.account_sid, p.auth_token_envelope, p.conversations_service_sid,
                 p.messaging_service_sid, p.sms_number, 'platform', NULL::real
            FROM twilio.platform_account p
           WHERE p.fallback_enabled
             AND CASE WHEN pin.sid IS NULL
                      THEN NOT EXISTS (SELECT 1 FROM twilio.user_settings s WHERE s.user_id = c.user_id)
                      ELSE p.account_sid IS NOT DISTINCT FROM pin.sid
                           AND NOT EXISTS (SELECT 1 FROM twilio.user_settings s
                                            WHERE s.user_id = c.user_id AND s.status = 'active'
                                              AND s.account_sid IS NOT DISTINCT FROM pin.sid) END
          LIMIT 1) cfg ON true
     ORDER BY c.id
$$;

-- Records what the dispatcher learnt, for a batch of jobs (a JSON array, one object per job):
--   {"user_id", "id", "state": pending|done|failed|ambiguous, "retry_in_ms", "unclaim": bool, "error",
--    "message": {"status", "twilio_sid", "error_code", "error_message"},
--    "conversation": {"status", "twilio_sid", "participant_sid", "error_code", "error_message"},
--    "call": {"status", "twilio_sid", "account_sid", "error_code", "error_message"},
--    "opt_out": "+1..."}
-- Set-based: one statement per table for the whole batch, each row found by its primary key. The SET clauses
-- below take away every other join and scan, so the plans are the same on a fresh database with no statistics
-- (where the planner's guesses once made this 4x slower) as on a warm one.
-- A call's status only moves forward (twilio._call_status_rank: the first end wins) and its SID is set once; a
-- call whose job failed for good fails its manual action too.
CREATE OR REPLACE FUNCTION twilio._finish_outbox(results jsonb) RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
    SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET enable_bitmapscan = off
AS $$
DECLARE
    n integer;
    sid_users uuid[];
    sids text[];
    calls jsonb;
    c record;
    placed twilio.voice_calls;
BEGIN
    WITH r AS (
        SELECT * FROM jsonb_to_recordset(results)
                   AS x(user_id uuid, id bigint, state text, retry_in_ms double precision, unclaim boolean,
                        error text, message jsonb, conversation jsonb, call jsonb, opt_out text)
    ), job AS (
        UPDATE twilio.outbox o
           SET state = r.state,
               not_before = now() + make_interval(secs => coalesce(r.retry_in_ms, 0) / 1000),
               attempts = o.attempts - CASE WHEN r.unclaim THEN 1 ELSE 0 END,
               finished_at = CASE WHEN r.state IN ('done', 'failed') THEN now() END,
               last_error = r.error
          FROM r
         WHERE o.user_id = r.user_id AND o.id = r.id AND o.state = 'in_flight'
        RETURNING o.user_id, o.id, r.state, o.message_id, o.conversation_id, o.call_id, r.message, r.conversation,
                  r.call, r.opt_out
    ), msg AS (
        UPDATE twilio.messages m
           SET status = coalesce(j.message ->> 'status', m.status),
               twilio_sid = coalesce(j.message ->> 'twilio_sid', m.twilio_sid),
               error_code = coalesce((j.message ->> 'error_code')::integer, m.error_code),
               error_message = coalesce(j.message ->> 'error_message', m.error_message),
               sent_at = CASE WHEN j.state = 'done' THEN coalesce(m.sent_at, now()) ELSE m.sent_at END
          FROM job j
         WHERE j.message IS NOT NULL AND m.user_id = j.user_id AND m.id = j.message_id
        RETURNING 1
    ), conv AS (
        UPDATE twilio.conversations cv
           SET status = coalesce(j.conversation ->> 'status', cv.status),
               twilio_sid = coalesce(j.conversation ->> 'twilio_sid', cv.twilio_sid),
               participant_sid = coalesce(j.conversation ->> 'participant_sid', cv.participant_sid),
               error_code = coalesce((j.conversation ->> 'error_code')::integer, cv.error_code),
               error_message = coalesce(j.conversation ->> 'error_message', cv.error_message)
          FROM job j
         WHERE j.conversation IS NOT NULL AND cv.user_id = j.user_id AND cv.id = j.conversation_id
        RETURNING 1
    ), opted_out AS (
        INSERT INTO twilio.opt_outs (user_id, phone, source)
        SELECT j.user_id, j.opt_out, 'twilio_21610' FROM job j WHERE j.opt_out IS NOT NULL
        ON CONFLICT DO NOTHING
        RETURNING 1
    )
    SELECT count(*)::integer,
           array_agg(j.user_id) FILTER (WHERE j.message_id IS NOT NULL AND j.message ->> 'twilio_sid' IS NOT NULL),
           array_agg(j.message ->> 'twilio_sid')
               FILTER (WHERE j.message_id IS NOT NULL AND j.message ->> 'twilio_sid' IS NOT NULL),
           jsonb_agg(jsonb_build_object('user_id', j.user_id, 'id', j.id, 'state', j.state, 'call_id', j.call_id,
                                        'call', j.call) ORDER BY j.id)
               FILTER (WHERE j.call IS NOT NULL AND j.call_id IS NOT NULL)
      INTO n, sid_users, sids, calls
      FROM job j;

    -- A status callback can beat us to it (it arrives before we recorded the SID): apply it now.
    IF sids IS NOT NULL THEN
        UPDATE twilio.webhook_events e
           SET effect = 'applied late: ' || twilio._apply_message_status(e.user_id, e.params ->> 'MessageSid',
                                                  e.params ->> 'MessageStatus', e.params ->> 'ErrorCode')
          FROM unnest(sid_users, sids) AS s(user_id, sid)
         WHERE e.user_id = s.user_id AND e.kind = 'status' AND e.effect = 'status for an unknown message'
           AND e.params ->> 'MessageSid' = s.sid;
    END IF;

    -- Calls (paced to a few per second): one by one, in job order.
    FOR c IN SELECT * FROM jsonb_to_recordset(coalesce(calls, '[]'))
                           AS x(user_id uuid, id bigint, state text, call_id uuid, call jsonb) LOOP
        UPDATE twilio.voice_calls v
           SET status = CASE WHEN twilio._call_status_rank(c.call ->> 'status')
                                  > coalesce(twilio._call_status_rank(v.status), -1)
                             THEN c.call ->> 'status' ELSE v.status END,
               call_sid = coalesce(v.call_sid, c.call ->> 'twilio_sid'),
               account_sid = coalesce(c.call ->> 'account_sid', v.account_sid),
               error_code = coalesce((c.call ->> 'error_code')::integer, v.error_code),
               error_message = coalesce(c.call ->> 'error_message', v.error_message),
               ended_at = CASE WHEN twilio._call_status_rank(c.call ->> 'status') = 4
                               THEN coalesce(v.ended_at, now()) ELSE v.ended_at END,
               updated_at = now()
         WHERE v.user_id = c.user_id AND v.id = c.call_id
        RETURNING * INTO placed;
        IF c.state = 'failed' AND placed.action_id IS NOT NULL THEN
            UPDATE twilio.manual_actions a
               SET status = 'failed', outcome = 'failed', completed_at = now()
             WHERE a.user_id = c.user_id AND a.id = placed.action_id AND a.call_id = placed.id
               AND a.status NOT IN ('done', 'skipped');
        END IF;
        -- Status callbacks that beat us to the SID (held by _apply_call_status), applied now in their order.
        IF placed.call_sid IS NOT NULL AND placed.call_sid = c.call ->> 'twilio_sid' THEN
            PERFORM twilio._apply_held_call_statuses(c.user_id, placed.call_sid);
        END IF;
    END LOOP;
    RETURN n;
END
$$;

-- Milliseconds until the next job is due (0 when one is due now), or NULL when nothing waits.
CREATE OR REPLACE FUNCTION twilio._next_due_ms() RETURNS double precision
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
    SET enable_seqscan = off SET enable_bitmapscan = off  -- the partial index outbox_due, never the whole outbox
AS $$
    SELECT CASE WHEN min(not_before) IS NOT NULL  -- greatest() would turn "nothing waits" (NULL) into 0
                THEN greatest(0, extract(epoch FROM min(not_before) - clock_timestamp()) * 1000) END
      FROM twilio.outbox WHERE state IN ('pending', 'ambiguous')
$$;

-- Sending media: send_sms(..., media_urls) as MMS, send_conversation_message(..., media_sids) with media the app
-- uploaded to Twilio's Media Content Service; stored in twilio.message_media like inbound media, and claimed with
-- their message. New signatures: the old functions (and the internal ones they are bound to) are replaced.
DROP FUNCTION twilio.send_sms(text, text);
DROP FUNCTION twilio.send_conversation_message(uuid, text);
DROP FUNCTION twilio._enqueue_sms(uuid, text, text);
DROP FUNCTION twilio._enqueue_conversation_message(uuid, uuid, text);
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

REVOKE ALL ON FUNCTION twilio._require_media_urls(text[]), twilio._require_media_sids(text[]),
                       twilio._require_body_or_media(text, boolean),
                       twilio._record_outbound_media(uuid, uuid, text[], text[]),
                       twilio._enqueue_conversation_message(uuid, uuid, text, text[]),
                       twilio._enqueue_sms(uuid, text, text, text[]),
                       twilio.send_conversation_message(uuid, text, text[]), twilio.send_sms(text, text, text[])
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION twilio.send_conversation_message(uuid, text, text[]), twilio.send_sms(text, text, text[])
    TO authenticated;

DROP FUNCTION twilio._claim_outbox(integer);
-- Claims up to max_rows due jobs: only the oldest open job of each conversation (messages go out in order, after
-- the conversation exists), rows other workers hold are skipped. Returns what the requests need; for a call, its
-- agent leg (call_to = the agent, call_from = the caller id) and, when a lookup follows an ambiguous create, the
-- SIDs of the user's other recent calls (space-separated), which the lookup must not mistake for this one.
-- Each job goes out with the account its conversation, message or call was created in (pinned_account_sid), as
-- long as the user may still send with it (twilio._pinned_config); when not, the account columns are NULL and the
-- dispatcher fails the job with the reason, rather than trying another account.
-- media: a message's outbound media in order (MMS URLs or Conversations media SIDs), space-separated (neither
-- holds whitespace: twilio._require_media_urls / _require_media_sids); NULL for a message without media.
CREATE FUNCTION twilio._claim_outbox(max_rows integer)
    RETURNS TABLE (user_id uuid, id bigint, kind text, prior_state text, attempts integer, claimed_at timestamptz,
                   source text, owner text, account_sid text, auth_token_envelope bytea,
                   conversations_service_sid text, messaging_service_sid text, sms_number text, webhook_key text,
                   max_segments_per_second real, conversation_id uuid, conversation_status text,
                   conversation_sid text, participant_sid text, phone text, friendly_name text, message_id uuid,
                   body text, to_number text, segments integer, created_at text, call_id uuid, call_to text,
                   call_from text, lead_phone text, call_status text, call_sid text, known_call_sids text,
                   pinned_account_sid text, media text)
-- Plans: the due jobs come from the partial index outbox_open_in_order (ORDER BY id LIMIT), and every other table
-- is joined by its primary key, with or without statistics. (Function-level enable_* settings, as on
-- _finish_outbox, made this function 50x slower.)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    WITH claimable AS (
        SELECT o.user_id, o.id, o.state
          FROM twilio.outbox o
         WHERE o.state IN ('pending', 'ambiguous') AND o.not_before <= now()
           -- (SMS jobs have no conversation to wait for; skipping the probe for them keeps the plan linear.)
           AND (o.conversation_id IS NULL
                OR NOT EXISTS (SELECT 1 FROM twilio.outbox e
                                WHERE e.user_id = o.user_id AND e.conversation_id = o.conversation_id
                                  AND e.id < o.id AND e.state IN ('pending', 'in_flight', 'ambiguous')))
         ORDER BY o.id
         LIMIT max_rows
           FOR UPDATE OF o SKIP LOCKED
    ), claimed AS (
        UPDATE twilio.outbox o
           SET state = 'in_flight', claimed_at = now(), attempts = o.attempts + 1
          FROM claimable c
         WHERE o.user_id = c.user_id AND o.id = c.id
     RETURNING o.user_id, o.id, o.kind, c.state AS prior_state, o.attempts, o.claimed_at, o.created_at, o.conversation_id,
               o.message_id, o.call_id
    )
    SELECT c.user_id, c.id, c.kind, c.prior_state, c.attempts, c.claimed_at,
           cfg.source, cfg.owner, cfg.account_sid, cfg.auth_token_envelope,
           coalesce(conv.service_sid, cfg.conversations_service_sid), cfg.messaging_service_sid,
           coalesce(conv.proxy_address, cfg.sms_number), cfg.webhook_key, cfg.max_segments_per_second,
           conv.id, conv.status, conv.twilio_sid, conv.participant_sid, conv.phone, conv.friendly_name,
           m.id, m.body, m.to_number, m.segments,
           to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           vc.id, vc.to_number, vc.from_number, vc.lead_phone, vc.status, vc.call_sid,
           CASE WHEN c.kind = 'create_call' AND c.prior_state = 'ambiguous' THEN
               -- ids are time-ordered: the newest calls by the primary key
               (SELECT string_agg(k.call_sid, ' ')
                  FROM (SELECT k.call_sid FROM twilio.voice_calls k
                         WHERE k.user_id = c.user_id AND k.id <> c.call_id AND k.call_sid IS NOT NULL
                         ORDER BY k.id DESC LIMIT 200) k)
           END,
           pin.sid,
           -- only for messages with media (media_count), by message_media's primary key
           CASE WHEN m.media_count > 0 THEN
               (SELECT string_agg(coalesce(d.url, d.media_sid), ' ' ORDER BY d.position)
                  FROM twilio.message_media d WHERE d.user_id = m.user_id AND d.message_id = m.id)
           END
      FROM claimed c
      LEFT JOIN twilio.conversations conv ON conv.user_id = c.user_id AND conv.id = c.conversation_id
      LEFT JOIN twilio.messages m ON m.user_id = c.user_id AND m.id = c.message_id
      LEFT JOIN twilio.voice_calls vc ON vc.user_id = c.user_id AND vc.id = c.call_id
      -- twilio._pinned_config, inline (no function call per row); each settings row found by its key only
      CROSS JOIN LATERAL (SELECT coalesce(conv.account_sid, m.account_sid, vc.account_sid) AS sid) pin
      LEFT JOIN LATERAL (
          SELECT 'user' AS source, s.user_id::text AS owner, s.account_sid, s.auth_token_envelope,
                 s.conversations_service_sid, s.messaging_service_sid, s.sms_number, s.webhook_key,
                 s.max_segments_per_second
            FROM twilio.user_settings s
           WHERE s.user_id = c.user_id AND s.status = 'active'
             AND (pin.sid IS NULL OR s.account_sid IS NOT DISTINCT FROM pin.sid)
          UNION ALL
          SELECT 'platform', 'platform', p.account_sid, p.auth_token_envelope, p.conversations_service_sid,
                 p.messaging_service_sid, p.sms_number, 'platform', NULL::real
            FROM twilio.platform_account p
           WHERE p.fallback_enabled
             AND CASE WHEN pin.sid IS NULL
                      THEN NOT EXISTS (SELECT 1 FROM twilio.user_settings s WHERE s.user_id = c.user_id)
                      ELSE p.account_sid IS NOT DISTINCT FROM pin.sid
                           AND NOT EXISTS (SELECT 1 FROM twilio.user_settings s
                                            WHERE s.user_id = c.user_id AND s.status = 'active'
                                              AND s.account_sid IS NOT DISTINCT FROM pin.sid) END
          LIMIT 1) cfg ON true
     ORDER BY c.id
$$;
REVOKE ALL ON FUNCTION twilio._claim_outbox(integer) FROM PUBLIC;
