------------------------------------------------------------------------------------------------------------------
-- Power dialer, part 1 (docs/dialer.md): each user's dialer settings, do-not-call list and queue of manual actions
-- (calls, texts, follow-ups), worked through with next/complete/skip/release. Users read their rows under RLS and
-- write through the functions below (do-not-call entries also by hand); 71_dialer_calls.sql places the calls.
------------------------------------------------------------------------------------------------------------------

CREATE TABLE twilio.dialer_settings (
    user_id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    agent_phone text CHECK (agent_phone ~ '^\+[1-9][0-9]{1,14}$'),  -- the phone Twilio rings first
    -- Local to each lead: a call may start from calling_hours_start up to (not including) calling_hours_end.
    calling_hours_start time NOT NULL DEFAULT '08:00',
    calling_hours_end time NOT NULL DEFAULT '21:00',
    default_time_zone text CHECK (default_time_zone ~ '^([A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)+|UTC)$'),
    auto_advance boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (calling_hours_start < calling_hours_end)
);

-- Numbers a user must not call: added by hand, or by completing a call with the outcome 'do_not_call'.
CREATE TABLE twilio.do_not_call (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    phone text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{1,14}$'),
    source text NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'call_outcome')),
    reason text CHECK (char_length(reason) <= 500),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, phone)
);

-- A user's queue. status: open -> in_progress (claimed by next_action or a dial) -> done | skipped; a call whose
-- agent never answered puts it back to open; failed when its call could not be placed at all.
CREATE TABLE twilio.manual_actions (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT twilio._uuid_v7(),
    kind text NOT NULL CHECK (kind IN ('call', 'text', 'follow_up')),
    lead_id uuid,
    phone text CHECK (phone ~ '^\+[1-9][0-9]{1,14}$'),
    time_zone text CHECK (time_zone ~ '^([A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)+|UTC)$'),  -- the lead's
    title text NOT NULL CHECK (btrim(title) <> '' AND char_length(title) <= 200),
    notes text CHECK (char_length(notes) <= 4000),
    due_at timestamptz NOT NULL DEFAULT now(),
    priority integer NOT NULL DEFAULT 0,  -- higher first
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'done', 'skipped', 'failed')),
    outcome text CHECK (outcome IN ('connected', 'no_answer', 'busy', 'voicemail', 'failed', 'canceled',
                                    'agent_unreachable', 'wrong_number', 'do_not_call', 'not_interested',
                                    'callback', 'sent', 'other')),
    source text NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'bulk', 'drip')),
    enrollment_id uuid,     -- drips: the enrollment and step that queued it
    step_position integer,
    call_id uuid,           -- the latest call placed for it (twilio.voice_calls.id, agent leg)
    claimed_at timestamptz,
    completed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    CHECK (kind = 'follow_up' OR phone IS NOT NULL)
);
-- next_action's claim walks this in its order and stops at the first due row.
CREATE INDEX manual_actions_open ON twilio.manual_actions (user_id, priority DESC, due_at, id) WHERE status = 'open';
CREATE INDEX manual_actions_in_progress ON twilio.manual_actions (user_id, claimed_at) WHERE status = 'in_progress';
-- A drip step queues its action once, whatever retries the tick makes.
CREATE UNIQUE INDEX manual_actions_drip_step ON twilio.manual_actions (user_id, enrollment_id, step_position)
    WHERE enrollment_id IS NOT NULL;

CREATE TRIGGER dialer_settings_updated_at BEFORE UPDATE ON twilio.dialer_settings
    FOR EACH ROW EXECUTE FUNCTION twilio._touch_updated_at();
CREATE TRIGGER manual_actions_updated_at BEFORE UPDATE ON twilio.manual_actions
    FOR EACH ROW EXECUTE FUNCTION twilio._touch_updated_at();

SELECT pg_catalog.pg_extension_config_dump('twilio.dialer_settings', '');
SELECT pg_catalog.pg_extension_config_dump('twilio.do_not_call', '');
SELECT pg_catalog.pg_extension_config_dump('twilio.manual_actions', '');

