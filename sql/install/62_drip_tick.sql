------------------------------------------------------------------------------------------------------------------
-- The drip tick: one pass that pg_cron runs (twilio.schedule_drips). It claims due enrollments, writes their next
-- step into the outbox exactly as send_sms / send_conversation_message would for that user, records the step as
-- sent and advances, all in the pass's transaction: a step is sent once, whatever overlaps or crashes.
------------------------------------------------------------------------------------------------------------------

-- Sends one due enrollment's next step, or says why not. Raises on anything the step cannot get past.
CREATE FUNCTION twilio._drip_send_step(e twilio.enrollments, c twilio.campaigns, s twilio.campaign_steps)
    RETURNS uuid
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    body text := twilio._drip_render(s.body_template, e.variables);
    msg_id uuid;
    seg integer;
BEGIN
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

-- One pass over at most max_rows due enrollments. Bad data never stops it: an enrollment whose step cannot be
-- rendered or enqueued is stopped as failed with the reason; one whose sender is missing (no account connected,
-- settings disabled) is held and retried in 5 minutes, with the reason in hold_reason.
CREATE FUNCTION twilio.drip_tick(max_rows integer DEFAULT 500,
                                 OUT claimed integer, OUT sent integer, OUT completed integer, OUT waiting integer,
                                 OUT held integer, OUT stopped integer, OUT failed integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    e twilio.enrollments;
    c twilio.campaigns;
    s twilio.campaign_steps;
    p record;
    why text;
BEGIN
    IF max_rows IS NULL OR max_rows NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'max_rows must be 1 to 100000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    claimed := 0; sent := 0; completed := 0; waiting := 0; held := 0; stopped := 0; failed := 0;
    -- Rows another pass holds are skipped; a row it already advanced no longer qualifies when rechecked.
    FOR e IN SELECT * FROM twilio.enrollments x
              WHERE x.status = 'active' AND x.next_run_at <= now()
              ORDER BY x.next_run_at
              LIMIT max_rows
                FOR UPDATE SKIP LOCKED
    LOOP
        claimed := claimed + 1;
        SELECT * INTO c FROM twilio.campaigns x WHERE x.user_id = e.user_id AND x.id = e.campaign_id;
        SELECT * INTO p FROM twilio._drip_plan(e, c);
        IF p.step_id IS NULL THEN
            UPDATE twilio.enrollments x SET status = 'completed', next_run_at = NULL, hold_reason = NULL,
                                             finished_at = now()
             WHERE x.user_id = e.user_id AND x.id = e.id;
            completed := completed + 1;
            CONTINUE;
        END IF;
        IF p.allowed_at > now() THEN  -- the plan moved (a step edited, quiet hours changed): wait for it
            UPDATE twilio.enrollments x
               SET next_run_at = p.allowed_at, hold_reason = CASE WHEN p.allowed_at > p.due_at THEN 'quiet hours' END
             WHERE x.user_id = e.user_id AND x.id = e.id;
            waiting := waiting + 1;
            CONTINUE;
        END IF;
        IF EXISTS (SELECT 1 FROM twilio.opt_outs o WHERE o.user_id = e.user_id AND o.phone = e.phone) THEN
            UPDATE twilio.enrollments x
               SET status = 'stopped', stop_reason = 'opted_out', next_run_at = NULL, hold_reason = NULL,
                   finished_at = now()
             WHERE x.user_id = e.user_id AND x.id = e.id;
            stopped := stopped + 1;
            CONTINUE;
        END IF;
        SELECT * INTO s FROM twilio.campaign_steps x WHERE x.user_id = e.user_id AND x.id = p.step_id;
        BEGIN
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
            sent := sent + 1;
        EXCEPTION
            WHEN object_not_in_prerequisite_state THEN  -- the sender: not connected, disabled, incomplete
                GET STACKED DIAGNOSTICS why = MESSAGE_TEXT;
                UPDATE twilio.enrollments x SET next_run_at = now() + interval '5 minutes', hold_reason = why
                 WHERE x.user_id = e.user_id AND x.id = e.id;
                held := held + 1;
            WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS why = MESSAGE_TEXT;
                UPDATE twilio.enrollments x
                   SET status = 'stopped', stop_reason = 'failed', next_run_at = NULL, hold_reason = NULL,
                       last_error = format('step %s: %s (SQLSTATE %s)', s.position, why, SQLSTATE),
                       finished_at = now()
                 WHERE x.user_id = e.user_id AND x.id = e.id;
                failed := failed + 1;
        END;
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
