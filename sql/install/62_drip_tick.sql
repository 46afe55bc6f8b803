------------------------------------------------------------------------------------------------------------------
-- The drip tick: one pass that pg_cron runs (twilio.schedule_drips). It claims due enrollments, writes their next
-- step into the outbox exactly as send_sms / send_conversation_message would for that user, records the step as
-- sent and advances, all in the pass's transaction: a step is sent once, whatever overlaps or crashes.
------------------------------------------------------------------------------------------------------------------

-- Renders like _drip_render, but answers NULL where that raises (src/pg/fn_drips_tick.cpp): the set-based pass
-- below must not let one contact's bad variables abort the batch.
CREATE FUNCTION twilio._drip_try_render(template text, variables jsonb) RETURNS text
    AS 'MODULE_PATHNAME', 'byo_drip_try_render' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
-- The same text with its SMS segments and encoding as _sms_segments counts them (all NULL where it does not
-- render): one call per message in the tick.
CREATE FUNCTION twilio._drip_try_render_sms(template text, variables jsonb, OUT body text, OUT segments integer,
                                            OUT encoding text)
    AS 'MODULE_PATHNAME', 'byo_drip_try_render_sms' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- A manual-call step: a call for the user to make, in their queue (twilio.manual_actions), instead of a text. The
