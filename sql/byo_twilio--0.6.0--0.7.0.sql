-- byo_twilio 0.6.0 -> 0.7.0: messages as Twilio has them (media, sends from a number, webhook fields) and a
-- dispatcher that keeps each job on the account it belongs to.
\echo Use "ALTER EXTENSION byo_twilio UPDATE TO '0.7.0'" to load this file. \quit

-- Each job on the account it belongs to: the claim sends a job with the account its conversation, message or
-- call was created in (twilio._pinned_config), and a conversation whose account the user no longer sends with is
-- refused at enqueue and started afresh by get_or_create_conversation_for_lead.

CREATE FUNCTION twilio._pinned_config(uid uuid, pinned text) RETURNS SETOF twilio._sender_config
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM twilio._resolve_config(uid) WHERE pinned IS NULL
    UNION ALL
    SELECT 'user', s.user_id::text, s.account_sid, s.auth_token_envelope, s.conversations_service_sid,
           s.messaging_service_sid, s.sms_number, s.webhook_key, s.max_segments_per_second
      FROM twilio.user_settings s
     WHERE s.user_id = uid AND s.status = 'active' AND s.account_sid = pinned
    UNION ALL
    SELECT 'platform', 'platform', p.account_sid, p.auth_token_envelope, p.conversations_service_sid,
           p.messaging_service_sid, p.sms_number, 'platform', NULL::real
      FROM twilio.platform_account p
     WHERE p.account_sid = pinned AND p.fallback_enabled
       AND NOT EXISTS (SELECT 1 FROM twilio.user_settings s
                        WHERE s.user_id = uid AND s.status = 'active' AND s.account_sid = pinned)
$$;

REVOKE ALL ON FUNCTION twilio._pinned_config(uuid, text) FROM PUBLIC;

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
