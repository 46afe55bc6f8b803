------------------------------------------------------------------------------------------------------------------
-- The dispatcher's side of the outbox (internal; run by the background worker as the bootstrap superuser).
-- Each call is its own short transaction; HTTP happens between them with no transaction open.
------------------------------------------------------------------------------------------------------------------

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
CREATE FUNCTION twilio._finish_outbox(results jsonb) RETURNS integer
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

-- At dispatcher start: jobs a crash left in flight may have reached Twilio, so they are reconciled (looked up),
-- not resent; the lookup waits until reconcile_delay_ms after the claim, so that a request Twilio was still
-- working on when we died has landed before we conclude it never arrived.
CREATE FUNCTION twilio._sweep_outbox(reconcile_delay_ms integer) RETURNS integer
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    WITH swept AS (
        UPDATE twilio.outbox
           SET state = 'ambiguous', last_error = 'in flight when the dispatcher stopped',
               not_before = greatest(now(), coalesce(claimed_at, now()) + make_interval(secs => reconcile_delay_ms / 1000.0))
         WHERE state = 'in_flight' RETURNING 1)
    SELECT count(*)::integer FROM swept
$$;

-- Milliseconds until the next job is due (0 when one is due now), or NULL when nothing waits.
CREATE FUNCTION twilio._next_due_ms() RETURNS double precision
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
    SET enable_seqscan = off SET enable_bitmapscan = off  -- the partial index outbox_due, never the whole outbox
AS $$
    SELECT CASE WHEN min(not_before) IS NOT NULL  -- greatest() would turn "nothing waits" (NULL) into 0
                THEN greatest(0, extract(epoch FROM min(not_before) - clock_timestamp()) * 1000) END
      FROM twilio.outbox WHERE state IN ('pending', 'ambiguous')
$$;

-- Observability: the outbox by state, with the oldest waiting job's age. Under RLS a user sees their own jobs;
-- service_role and superusers see everyone's.
CREATE VIEW twilio.outbox_status WITH (security_invoker = true) AS
    SELECT count(*) FILTER (WHERE state = 'pending') AS backlog,
           count(*) FILTER (WHERE state = 'in_flight') AS in_flight,
           count(*) FILTER (WHERE state = 'ambiguous') AS ambiguous,
           count(*) FILTER (WHERE state = 'done') AS sent,
           count(*) FILTER (WHERE state = 'failed') AS failed,
           now() - min(created_at) FILTER (WHERE state IN ('pending', 'ambiguous')) AS oldest_waiting_age
      FROM twilio.outbox;
GRANT SELECT ON twilio.outbox_status TO authenticated, service_role;

CREATE FUNCTION twilio.dispatcher_pid() RETURNS integer
    AS 'MODULE_PATHNAME', 'byo_dispatcher_pid' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION twilio.dispatcher_pid() IS 'The dispatcher worker''s process id, or NULL when it is not running';