-- rendered step is the action's title (its first line, at most 200 characters) and, when longer, its notes. Queued
-- once per enrollment and step (_create_action finds one already queued). A number on the user's do-not-call list
-- gets no call; the campaign goes on with its next step. Returns the action's id (NULL when none was queued).
CREATE FUNCTION twilio._drip_queue_call(e twilio.enrollments, s twilio.campaign_steps, body text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    whole text := regexp_replace(body, '^\s+|\s+$', '', 'g');
    title text := left(btrim(substring(whole FROM '^[^\r\n]*')), 200);
BEGIN
    IF EXISTS (SELECT 1 FROM twilio.do_not_call d WHERE d.user_id = e.user_id AND d.phone = e.phone) THEN
        RETURN NULL;
    END IF;
    RETURN twilio._create_action(e.user_id, 'call', title, e.phone, e.lead_id, now(), 0,
                                 CASE WHEN whole <> title THEN whole END,
                                 e.time_zone, 'drip', e.id, s.position);
END
$$;

-- Sends one due enrollment's next step, or says why not. Raises on anything the step cannot get past.
CREATE FUNCTION twilio._drip_send_step(e twilio.enrollments, c twilio.campaigns, s twilio.campaign_steps)
    RETURNS uuid
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    body text := twilio._drip_render(s.body_template, e.variables);
    msg_id uuid;
    seg integer;
BEGIN
    IF s.channel = 'manual_call' THEN
        RETURN twilio._drip_queue_call(e, s, body);
    END IF;
    IF coalesce(s.channel, c.channel) = 'sms' THEN
        msg_id := twilio._enqueue_sms(e.user_id, e.phone, body);
    ELSE
        msg_id := twilio._enqueue_conversation_message(
            e.user_id, twilio._conversation_for_lead(e.user_id, e.lead_id, e.phone, NULL), body);
    END IF;
    SELECT m.segments INTO seg FROM twilio.messages m WHERE m.user_id = e.user_id AND m.id = msg_id;
    -- The primary key (enrollment, step) refuses a second send of this step, ever.
    INSERT INTO twilio.enrollment_sends (user_id, enrollment_id, step_id, campaign_id, position, message_id, phone,
                                         segments, day)
    VALUES (e.user_id, e.id, s.id, c.id, s.position, msg_id, e.phone, seg, (now() AT TIME ZONE 'UTC')::date);
    INSERT INTO twilio.campaign_stats_daily AS d (user_id, campaign_id, day, step_id, position, sent, segments)
    VALUES (e.user_id, c.id, (now() AT TIME ZONE 'UTC')::date, s.id, s.position, 1, seg)
    ON CONFLICT (user_id, campaign_id, day, step_id)
        DO UPDATE SET sent = d.sent + 1, segments = d.segments + EXCLUDED.segments;
    RETURN msg_id;
END
$$;

-- One claimed enrollment, row by row, in its own subtransaction: completes it, lets it wait for its (moved)
-- plan, stops it (opted out), or sends its next step. Returns which: 'completed', 'waiting', 'stopped', 'sent',
-- 'held' (the sender is missing: not connected, disabled, incomplete; retried in 5 minutes, the reason in
-- hold_reason) or 'failed' (anything else: stopped as failed with the reason in last_error).
CREATE FUNCTION twilio._drip_tick_one(e twilio.enrollments) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c twilio.campaigns;
    s twilio.campaign_steps;
    p record;
    why text;
BEGIN
    SELECT * INTO c FROM twilio.campaigns x WHERE x.user_id = e.user_id AND x.id = e.campaign_id;
    BEGIN
        SELECT * INTO p FROM twilio._drip_plan(e, c);
        IF p.step_id IS NULL THEN
            UPDATE twilio.enrollments x SET status = 'completed', next_run_at = NULL, hold_reason = NULL,
                                             finished_at = now()
             WHERE x.user_id = e.user_id AND x.id = e.id;
            RETURN 'completed';
        END IF;
        IF p.allowed_at > now() THEN  -- the plan moved (a step edited, quiet hours changed): wait for it
            UPDATE twilio.enrollments x
               SET next_run_at = p.allowed_at, hold_reason = CASE WHEN p.allowed_at > p.due_at THEN 'quiet hours' END
             WHERE x.user_id = e.user_id AND x.id = e.id;
            RETURN 'waiting';
        END IF;
        IF EXISTS (SELECT 1 FROM twilio.opt_outs o WHERE o.user_id = e.user_id AND o.phone = e.phone) THEN
            UPDATE twilio.enrollments x
               SET status = 'stopped', stop_reason = 'opted_out', next_run_at = NULL, hold_reason = NULL,
                   finished_at = now()
             WHERE x.user_id = e.user_id AND x.id = e.id;
            RETURN 'stopped';
        END IF;
        SELECT * INTO s FROM twilio.campaign_steps x WHERE x.user_id = e.user_id AND x.id = p.step_id;
        PERFORM twilio._drip_send_step(e, c, s);
        e.last_position := s.position;
        e.anchor_at := now();
        SELECT * INTO p FROM twilio._drip_plan(e, c);
        UPDATE twilio.enrollments x  -- the last step sent: completed now
           SET last_position = s.position, anchor_at = now(), last_sent_at = now(), last_error = NULL,
               status = CASE WHEN p.step_id IS NULL THEN 'completed' ELSE 'active' END,
               next_run_at = p.allowed_at, finished_at = CASE WHEN p.step_id IS NULL THEN now() END,
               hold_reason = CASE WHEN p.allowed_at > p.due_at THEN 'quiet hours' END
         WHERE x.user_id = e.user_id AND x.id = e.id;
        RETURN 'sent';
    EXCEPTION
        WHEN object_not_in_prerequisite_state THEN  -- the sender: not connected, disabled, incomplete
            GET STACKED DIAGNOSTICS why = MESSAGE_TEXT;
            -- The retry is a plan too (the batch sends what is due without planning it again): out of quiet hours.
            UPDATE twilio.enrollments x
               SET next_run_at = twilio._drip_allowed_at(now() + interval '5 minutes', e.time_zone, c.quiet_start,
                                                         c.quiet_end, c.quiet_days),
                   hold_reason = why
             WHERE x.user_id = e.user_id AND x.id = e.id;
            RETURN 'held';
        WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS why = MESSAGE_TEXT;
            UPDATE twilio.enrollments x
               SET status = 'stopped', stop_reason = 'failed', next_run_at = NULL, hold_reason = NULL,
                   last_error = format('%s: %s (SQLSTATE %s)', coalesce('step ' || s.position, 'the next step'), why,
                                        SQLSTATE),
                   finished_at = now()
             WHERE x.user_id = e.user_id AND x.id = e.id;
            RETURN 'failed';
    END;
END
$$;

-- Claims up to max_rows due enrollments, oldest due first (FOR UPDATE SKIP LOCKED: rows another pass holds are
-- skipped, and one it already advanced no longer qualifies when rechecked), with what the batch reads of them.
-- A function, not a subquery, for its ROWS estimate: the statistics of next_run_at always say that almost nothing
-- is due (rows become due between two ANALYZEs), and on that estimate the planner joins the batch's rows to their
-- steps and senders by nested loops, each row against every group.
CREATE FUNCTION twilio._drip_claim(max_rows integer)
    RETURNS TABLE (user_id uuid, id uuid, campaign_id uuid, phone text, time_zone text, variables jsonb,
                   last_position integer, enrolled_at timestamptz)
LANGUAGE sql VOLATILE ROWS 1000 SET search_path = pg_catalog, pg_temp AS $$
    SELECT x.user_id, x.id, x.campaign_id, x.phone, x.time_zone, x.variables, x.last_position, x.enrolled_at
      FROM twilio.enrollments x
     WHERE x.status = 'active' AND x.next_run_at <= now()
     ORDER BY x.next_run_at
     LIMIT max_rows
       FOR UPDATE SKIP LOCKED
$$;

-- The bulk of a pass in one statement: claims up to max_rows due enrollments (_drip_claim), and for every plain SMS
-- step that will go through writes the message and its outbox job (the columns _enqueue_sms writes, with the
-- sender _require_sender picks), the send record and the rollup, and advances the enrollment; completes or stops
-- (opted out) the others that need no sending. What it cannot vouch for (a Conversations step, no usable sender,
-- a step that does not render, a step already on record) it leaves claimed and unchanged, for the row-by-row path.
-- Returns the counts and those rows.
-- A due row's next_run_at is its plan (this pass, enroll, resume and every change of steps or quiet hours set it
-- with _drip_plan), so the step it is due for is not planned again here. The next step is planned once per
-- campaign, position and time zone among the claimed rows (every row of a group is anchored at now()), and per
-- row only for a step at a local time of day (it counts from the day of enrolling).
CREATE FUNCTION twilio._drip_tick_batch(max_rows integer, OUT claimed integer, OUT sent integer,
                                        OUT completed integer, OUT stopped integer,
                                        OUT rest_users uuid[], OUT rest_ids uuid[])
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    WITH due AS MATERIALIZED (
        SELECT * FROM twilio._drip_claim(max_rows)
    ), senders AS MATERIALIZED (  -- once per user in the batch, not per row
        SELECT u.user_id, r.account_sid, r.messaging_service_sid, r.sms_number
          FROM (SELECT DISTINCT d.user_id FROM due d) u
          LEFT JOIN LATERAL (SELECT * FROM twilio._resolve_config(u.user_id) LIMIT 1) r ON true
    ), steps AS MATERIALIZED (  -- once per campaign, position and zone: this step, the next, and its plan
        SELECT g.*, st.id AS sid, st.position, st.body_template, coalesce(st.channel, c.channel) AS channel,
               nx.id AS next_sid, nx.delay IS NULL AS next_on_day, nx.on_day, nx.at_local_time,
               c.quiet_start, c.quiet_end, c.quiet_days, a.next_allowed_at, a.next_due_at
          FROM (SELECT DISTINCT d.user_id, d.campaign_id, d.last_position, d.time_zone FROM due d) g
          JOIN twilio.campaigns c ON c.user_id = g.user_id AND c.id = g.campaign_id
          LEFT JOIN LATERAL (SELECT s.* FROM twilio.campaign_steps s
                              WHERE s.user_id = g.user_id AND s.campaign_id = g.campaign_id
                                AND s.position > g.last_position
                              ORDER BY s.position LIMIT 1) st ON true
          LEFT JOIN LATERAL (SELECT s.* FROM twilio.campaign_steps s
                              WHERE s.user_id = g.user_id AND s.campaign_id = g.campaign_id
                                AND s.position > st.position
                              ORDER BY s.position LIMIT 1) nx ON true
          LEFT JOIN LATERAL (SELECT t.due AS next_due_at,
                                    twilio._drip_allowed_at(t.due, g.time_zone, c.quiet_start, c.quiet_end,
                                                            c.quiet_days) AS next_allowed_at
                               FROM (SELECT twilio._drip_add(now(), nx.delay, g.time_zone) AS due) t
                              WHERE nx.delay IS NOT NULL) a ON true
    ), classified AS MATERIALIZED (  -- once: each later part reads it
        SELECT d.user_id, d.id, d.campaign_id, d.phone, d.time_zone, d.enrolled_at, st.sid, st.position,
               st.next_sid, st.next_on_day, st.on_day, st.at_local_time, st.quiet_start, st.quiet_end,
               st.quiet_days, st.next_due_at, st.next_allowed_at, n.account_sid, n.sms_number, r.r,
               CASE WHEN st.sid IS NULL THEN 'completed'
                    WHEN EXISTS (SELECT 1 FROM twilio.opt_outs o
                                  WHERE o.user_id = d.user_id AND o.phone = d.phone) THEN 'stopped'
                    WHEN st.channel = 'sms' AND n.messaging_service_sid IS NOT NULL
                         AND (r.r).body ~ '\S' AND char_length((r.r).body) <= 1600  -- what _require_body accepts
                         AND NOT EXISTS (SELECT 1 FROM twilio.enrollment_sends es
                                          WHERE es.user_id = d.user_id AND es.enrollment_id = d.id
                                            AND es.step_id = st.sid) THEN 'send'
                    ELSE 'rest' END AS outcome
          FROM due d
          JOIN steps st ON st.user_id = d.user_id AND st.campaign_id = d.campaign_id
                       AND st.last_position = d.last_position AND st.time_zone = d.time_zone
          LEFT JOIN senders n ON n.user_id = d.user_id
         CROSS JOIN LATERAL (SELECT twilio._drip_try_render_sms(CASE WHEN st.channel = 'sms' THEN st.body_template END,
                                                                d.variables) AS r) r
    ), sending AS MATERIALIZED (  -- with the next step's plan: at a local time of day, counted from enrolling
        SELECT k.*, twilio._uuid_v7() AS msg_id, (now() AT TIME ZONE 'UTC')::date AS day,
               CASE WHEN k.next_on_day THEN twilio._drip_allowed_at(o.due, k.time_zone, k.quiet_start,
                                                                    k.quiet_end, k.quiet_days)
                    ELSE k.next_allowed_at END AS next_at,
               CASE WHEN k.next_on_day THEN o.due ELSE k.next_due_at END AS next_due
          FROM classified k
          LEFT JOIN LATERAL (SELECT greatest(now(), ((k.enrolled_at AT TIME ZONE k.time_zone)::date + k.on_day
                                                     + k.at_local_time) AT TIME ZONE k.time_zone) AS due
                              WHERE k.next_on_day AND k.next_sid IS NOT NULL) o ON true
         WHERE k.outcome = 'send'
    ), messages AS (
        INSERT INTO twilio.messages (user_id, id, channel, to_number, from_number, body, segments, encoding,
                                     account_sid)
        SELECT w.user_id, w.msg_id, 'sms', w.phone, w.sms_number, (w.r).body, (w.r).segments, (w.r).encoding,
               w.account_sid
          FROM sending w
    ), jobs AS (
        INSERT INTO twilio.outbox (user_id, kind, message_id)
        SELECT w.user_id, 'send_sms', w.msg_id FROM sending w ORDER BY w.msg_id
    ), sends AS (  -- the primary key (enrollment, step) refuses a second send of a step, ever
        INSERT INTO twilio.enrollment_sends (user_id, enrollment_id, step_id, campaign_id, position, message_id,
                                             phone, segments, day)
        SELECT w.user_id, w.id, w.sid, w.campaign_id, w.position, w.msg_id, w.phone, (w.r).segments, w.day
          FROM sending w
    ), rollups AS (
        INSERT INTO twilio.campaign_stats_daily AS d (user_id, campaign_id, day, step_id, position, sent, segments)
        SELECT w.user_id, w.campaign_id, w.day, w.sid, w.position, count(*), sum((w.r).segments)
          FROM sending w GROUP BY w.user_id, w.campaign_id, w.day, w.sid, w.position
        ON CONFLICT (user_id, campaign_id, day, step_id)
            DO UPDATE SET sent = d.sent + EXCLUDED.sent, segments = d.segments + EXCLUDED.segments
    ), advanced AS (  -- the last step sent: completed now
        UPDATE twilio.enrollments x
           SET last_position = w.position, anchor_at = now(), last_sent_at = now(), last_error = NULL,
               status = CASE WHEN w.next_sid IS NULL THEN 'completed' ELSE 'active' END,
               next_run_at = w.next_at, finished_at = CASE WHEN w.next_sid IS NULL THEN now() END,
               hold_reason = CASE WHEN w.next_at > w.next_due THEN 'quiet hours' END, updated_at = now()
          FROM sending w
         WHERE x.user_id = w.user_id AND x.id = w.id
    ), settled AS (  -- nothing to send: completed, or opted out
        UPDATE twilio.enrollments x
           SET status = k.outcome, stop_reason = CASE WHEN k.outcome = 'stopped' THEN 'opted_out' END,
               next_run_at = NULL, hold_reason = NULL, finished_at = now(), updated_at = now()
          FROM classified k
         WHERE k.outcome IN ('completed', 'stopped') AND x.user_id = k.user_id AND x.id = k.id
    )
    SELECT count(*)::integer, count(*) FILTER (WHERE k.outcome = 'send')::integer,
           count(*) FILTER (WHERE k.outcome = 'completed')::integer,
           count(*) FILTER (WHERE k.outcome = 'stopped')::integer,
           coalesce(array_agg(k.user_id) FILTER (WHERE k.outcome = 'rest'), '{}'),
           coalesce(array_agg(k.id) FILTER (WHERE k.outcome = 'rest'), '{}')
      FROM classified k