ALTER TABLE twilio.dialer_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio.do_not_call ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio.manual_actions ENABLE ROW LEVEL SECURITY;
CREATE POLICY dialer_settings_select_own ON twilio.dialer_settings FOR SELECT TO authenticated
    USING (user_id = auth.uid());
CREATE POLICY do_not_call_select_own ON twilio.do_not_call FOR SELECT TO authenticated USING (user_id = auth.uid());
-- A user adds and removes their own manual entries; an entry made by a call's outcome stays until removed by an
-- operator, as an opt-out does.
CREATE POLICY do_not_call_insert_own ON twilio.do_not_call FOR INSERT TO authenticated
    WITH CHECK (user_id = auth.uid() AND source = 'manual');
CREATE POLICY do_not_call_delete_own_manual ON twilio.do_not_call FOR DELETE TO authenticated
    USING (user_id = auth.uid() AND source = 'manual');
CREATE POLICY manual_actions_select_own ON twilio.manual_actions FOR SELECT TO authenticated
    USING (user_id = auth.uid());
REVOKE ALL ON twilio.dialer_settings, twilio.do_not_call, twilio.manual_actions FROM PUBLIC;
GRANT SELECT ON twilio.dialer_settings, twilio.manual_actions TO authenticated, service_role;
GRANT SELECT, INSERT, DELETE ON twilio.do_not_call TO authenticated, service_role;

------------------------------------------------------------------------------------------------------------------
-- Settings
------------------------------------------------------------------------------------------------------------------

-- The user's settings, or the defaults (updated_at NULL) when they never saved any.
CREATE FUNCTION twilio._dialer_settings_of(uid uuid) RETURNS twilio.dialer_settings
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT s FROM twilio.dialer_settings s WHERE s.user_id = uid),
                    ROW(uid, NULL, '08:00', '21:00', NULL, true, NULL)::twilio.dialer_settings)
$$;

CREATE FUNCTION twilio.get_dialer_settings() RETURNS twilio.dialer_settings
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN twilio._dialer_settings_of(twilio._require_user());
COMMENT ON FUNCTION twilio.get_dialer_settings() IS
    'The caller''s dialer settings (the defaults, with updated_at NULL, when never saved)';

-- NULL keeps a setting; '' clears agent_phone or default_time_zone.
CREATE FUNCTION twilio.save_dialer_settings(agent_phone text DEFAULT NULL, calling_hours_start time DEFAULT NULL,
                                            calling_hours_end time DEFAULT NULL, default_time_zone text DEFAULT NULL,
                                            auto_advance boolean DEFAULT NULL) RETURNS twilio.dialer_settings
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    s twilio.dialer_settings := twilio._dialer_settings_of(uid);
BEGIN
    IF agent_phone IS NOT NULL THEN
        s.agent_phone := CASE WHEN btrim(agent_phone) = '' THEN NULL
                              ELSE twilio._require_e164('agent_phone', btrim(agent_phone)) END;
    END IF;
    IF default_time_zone IS NOT NULL THEN
        s.default_time_zone := CASE WHEN btrim(default_time_zone) = '' THEN NULL
                                    ELSE twilio._require_time_zone(btrim(default_time_zone)) END;
    END IF;
    s.calling_hours_start := coalesce(calling_hours_start, s.calling_hours_start);
    s.calling_hours_end := coalesce(calling_hours_end, s.calling_hours_end);
    s.auto_advance := coalesce(auto_advance, s.auto_advance);
    IF s.calling_hours_start >= s.calling_hours_end THEN
        RAISE EXCEPTION 'calling hours must start before they end (got % to %)',
                        to_char(s.calling_hours_start, 'HH24:MI'), to_char(s.calling_hours_end, 'HH24:MI')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The window is local to each lead and cannot wrap past midnight, e.g. 08:00 to 21:00.';
    END IF;
    INSERT INTO twilio.dialer_settings AS d (user_id, agent_phone, calling_hours_start, calling_hours_end,
                                             default_time_zone, auto_advance)
    VALUES (uid, s.agent_phone, s.calling_hours_start, s.calling_hours_end, s.default_time_zone, s.auto_advance)
    ON CONFLICT (user_id) DO UPDATE
        SET agent_phone = EXCLUDED.agent_phone, calling_hours_start = EXCLUDED.calling_hours_start,
            calling_hours_end = EXCLUDED.calling_hours_end, default_time_zone = EXCLUDED.default_time_zone,
            auto_advance = EXCLUDED.auto_advance
    RETURNING * INTO s;
    RETURN s;
