------------------------------------------------------------------------------------------------------------------
-- Drip campaigns: the SQL API, as the calling user (auth.uid()); every function acts on the caller's rows only.
------------------------------------------------------------------------------------------------------------------

CREATE FUNCTION twilio._require_campaign(uid uuid, cid uuid) RETURNS twilio.campaigns
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c twilio.campaigns;
BEGIN
    SELECT * INTO c FROM twilio.campaigns x WHERE x.user_id = uid AND x.id = cid FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'campaign not found' USING ERRCODE = 'no_data_found';
    END IF;
    RETURN c;
END
$$;

CREATE FUNCTION twilio._require_channel(channel text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF channel IS NULL OR channel NOT IN ('sms', 'conversation') THEN
        RAISE EXCEPTION 'channel must be ''sms'' or ''conversation''' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN channel;
END
$$;

CREATE FUNCTION twilio.create_campaign(name text, channel text DEFAULT 'sms', time_zone text DEFAULT 'UTC',
                                       stop_on_reply boolean DEFAULT true) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    cid uuid;
BEGIN
    IF name IS NULL OR btrim(name) = '' OR char_length(name) > 200 THEN
        RAISE EXCEPTION 'campaign name must have 1 to 200 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO twilio.campaigns (user_id, name, channel, time_zone, stop_on_reply)
    VALUES (uid, btrim(name), twilio._require_channel(channel), twilio._require_time_zone(time_zone),
            coalesce(stop_on_reply, true))
    RETURNING id INTO cid;
    RETURN cid;
END
$$;
COMMENT ON FUNCTION twilio.create_campaign(text, text, text, boolean) IS
    'A new draft campaign of the caller''s; add steps, then activate_campaign';

-- NULL leaves a setting as it is.
CREATE FUNCTION twilio.update_campaign(campaign_id uuid, name text DEFAULT NULL, channel text DEFAULT NULL,
                                       time_zone text DEFAULT NULL, stop_on_reply boolean DEFAULT NULL)
    RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    c twilio.campaigns := twilio._require_campaign(uid, campaign_id);
BEGIN
    IF name IS NOT NULL AND (btrim(name) = '' OR char_length(name) > 200) THEN
        RAISE EXCEPTION 'campaign name must have 1 to 200 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE twilio.campaigns x
       SET name = coalesce(btrim(name), x.name),
           channel = CASE WHEN channel IS NULL THEN x.channel ELSE twilio._require_channel(channel) END,
           time_zone = CASE WHEN time_zone IS NULL THEN x.time_zone ELSE twilio._require_time_zone(time_zone) END,
           stop_on_reply = coalesce(stop_on_reply, x.stop_on_reply)
     WHERE x.user_id = uid AND x.id = c.id;
END
$$;

-- Quiet hours: no texts between quiet_start and quiet_end (local to each contact; NULL for none), nor on
-- quiet_days (ISO day numbers, 1 = Monday).
CREATE FUNCTION twilio.set_quiet_hours(campaign_id uuid, quiet_start time, quiet_end time,
                                       quiet_days integer[] DEFAULT '{}') RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    c twilio.campaigns := twilio._require_campaign(uid, campaign_id);
BEGIN
    IF (quiet_start IS NULL) <> (quiet_end IS NULL) OR quiet_start = quiet_end THEN
        RAISE EXCEPTION 'quiet hours need both a start and a different end (or neither)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT coalesce(quiet_days, '{}') <@ '{1,2,3,4,5,6,7}' OR cardinality(array(SELECT DISTINCT unnest(quiet_days))) > 6 THEN
        RAISE EXCEPTION 'quiet_days must be ISO day numbers (1 = Monday ... 7 = Sunday), leaving at least one day'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE twilio.campaigns x
       SET quiet_start = quiet_start, quiet_end = quiet_end,
           quiet_days = array(SELECT DISTINCT d FROM unnest(coalesce(quiet_days, '{}')) d ORDER BY d)
     WHERE x.user_id = uid AND x.id = c.id;
    PERFORM twilio._drip_replan(uid, c.id);
END
$$;

-- Moves a campaign's enrollments with it: held while it is paused (or a draft), on again when it is active.
CREATE FUNCTION twilio._set_campaign_status(uid uuid, cid uuid, allowed_from text[], new_status text) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c twilio.campaigns := twilio._require_campaign(uid, cid);
BEGIN
    IF NOT c.status = ANY (allowed_from) THEN
        RAISE EXCEPTION 'the campaign is %; only a campaign that is % can become %', c.status,
                        array_to_string(allowed_from, ' or '), new_status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF new_status = 'active' AND NOT EXISTS (SELECT 1 FROM twilio.campaign_steps s
                                              WHERE s.user_id = uid AND s.campaign_id = cid) THEN
        RAISE EXCEPTION 'the campaign has no steps' USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Add one with twilio.add_step(...).';
    END IF;
    UPDATE twilio.campaigns x SET status = new_status WHERE x.user_id = uid AND x.id = cid;
    IF new_status = 'active' THEN
        UPDATE twilio.enrollments e SET status = 'active', pause_reason = NULL, next_run_at = now()
         WHERE e.user_id = uid AND e.campaign_id = cid AND e.status = 'paused'
           AND e.pause_reason IN ('campaign_paused', 'campaign_draft');
        PERFORM twilio._drip_replan(uid, cid);
    ELSIF new_status = 'paused' THEN
        UPDATE twilio.enrollments e SET status = 'paused', pause_reason = 'campaign_paused', next_run_at = NULL
         WHERE e.user_id = uid AND e.campaign_id = cid AND e.status = 'active';
    ELSIF new_status = 'archived' THEN
        UPDATE twilio.enrollments e
           SET status = 'stopped', stop_reason = 'campaign_archived', pause_reason = NULL, next_run_at = NULL,
               hold_reason = NULL, finished_at = now()
         WHERE e.user_id = uid AND e.campaign_id = cid AND e.status IN ('active', 'paused');
    END IF;
END
$$;

CREATE FUNCTION twilio.activate_campaign(campaign_id uuid) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN twilio._set_campaign_status(twilio._require_user(), campaign_id, '{draft}', 'active');
CREATE FUNCTION twilio.pause_campaign(campaign_id uuid) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN twilio._set_campaign_status(twilio._require_user(), campaign_id, '{active}', 'paused');
CREATE FUNCTION twilio.resume_campaign(campaign_id uuid) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN twilio._set_campaign_status(twilio._require_user(), campaign_id, '{paused}', 'active');
CREATE FUNCTION twilio.archive_campaign(campaign_id uuid) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN twilio._set_campaign_status(twilio._require_user(), campaign_id, '{draft,active,paused}', 'archived');

------------------------------------------------------------------------------------------------------------------
-- Steps. Editing a step of an active campaign is allowed: enrollments that already sent it are not affected;
-- the others are re-planned.
------------------------------------------------------------------------------------------------------------------

CREATE FUNCTION twilio._check_step(body text, delay interval, on_day integer, at_local_time time, channel text)
    RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM twilio._require_body(body);
    PERFORM twilio._drip_required_variables(body);  -- raises on a malformed template
    IF (delay IS NULL) = (on_day IS NULL OR at_local_time IS NULL) OR (on_day IS NULL) <> (at_local_time IS NULL) THEN
        RAISE EXCEPTION 'a step needs either a delay, or on_day with at_local_time'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF delay < interval '0' OR on_day NOT BETWEEN 0 AND 3650 THEN
        RAISE EXCEPTION 'a step''s delay must not be negative, and on_day must be 0 to 3650'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF channel NOT IN ('sms', 'conversation', 'manual_call') THEN  -- manual_call: queue a call (docs/dialer.md)
        RAISE EXCEPTION 'a step''s channel must be ''sms'', ''conversation'' or ''manual_call'''
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- position NULL: after the last step.
CREATE FUNCTION twilio.add_step(campaign_id uuid, body text, delay interval DEFAULT NULL,
                                "position" integer DEFAULT NULL, on_day integer DEFAULT NULL,
                                at_local_time time DEFAULT NULL, channel text DEFAULT NULL) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    c twilio.campaigns := twilio._require_campaign(uid, campaign_id);
    pos integer := position;
    sid uuid;
BEGIN
    IF c.status = 'archived' THEN
        RAISE EXCEPTION 'the campaign is archived' USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF delay IS NULL AND on_day IS NULL THEN
        delay := interval '0';
    END IF;
    PERFORM twilio._check_step(body, delay, on_day, at_local_time, channel);
    IF pos IS NULL THEN
        SELECT coalesce(max(s.position), 0) + 1 INTO pos FROM twilio.campaign_steps s
         WHERE s.user_id = uid AND s.campaign_id = c.id;
    ELSIF pos NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'position must be 1 to 1000' USING ERRCODE = 'invalid_parameter_value';
    ELSIF EXISTS (SELECT 1 FROM twilio.campaign_steps s WHERE s.user_id = uid AND s.campaign_id = c.id
                                                         AND s.position = pos) THEN
        RAISE EXCEPTION 'the campaign already has a step at position %', pos USING ERRCODE = 'unique_violation';
    END IF;
    INSERT INTO twilio.campaign_steps (user_id, campaign_id, position, delay, on_day, at_local_time, body_template,
                                       channel)
    VALUES (uid, c.id, pos, delay, on_day, at_local_time, body, channel)
    RETURNING id INTO sid;
    PERFORM twilio._drip_replan(uid, c.id);
    RETURN sid;
END
$$;

-- NULL leaves a field as it is; a delay replaces on_day/at_local_time and the other way round; channel '' goes
-- back to the campaign's.
CREATE FUNCTION twilio.update_step(step_id uuid, body text DEFAULT NULL, delay interval DEFAULT NULL,
                                   on_day integer DEFAULT NULL, at_local_time time DEFAULT NULL,
                                   channel text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    s twilio.campaign_steps;
BEGIN
    SELECT * INTO s FROM twilio.campaign_steps x WHERE x.user_id = uid AND x.id = step_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'step not found' USING ERRCODE = 'no_data_found';
    END IF;
    IF delay IS NOT NULL THEN
        s.delay := delay; s.on_day := NULL; s.at_local_time := NULL;
    ELSIF on_day IS NOT NULL OR at_local_time IS NOT NULL THEN
        s.delay := NULL; s.on_day := coalesce(on_day, s.on_day); s.at_local_time := coalesce(at_local_time, s.at_local_time);
    END IF;
    s.body_template := coalesce(body, s.body_template);
    s.channel := CASE WHEN channel IS NULL THEN s.channel ELSE nullif(channel, '') END;
    PERFORM twilio._check_step(s.body_template, s.delay, s.on_day, s.at_local_time, s.channel);
    UPDATE twilio.campaign_steps x
       SET body_template = s.body_template, delay = s.delay, on_day = s.on_day, at_local_time = s.at_local_time,
           channel = s.channel
     WHERE x.user_id = uid AND x.id = s.id;
    PERFORM twilio._drip_replan(uid, s.campaign_id);
END
$$;

CREATE FUNCTION twilio.delete_step(step_id uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    cid uuid;
BEGIN
    DELETE FROM twilio.campaign_steps x WHERE x.user_id = uid AND x.id = step_id RETURNING x.campaign_id INTO cid;
    IF cid IS NULL THEN
        RETURN false;
    END IF;
    PERFORM twilio._drip_replan(uid, cid);
    RETURN true;
END
$$;

------------------------------------------------------------------------------------------------------------------
-- Preview: what a contact would receive, and what it costs in SMS segments.
------------------------------------------------------------------------------------------------------------------

CREATE FUNCTION twilio.preview(template text, variables jsonb DEFAULT '{}',
                               OUT body text, OUT characters integer, OUT segments integer, OUT encoding text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    seg record;
BEGIN
    PERFORM twilio._require_user();
    IF template IS NULL THEN
        RAISE EXCEPTION 'template is required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    body := twilio._require_body(twilio._drip_render(template, coalesce(variables, '{}')));
    seg := twilio._sms_segments(body);
    characters := char_length(body);
    segments := seg.segments;
    encoding := seg.encoding;
END
$$;

CREATE FUNCTION twilio.preview_step(step_id uuid, variables jsonb DEFAULT '{}',
                                    OUT body text, OUT characters integer, OUT segments integer, OUT encoding text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    tmpl text;
BEGIN
    SELECT s.body_template INTO tmpl FROM twilio.campaign_steps s
     WHERE s.user_id = twilio._require_user() AND s.id = step_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'step not found' USING ERRCODE = 'no_data_found';
    END IF;
    SELECT * INTO body, characters, segments, encoding FROM twilio.preview(tmpl, variables);
END
$$;

------------------------------------------------------------------------------------------------------------------
-- Enrollments
------------------------------------------------------------------------------------------------------------------

-- One enrollment of the caller's, checked as the tick will send it: phone, zone, every step renders with these
-- variables, a lead for Conversations, not opted out. An ongoing enrollment of this phone is returned as it is.
-- outcome: enrolled | already_enrolled | opted_out (then no id; enroll raises instead).
CREATE FUNCTION twilio._enroll(uid uuid, c twilio.campaigns, lead uuid, phone_number text, zone text,
                               vars_in jsonb, OUT enrollment_id uuid, OUT outcome text)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    vars jsonb := coalesce(vars_in, '{}');
    tz text := twilio._require_time_zone(coalesce(zone, c.time_zone));
    s twilio.campaign_steps;
    e twilio.enrollments;
BEGIN
    PERFORM twilio._require_e164('phone', phone_number);
    IF jsonb_typeof(vars) <> 'object' THEN
        RAISE EXCEPTION 'variables must be a JSON object' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'For example {"first_name": "Ada"}.';
    END IF;
    IF c.status = 'archived' THEN
        RAISE EXCEPTION 'the campaign is archived' USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    FOR s IN SELECT * FROM twilio.campaign_steps x WHERE x.user_id = uid AND x.campaign_id = c.id ORDER BY x.position
    LOOP
        PERFORM twilio._drip_render(s.body_template, vars);  -- a missing variable: 22004, naming it
        IF lead IS NULL AND coalesce(s.channel, c.channel) = 'conversation' THEN
            RAISE EXCEPTION 'step % sends a Conversations message: the enrollment needs a lead_id', s.position
                USING ERRCODE = 'null_value_not_allowed';
        END IF;
    END LOOP;
    IF lead IS NULL AND c.channel = 'conversation' THEN
        RAISE EXCEPTION 'a Conversations campaign needs a lead_id per enrollment' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF EXISTS (SELECT 1 FROM twilio.opt_outs o WHERE o.user_id = uid AND o.phone = phone_number) THEN
        outcome := 'opted_out';
        RETURN;
    END IF;
    INSERT INTO twilio.enrollments AS x (user_id, campaign_id, lead_id, phone, time_zone, variables, status,
                                         pause_reason, next_run_at)
    VALUES (uid, c.id, lead, phone_number, tz, vars, CASE WHEN c.status = 'active' THEN 'active' ELSE 'paused' END,
            CASE c.status WHEN 'paused' THEN 'campaign_paused' WHEN 'draft' THEN 'campaign_draft' END,
            CASE WHEN c.status = 'active' THEN now() END)
    ON CONFLICT (user_id, phone, campaign_id) WHERE status IN ('active', 'paused') DO NOTHING
    RETURNING * INTO e;
    IF e.id IS NULL THEN
        SELECT x.id INTO enrollment_id FROM twilio.enrollments x
         WHERE x.user_id = uid AND x.phone = phone_number AND x.campaign_id = c.id AND x.status IN ('active', 'paused');
        outcome := 'already_enrolled';
        RETURN;
    END IF;
    PERFORM twilio._drip_replan(uid, c.id, e.id);
    enrollment_id := e.id;
    outcome := 'enrolled';
END
$$;

CREATE FUNCTION twilio.enroll(campaign_id uuid, lead_id uuid, phone text, time_zone text DEFAULT NULL,
                              variables jsonb DEFAULT '{}') RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    uid uuid := twilio._require_user();
    r record;
BEGIN
    r := twilio._enroll(uid, twilio._require_campaign(uid, campaign_id), lead_id, phone, time_zone, variables);
    IF r.outcome = 'opted_out' THEN
        PERFORM twilio._require_not_opted_out(uid, phone);
    END IF;
    RETURN r.enrollment_id;
END
$$;
COMMENT ON FUNCTION twilio.enroll(uuid, uuid, text, text, jsonb) IS
    'Enroll a contact (idempotent: an ongoing enrollment of this phone in the campaign is returned as it is)';

-- A batch: a JSON array of {"phone", "lead_id", "time_zone", "variables"}. All or nothing: an invalid item
-- raises, naming it; opted-out phones are skipped and reported.
CREATE FUNCTION twilio.enroll_many(campaign_id uuid, contacts jsonb)
    RETURNS TABLE (item integer, phone text, enrollment_id uuid, outcome text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    uid uuid := twilio._require_user();
    c twilio.campaigns := twilio._require_campaign(uid, campaign_id);
    x record;
    r record;
BEGIN
    IF jsonb_typeof(contacts) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'contacts must be a JSON array of objects' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'For example [{"phone": "+14155550123", "variables": {"first_name": "Ada"}}].';
    END IF;
    FOR x IN SELECT t.value AS v, t.ordinality::integer AS n FROM jsonb_array_elements(contacts) WITH ORDINALITY t LOOP
        BEGIN
            IF jsonb_typeof(x.v) <> 'object' THEN
                RAISE EXCEPTION 'not a JSON object' USING ERRCODE = 'invalid_parameter_value';
            END IF;
            r := twilio._enroll(uid, c, (x.v ->> 'lead_id')::uuid, x.v ->> 'phone', x.v ->> 'time_zone',
                                x.v -> 'variables');
        EXCEPTION WHEN OTHERS THEN
            DECLARE
                state text; msg text; hint text;
            BEGIN
                GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
                RAISE EXCEPTION 'contact %: %', x.n, msg USING ERRCODE = state, HINT = coalesce(nullif(hint, ''),
                    'Nothing was enrolled: fix this contact and send the batch again.');
            END;
        END;
        item := x.n; phone := x.v ->> 'phone'; enrollment_id := r.enrollment_id; outcome := r.outcome;
        RETURN NEXT;
    END LOOP;
END
$$;

CREATE FUNCTION twilio._require_enrollment(uid uuid, eid uuid) RETURNS twilio.enrollments
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    e twilio.enrollments;
BEGIN
    SELECT * INTO e FROM twilio.enrollments x WHERE x.user_id = uid AND x.id = eid FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'enrollment not found' USING ERRCODE = 'no_data_found';
    END IF;
    RETURN e;
END
$$;

-- Stops an enrollment for good (stop_reason 'unenrolled'); false if it had already ended.
CREATE FUNCTION twilio.unenroll(enrollment_id uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    uid uuid := twilio._require_user();
    e twilio.enrollments := twilio._require_enrollment(uid, enrollment_id);
BEGIN
    UPDATE twilio.enrollments x
       SET status = 'stopped', stop_reason = 'unenrolled', pause_reason = NULL, next_run_at = NULL,
           hold_reason = NULL, finished_at = now()
     WHERE x.user_id = uid AND x.id = e.id AND x.status IN ('active', 'paused');
    RETURN FOUND;
END
$$;

CREATE FUNCTION twilio.pause_enrollment(enrollment_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    uid uuid := twilio._require_user();
    e twilio.enrollments := twilio._require_enrollment(uid, enrollment_id);
BEGIN
    IF e.status NOT IN ('active', 'paused') THEN
        RAISE EXCEPTION 'the enrollment is %', e.status USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE twilio.enrollments x SET status = 'paused', pause_reason = 'paused', next_run_at = NULL
     WHERE x.user_id = uid AND x.id = e.id;
END
$$;

-- Picks up where it left off (a step whose time has passed goes out at the next tick); in a campaign that is
-- not active, it waits for the campaign.
CREATE FUNCTION twilio.resume_enrollment(enrollment_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    uid uuid := twilio._require_user();
    e twilio.enrollments := twilio._require_enrollment(uid, enrollment_id);
    c twilio.campaigns := twilio._require_campaign(uid, e.campaign_id);
BEGIN
    IF e.status NOT IN ('active', 'paused') THEN
        RAISE EXCEPTION 'the enrollment is %', e.status USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF c.status <> 'active' THEN
        UPDATE twilio.enrollments x
           SET status = 'paused', next_run_at = NULL,
               pause_reason = CASE c.status WHEN 'draft' THEN 'campaign_draft' ELSE 'campaign_paused' END
         WHERE x.user_id = uid AND x.id = e.id;
        RETURN;
    END IF;
    UPDATE twilio.enrollments x SET status = 'active', pause_reason = NULL, next_run_at = now()
     WHERE x.user_id = uid AND x.id = e.id AND x.status = 'paused';
    PERFORM twilio._drip_replan(uid, c.id, e.id);
END
$$;