$$;

-- One pass over at most max_rows due enrollments. Bad data never stops it: an enrollment whose step cannot be
-- rendered or enqueued is stopped as failed with the reason; one whose sender is missing (no account connected,
-- settings disabled) is held and retried in 5 minutes, with the reason in hold_reason. The batch statement does
-- the common case set-based; the rest go row by row, each in a subtransaction. Should the batch statement itself
-- fail (data no check foresaw, such as a time zone PostgreSQL no longer knows), its claims are undone and the
-- whole pass goes row by row, so that the bad row fails alone.
CREATE FUNCTION twilio.drip_tick(max_rows integer DEFAULT 500,
                                 OUT claimed integer, OUT sent integer, OUT completed integer, OUT waiting integer,
                                 OUT held integer, OUT stopped integer, OUT failed integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rest_users uuid[];
    rest_ids uuid[];
    e twilio.enrollments;
    outcome text;
    why text;
BEGIN
    IF max_rows IS NULL OR max_rows NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'max_rows must be 1 to 100000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    waiting := 0; held := 0; failed := 0;
    BEGIN
        SELECT b.claimed, b.sent, b.completed, b.stopped, b.rest_users, b.rest_ids
          INTO STRICT claimed, sent, completed, stopped, rest_users, rest_ids
          FROM twilio._drip_tick_batch(max_rows) b;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS why = MESSAGE_TEXT;
        RAISE WARNING 'drip_tick: the batch statement failed (%); this pass goes row by row', why;
        sent := 0; completed := 0; stopped := 0;
        SELECT count(*), array_agg(x.user_id), array_agg(x.id) INTO claimed, rest_users, rest_ids
          FROM (SELECT y.user_id, y.id FROM twilio.enrollments y
                 WHERE y.status = 'active' AND y.next_run_at <= now()
                 ORDER BY y.next_run_at
                 LIMIT max_rows
                   FOR UPDATE SKIP LOCKED) x;
    END;
    FOR e IN SELECT x.* FROM unnest(rest_users, rest_ids) r(user_id, id)
               JOIN twilio.enrollments x ON x.user_id = r.user_id AND x.id = r.id
    LOOP
        outcome := twilio._drip_tick_one(e);
        sent := sent + (outcome = 'sent')::integer;
        completed := completed + (outcome = 'completed')::integer;
        waiting := waiting + (outcome = 'waiting')::integer;
        held := held + (outcome = 'held')::integer;
        stopped := stopped + (outcome = 'stopped')::integer;
        failed := failed + (outcome = 'failed')::integer;
    END LOOP;
END
$$;
COMMENT ON FUNCTION twilio.drip_tick(integer) IS
    'One pass of drip sending over due enrollments (pg_cron runs it; see twilio.schedule_drips)';

-- The pg_cron job that runs the tick: installed, or changed, under one name. Seconds (1-59) use pg_cron's
-- second-level schedule; whole minutes a */N cron spec.
CREATE FUNCTION twilio.schedule_drips(every interval DEFAULT '10 seconds', max_rows integer DEFAULT 500)
    RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    secs numeric := extract(epoch FROM every);
    spec text;
    job bigint;
BEGIN
    IF max_rows IS NULL OR max_rows NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'max_rows must be 1 to 100000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF secs BETWEEN 1 AND 59 AND secs = trunc(secs) THEN
        spec := secs::integer || ' seconds';
    ELSIF secs BETWEEN 60 AND 3540 AND mod(secs, 60) = 0 THEN
        spec := '*/' || (secs / 60)::integer || ' * * * *';
    ELSE
        RAISE EXCEPTION 'every must be whole seconds from 1 to 59, or whole minutes from 1 to 59 (got %)', every
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF to_regclass('cron.job') IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not installed in this database' USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Add pg_cron to shared_preload_libraries, then CREATE EXTENSION pg_cron in the database '
                   'cron.database_name names.';
    END IF;
    BEGIN
        EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job
            USING 'byo_twilio_drips', spec, format('SELECT twilio.drip_tick(%s)', max_rows);
    EXCEPTION WHEN invalid_parameter_value THEN  -- pg_cron's "invalid schedule": before 1.5, no second schedules
        RAISE EXCEPTION 'pg_cron refused the schedule ''%''', spec USING ERRCODE = 'feature_not_supported',
            HINT = 'Second-level schedules need pg_cron 1.5 or later; use whole minutes, e.g. interval ''1 minute''.';
    END;
    RETURN job;
END
$$;
COMMENT ON FUNCTION twilio.schedule_drips(interval, integer) IS
    'Install or change the pg_cron job byo_twilio_drips that runs twilio.drip_tick; returns its job id';

CREATE FUNCTION twilio.unschedule_drips() RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found_job boolean;
BEGIN
    IF to_regclass('cron.job') IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM cron.job WHERE jobname = $1 AND username = current_user)'
        INTO found_job USING 'byo_twilio_drips';
    IF found_job THEN
        EXECUTE 'SELECT cron.unschedule($1)' USING 'byo_twilio_drips';
    END IF;
    RETURN found_job;
END
$$;