END
$$;
COMMENT ON FUNCTION twilio.save_dialer_settings(text, time, time, text, boolean) IS
    'Saves the caller''s dialer settings (NULL keeps a value, '''' clears agent_phone or default_time_zone)';

------------------------------------------------------------------------------------------------------------------
-- Actions
------------------------------------------------------------------------------------------------------------------

-- The body of create_action(s) and of a drip's manual-call step; returns the new action's id (for a drip step
-- that already queued one, that one's id).
CREATE FUNCTION twilio._create_action(uid uuid, kind text, title text, phone text, lead_id uuid, due_at timestamptz,
                                      priority integer, notes text, time_zone text, source text DEFAULT 'manual',
                                      enrollment_id uuid DEFAULT NULL, step_position integer DEFAULT NULL)
    RETURNS uuid
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    new_id uuid;
BEGIN
    IF kind IS NULL OR kind NOT IN ('call', 'text', 'follow_up') THEN
        RAISE EXCEPTION 'kind must be ''call'', ''text'' or ''follow_up''' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF title IS NULL OR btrim(title) = '' OR char_length(btrim(title)) > 200 THEN
        RAISE EXCEPTION 'title must have 1 to 200 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF phone IS NULL AND kind <> 'follow_up' THEN
        RAISE EXCEPTION 'a % action needs a phone number', kind USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF phone IS NOT NULL THEN
        PERFORM twilio._require_e164('phone', phone);
    END IF;
    IF char_length(notes) > 4000 THEN
        RAISE EXCEPTION 'notes have % characters; at most 4000 are kept', char_length(notes)
            USING ERRCODE = 'string_data_right_truncation';
    END IF;
    IF time_zone IS NOT NULL THEN
        PERFORM twilio._require_time_zone(time_zone);
    END IF;
    IF source IS NULL OR source NOT IN ('manual', 'bulk', 'drip') THEN
        RAISE EXCEPTION 'source must be ''manual'', ''bulk'' or ''drip''' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF enrollment_id IS NOT NULL THEN
        SELECT a.id INTO new_id FROM twilio.manual_actions a
         WHERE a.user_id = uid AND a.enrollment_id = enrollment_id AND a.step_position = step_position;
        IF FOUND THEN
            RETURN new_id;
        END IF;
    END IF;
    INSERT INTO twilio.manual_actions (user_id, kind, lead_id, phone, time_zone, title, notes, due_at, priority,
                                       source, enrollment_id, step_position)
    VALUES (uid, kind, lead_id, phone, time_zone, btrim(title), notes, coalesce(due_at, now()),
            coalesce(priority, 0), source, enrollment_id, step_position)
    RETURNING id INTO new_id;
    RETURN new_id;
END
$$;

CREATE FUNCTION twilio.create_action(kind text, title text, phone text DEFAULT NULL, lead_id uuid DEFAULT NULL,
                                     due_at timestamptz DEFAULT now(), priority integer DEFAULT 0,
                                     notes text DEFAULT NULL, time_zone text DEFAULT NULL)
    RETURNS twilio.manual_actions
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    new_id uuid := twilio._create_action(uid, kind, title, phone, lead_id, due_at, priority, notes, time_zone,
                                         'manual');
    a twilio.manual_actions;
BEGIN
    SELECT * INTO a FROM twilio.manual_actions m WHERE m.user_id = uid AND m.id = new_id;
    RETURN a;
END
$$;
COMMENT ON FUNCTION twilio.create_action(text, text, text, uuid, timestamptz, integer, text, text) IS
    'Queues a manual action (call, text or follow_up) for the caller';

-- A JSON array of objects with create_action's argument names; all or nothing, and an error names the item.
CREATE FUNCTION twilio.create_actions(actions jsonb) RETURNS SETOF twilio.manual_actions
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    uid uuid := twilio._require_user();
    item jsonb;
    i integer := 0;
    ids uuid[] := '{}';
    unknown text;
    state text;
    msg text;
BEGIN
    IF jsonb_typeof(actions) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'actions must be a JSON array of objects' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_array_length(actions) > 1000 THEN
        RAISE EXCEPTION 'at most 1000 actions per call (got %)', jsonb_array_length(actions)
            USING ERRCODE = 'program_limit_exceeded';
    END IF;
    FOR item IN SELECT value FROM jsonb_array_elements(actions) LOOP
        BEGIN
            IF jsonb_typeof(item) IS DISTINCT FROM 'object' THEN
                RAISE EXCEPTION 'not a JSON object' USING ERRCODE = 'invalid_parameter_value';
            END IF;
            SELECT string_agg(k, ', ') INTO unknown FROM jsonb_object_keys(item) k
             WHERE k NOT IN ('kind', 'title', 'phone', 'lead_id', 'due_at', 'priority', 'notes', 'time_zone');
            IF unknown IS NOT NULL THEN
                RAISE EXCEPTION 'unknown key(s): %', unknown USING ERRCODE = 'invalid_parameter_value',
                    HINT = 'Keys are kind, title, phone, lead_id, due_at, priority, notes and time_zone.';
            END IF;
            ids := ids || twilio._create_action(uid, item ->> 'kind', item ->> 'title', item ->> 'phone',
                                                (item ->> 'lead_id')::uuid, (item ->> 'due_at')::timestamptz,
                                                (item ->> 'priority')::integer, item ->> 'notes',
                                                item ->> 'time_zone', 'bulk');
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            RAISE EXCEPTION 'actions[%]: %', i, msg USING ERRCODE = state;
        END;
        i := i + 1;
    END LOOP;
    RETURN QUERY SELECT a.* FROM unnest(ids) WITH ORDINALITY AS n(id, ord)
                  JOIN twilio.manual_actions a ON a.user_id = uid AND a.id = n.id
                 ORDER BY n.ord;
END
$$;
COMMENT ON FUNCTION twilio.create_actions(jsonb) IS
    'Queues many manual actions for the caller from a JSON array (all or nothing; errors name actions[i])';

CREATE FUNCTION twilio._require_action(uid uuid, action_id uuid) RETURNS twilio.manual_actions
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a twilio.manual_actions;
BEGIN
    SELECT * INTO a FROM twilio.manual_actions m WHERE m.user_id = uid AND m.id = action_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'manual action % not found', action_id USING ERRCODE = 'no_data_found';
    END IF;
    RETURN a;
END
$$;

-- A call of the action's still going on (either leg).
CREATE FUNCTION twilio._action_has_live_call(uid uuid, action_id uuid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
RETURN EXISTS (SELECT 1 FROM twilio.voice_calls v
                WHERE v.user_id = uid AND v.action_id = _action_has_live_call.action_id
                  AND v.status IN ('queued', 'initiated', 'ringing', 'in-progress'));

-- The user's current action: in progress, and not a claim abandoned over 30 minutes ago without a live call.
CREATE FUNCTION twilio._current_action(uid uuid) RETURNS SETOF twilio.manual_actions
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM twilio.manual_actions a
     WHERE a.user_id = uid AND a.status = 'in_progress'
       AND (a.claimed_at > now() - interval '30 minutes' OR twilio._action_has_live_call(uid, a.id))
     ORDER BY a.claimed_at DESC, a.id DESC
     LIMIT 1
$$;

-- The current action, else the next due open one, claimed. One user's calls take turns (two tabs get the same
-- action); SKIP LOCKED passes over an action another transaction is completing or dialing.
CREATE FUNCTION twilio._next_action(uid uuid) RETURNS SETOF twilio.manual_actions
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('byo_twilio.dialer:' || uid::text, 0));
    UPDATE twilio.manual_actions a SET status = 'open', claimed_at = NULL
     WHERE a.user_id = uid
       AND a.id IN (SELECT s.id FROM twilio.manual_actions s
                     WHERE s.user_id = uid AND s.status = 'in_progress'
                       AND s.claimed_at <= now() - interval '30 minutes'
                       AND NOT twilio._action_has_live_call(uid, s.id)
                       FOR UPDATE SKIP LOCKED);
    RETURN QUERY SELECT * FROM twilio._current_action(uid);
    IF FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY
    UPDATE twilio.manual_actions a SET status = 'in_progress', claimed_at = now()
     WHERE a.user_id = uid
       AND a.id = (SELECT o.id FROM twilio.manual_actions o
                    WHERE o.user_id = uid AND o.status = 'open' AND o.due_at <= now()
                    ORDER BY o.priority DESC, o.due_at, o.id
                    LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING *;
END
$$;

CREATE FUNCTION twilio.next_action() RETURNS SETOF twilio.manual_actions
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM twilio._next_action(twilio._require_user())
$$;
COMMENT ON FUNCTION twilio.next_action() IS
    'The caller''s current action, else their next due open action, claimed (no row: nothing is due)';

CREATE FUNCTION twilio.current_action() RETURNS SETOF twilio.manual_actions
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM twilio._current_action(twilio._require_user())
$$;
COMMENT ON FUNCTION twilio.current_action() IS 'The caller''s action in progress, if any (claims nothing)';

-- What auto-advance hands back after an action is finished: the next action when the user asked for it.
CREATE FUNCTION twilio._advance(uid uuid) RETURNS SETOF twilio.manual_actions
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF (twilio._dialer_settings_of(uid)).auto_advance THEN
        RETURN QUERY SELECT * FROM twilio._next_action(uid);
    END IF;
END
$$;

-- Finishes an open, in-progress or failed action as done (with an outcome) or skipped; notes are appended. An action
-- already done (by the user, or by its call's end) takes a new outcome: the user records what the call achieved.
-- Skipped is final. An amended outcome's completed_at is the amendment's time, so a lead leg that ends late no
-- longer corrects it (_apply_call_status corrects only the outcome the agent leg's end set).
CREATE FUNCTION twilio._finish_action(uid uuid, action_id uuid, new_status text, outcome text, notes text)
    RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    a twilio.manual_actions;
    merged text;
BEGIN
    IF new_status = 'done' AND (outcome IS NULL OR outcome NOT IN (
            'connected', 'no_answer', 'busy', 'voicemail', 'failed', 'canceled', 'agent_unreachable', 'wrong_number',
            'do_not_call', 'not_interested', 'callback', 'sent', 'other')) THEN
        RAISE EXCEPTION 'unknown outcome %', coalesce(quote_literal(outcome), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'One of connected, no_answer, busy, voicemail, failed, canceled, agent_unreachable, '
                         'wrong_number, do_not_call, not_interested, callback, sent, other.';
    END IF;
    a := twilio._require_action(uid, action_id);
    IF a.status = 'skipped' OR (a.status = 'done' AND new_status <> 'done') THEN
        RAISE EXCEPTION 'manual action % is already %', action_id, a.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    merged := CASE WHEN nullif(btrim(notes), '') IS NULL THEN a.notes
                   WHEN a.notes IS NULL THEN notes
                   ELSE a.notes || E'\n' || notes END;
    IF char_length(merged) > 4000 THEN
        RAISE EXCEPTION 'the action''s notes would have % characters; at most 4000 are kept', char_length(merged)
            USING ERRCODE = 'string_data_right_truncation';
    END IF;
    IF outcome = 'do_not_call' THEN
        IF a.phone IS NULL THEN
            RAISE EXCEPTION 'manual action % has no phone number to put on the do-not-call list', action_id
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        INSERT INTO twilio.do_not_call (user_id, phone, source, reason)
        VALUES (uid, a.phone, 'call_outcome', left('outcome of: ' || a.title, 500))
        ON CONFLICT (user_id, phone) DO NOTHING;
    END IF;
    UPDATE twilio.manual_actions m
       SET status = new_status, outcome = CASE WHEN new_status = 'done' THEN outcome END, notes = merged,
           completed_at = now()
     WHERE m.user_id = uid AND m.id = a.id;
END
$$;

-- Completing an action already done amends it and hands back the current action as it is: the queue advanced
-- when the action was first finished, so nothing more is claimed.
CREATE FUNCTION twilio.complete_action(action_id uuid, outcome text, notes text DEFAULT NULL)
    RETURNS SETOF twilio.manual_actions
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    was text;
BEGIN
    SELECT m.status INTO was FROM twilio.manual_actions m WHERE m.user_id = uid AND m.id = action_id FOR UPDATE;
    PERFORM twilio._finish_action(uid, action_id, 'done', outcome, notes);
    IF was = 'done' THEN
        RETURN QUERY SELECT * FROM twilio._current_action(uid);
    ELSE
        RETURN QUERY SELECT * FROM twilio._advance(uid);
    END IF;
END
$$;
COMMENT ON FUNCTION twilio.complete_action(uuid, text, text) IS
    'Marks the caller''s action done with an outcome and returns the next action (claimed) when auto_advance is on; '
    'on an action already done, amends its outcome and returns the current action';

CREATE FUNCTION twilio.skip_action(action_id uuid, notes text DEFAULT NULL) RETURNS SETOF twilio.manual_actions
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    uid uuid := twilio._require_user();
BEGIN
    PERFORM twilio._finish_action(uid, action_id, 'skipped', NULL, notes);
    RETURN QUERY SELECT * FROM twilio._advance(uid);
END
$$;
COMMENT ON FUNCTION twilio.skip_action(uuid, text) IS
    'Skips the caller''s action; returns the next action (claimed) when auto_advance is on';

CREATE FUNCTION twilio.release_action(action_id uuid) RETURNS twilio.manual_actions
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    a twilio.manual_actions := twilio._require_action(uid, action_id);
BEGIN
    IF a.status NOT IN ('open', 'in_progress') THEN
        RAISE EXCEPTION 'manual action % is %; only an open or in-progress action can be released', action_id, a.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF twilio._action_has_live_call(uid, a.id) THEN
        RAISE EXCEPTION 'manual action % has a call going on' , action_id
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Release it when the call has ended.';
    END IF;
    UPDATE twilio.manual_actions m SET status = 'open', claimed_at = NULL
     WHERE m.user_id = uid AND m.id = a.id
    RETURNING * INTO a;
    RETURN a;
END
$$;
COMMENT ON FUNCTION twilio.release_action(uuid) IS 'Puts the caller''s claimed action back in the queue';

------------------------------------------------------------------------------------------------------------------
-- Who may call the queue functions (90_privileges.sql revokes from PUBLIC; repeated here so the update script
-- that copies this part grants the same).
------------------------------------------------------------------------------------------------------------------
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA twilio FROM PUBLIC;
GRANT EXECUTE ON FUNCTION twilio.get_dialer_settings(), twilio.save_dialer_settings(text, time, time, text, boolean),
                          twilio.create_action(text, text, text, uuid, timestamptz, integer, text, text),
                          twilio.create_actions(jsonb), twilio.next_action(), twilio.current_action(),
                          twilio.complete_action(uuid, text, text), twilio.skip_action(uuid, text),
                          twilio.release_action(uuid)
    TO authenticated;
