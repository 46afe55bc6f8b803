-- byo_twilio 0.5.0 -> 0.6.0: the power dialer (docs/dialer.md: manual actions, do-not-call, click-to-call through
-- the outbox) and faster drip ticks (docs/drips.md).
\echo Use "ALTER EXTENSION byo_twilio UPDATE TO '0.6.0'" to load this file. \quit

-- Calls: a row per leg, written before Twilio has the call (call_sid NULL until the dispatcher learns it).
ALTER TABLE twilio.voice_calls
    DROP CONSTRAINT voice_calls_pkey,
    ALTER COLUMN call_sid DROP NOT NULL,
    ADD COLUMN id uuid NOT NULL DEFAULT twilio._uuid_v7(),
    ADD COLUMN leg text NOT NULL DEFAULT 'other' CHECK (leg IN ('agent', 'lead', 'other')),
    ADD COLUMN parent_call_sid text CHECK (parent_call_sid ~ '^CA[0-9a-fA-F]{32}$'),
    ADD COLUMN action_id uuid,
    ADD COLUMN lead_phone text,
    ADD COLUMN account_sid text,
    ADD COLUMN answered_by text,
    ADD COLUMN sip_response_code integer,
    ADD COLUMN error_code integer,
    ADD COLUMN error_message text,
    ADD COLUMN created_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN answered_at timestamptz,
    ADD COLUMN ended_at timestamptz,
    ADD PRIMARY KEY (user_id, id),
    ADD UNIQUE (user_id, call_sid);
-- Calls go through the outbox like every other send.
ALTER TABLE twilio.outbox
    DROP CONSTRAINT outbox_kind_check,
    ADD CONSTRAINT outbox_kind_check
        CHECK (kind IN ('create_conversation', 'send_conversation_message', 'send_sms', 'create_call')),
    ADD COLUMN call_id uuid;

-- Power dialer: queue (70_dialer_queue.sql), calls (71_dialer_calls.sql) and their status callbacks (50_webhooks.sql), as a fresh install has them.
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

-- Finishes an open, in-progress or failed action as done (with an outcome) or skipped; notes are appended.
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
    IF a.status IN ('done', 'skipped') THEN
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

CREATE FUNCTION twilio.complete_action(action_id uuid, outcome text, notes text DEFAULT NULL)
    RETURNS SETOF twilio.manual_actions
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    uid uuid := twilio._require_user();
BEGIN
    PERFORM twilio._finish_action(uid, action_id, 'done', outcome, notes);
    RETURN QUERY SELECT * FROM twilio._advance(uid);
END
$$;
COMMENT ON FUNCTION twilio.complete_action(uuid, text, text) IS
    'Marks the caller''s action done with an outcome; returns the next action (claimed) when auto_advance is on';

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

------------------------------------------------------------------------------------------------------------------
-- Power dialer, part 2 (docs/dialer.md): click-to-call. twilio.dial checks everything, then writes the agent leg
-- and an outbox job in the caller's transaction; the dispatcher asks Twilio to ring the agent and bridge the lead.
-- Status callbacks (through _route_webhook) move each leg forward and settle the action when the agent leg ends.
------------------------------------------------------------------------------------------------------------------

-- Calls of an action (live-call checks); platform-account callbacks, which name no user, find their call by SID.
CREATE INDEX voice_calls_action ON twilio.voice_calls (user_id, action_id) WHERE action_id IS NOT NULL;
CREATE INDEX voice_calls_call_sid ON twilio.voice_calls (call_sid);
-- Agent legs Twilio has not given a SID yet: a callback that beats the dispatcher to it is held for them.
CREATE INDEX voice_calls_awaiting_sid ON twilio.voice_calls (from_number) WHERE call_sid IS NULL;
-- Held callbacks, by the agent leg's SID they wait for (theirs, or their parent's).
CREATE INDEX webhook_events_held_calls
    ON twilio.webhook_events (user_id, (coalesce(params ->> 'ParentCallSid', params ->> 'CallSid')))
    WHERE effect = 'status for an unknown call';

CREATE FUNCTION twilio._require_not_do_not_call(uid uuid, phone text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM twilio.do_not_call d WHERE d.user_id = uid AND d.phone = _require_not_do_not_call.phone)
    THEN
        RAISE EXCEPTION '% is on your do-not-call list', phone USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'See twilio.do_not_call; remove the entry there if it was added by mistake.';
    END IF;
END
$$;

-- Whether `at` falls in [hours_start, hours_end) on the wall clock of time zone tz.
CREATE FUNCTION twilio._within_calling_hours(at timestamptz, tz text, hours_start time, hours_end time)
    RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
RETURN (at AT TIME ZONE tz)::time >= hours_start AND (at AT TIME ZONE tz)::time < hours_end;

CREATE FUNCTION twilio._require_calling_hours(phone text, tz text, hours_start time, hours_end time,
                                              at timestamptz DEFAULT now()) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT twilio._within_calling_hours(at, tz, hours_start, hours_end) THEN
        RAISE EXCEPTION 'it is % in % for %: outside your calling hours, % to %',
                        to_char(at AT TIME ZONE tz, 'Dy HH24:MI'), tz, phone, to_char(hours_start, 'HH24:MI'),
                        to_char(hours_end, 'HH24:MI')
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Calls start only within the calling hours of the lead''s local time (twilio.save_dialer_settings).';
    END IF;
END
$$;

-- The body of twilio.dial: every check first (each a clear error, nothing written), then the agent leg, the action
-- claimed, and the outbox job.
CREATE FUNCTION twilio._dial(uid uuid, action_id uuid, lead_phone text, agent_phone text, time_zone text)
    RETURNS twilio.voice_calls
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    sender record;
    settings twilio.dialer_settings := twilio._dialer_settings_of(uid);
    act twilio.manual_actions;
    lead text := lead_phone;
    agent text := coalesce(agent_phone, settings.agent_phone);
    tz text;
    leg_row twilio.voice_calls;
BEGIN
    IF (action_id IS NULL) = (lead_phone IS NULL) THEN
        RAISE EXCEPTION 'give exactly one of action_id and lead_phone' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO sender FROM twilio._require_sender(uid);
    IF sender.sms_number IS NULL THEN
        RAISE EXCEPTION 'your Twilio settings have no phone number to call from'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Save settings with sms_number: it is the caller id the lead sees.';
    END IF;
    IF agent IS NULL THEN
        RAISE EXCEPTION 'no agent phone: the dialer does not know which phone to ring first'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Pass agent_phone, or save yours with twilio.save_dialer_settings(agent_phone => ...).';
    END IF;
    IF action_id IS NOT NULL THEN
        act := twilio._require_action(uid, action_id);
        IF act.status IN ('done', 'skipped') THEN
            RAISE EXCEPTION 'manual action % is already %', action_id, act.status
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        IF act.phone IS NULL THEN
            RAISE EXCEPTION 'manual action % has no phone number to call', action_id
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        lead := act.phone;
    END IF;
    PERFORM twilio._require_e164('agent_phone', agent);
    PERFORM twilio._require_e164('lead_phone', lead);
    IF lead = agent THEN
        RAISE EXCEPTION 'the lead''s number % is the agent phone', lead USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM twilio._require_not_do_not_call(uid, lead);
    tz := coalesce(act.time_zone, time_zone, settings.default_time_zone);
    IF tz IS NULL THEN
        RAISE EXCEPTION 'the lead''s time zone is unknown, so calling hours cannot be checked'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give the action a time_zone, pass time_zone, or save a default_time_zone in the dialer settings.';
    END IF;
    PERFORM twilio._require_time_zone(tz);
    PERFORM twilio._require_calling_hours(lead, tz, settings.calling_hours_start, settings.calling_hours_end);
    IF action_id IS NOT NULL AND twilio._action_has_live_call(uid, act.id) THEN
        RAISE EXCEPTION 'manual action % already has a call going on', action_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF action_id IS NULL AND EXISTS (
            SELECT 1 FROM twilio.voice_calls v
             WHERE v.user_id = uid AND v.leg = 'agent' AND v.lead_phone = lead
               AND v.status IN ('queued', 'initiated', 'ringing', 'in-progress')) THEN
        RAISE EXCEPTION 'a call to % is already going on', lead USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    INSERT INTO twilio.voice_calls (user_id, status, leg, to_number, from_number, lead_phone, action_id, account_sid)
    VALUES (uid, 'queued', 'agent', agent, sender.sms_number, lead, act.id, sender.account_sid)
    RETURNING * INTO leg_row;
    IF act.id IS NOT NULL THEN
        UPDATE twilio.manual_actions m
           SET status = 'in_progress', claimed_at = now(), call_id = leg_row.id, outcome = NULL, completed_at = NULL
         WHERE m.user_id = uid AND m.id = act.id;
    END IF;
    INSERT INTO twilio.outbox (user_id, kind, call_id) VALUES (uid, 'create_call', leg_row.id);
    RETURN leg_row;
END
$$;

CREATE FUNCTION twilio.dial(action_id uuid DEFAULT NULL, lead_phone text DEFAULT NULL, agent_phone text DEFAULT NULL,
                            time_zone text DEFAULT NULL) RETURNS twilio.voice_calls
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN twilio._dial(twilio._require_user(), action_id, lead_phone, agent_phone, time_zone);
COMMENT ON FUNCTION twilio.dial(uuid, text, text, text) IS
    'Click-to-call: rings the caller''s agent phone, then bridges the lead (an action''s phone, or lead_phone)';

------------------------------------------------------------------------------------------------------------------
-- Status callbacks
------------------------------------------------------------------------------------------------------------------

-- Twilio's CallStatus in the order a call goes through them; every ending ranks the same (the first one wins).
CREATE FUNCTION twilio._call_status_rank(status text) RETURNS integer
LANGUAGE sql IMMUTABLE
RETURN CASE status WHEN 'queued' THEN 0 WHEN 'initiated' THEN 1 WHEN 'ringing' THEN 2 WHEN 'in-progress' THEN 3
                   WHEN 'completed' THEN 4 WHEN 'busy' THEN 4 WHEN 'no-answer' THEN 4 WHEN 'failed' THEN 4
                   WHEN 'canceled' THEN 4 END;

-- What the lead leg says about the call, as an action outcome. Not yet ended: what it says so far (corrected when
-- it ends, see _apply_call_status).
CREATE FUNCTION twilio._call_outcome(lead twilio.voice_calls) RETURNS text
LANGUAGE sql IMMUTABLE
RETURN CASE
    WHEN lead.status IN ('completed', 'in-progress') OR lead.answered_at IS NOT NULL THEN
        CASE WHEN lead.answered_by LIKE 'machine%' OR lead.answered_by = 'fax' THEN 'voicemail' ELSE 'connected' END
    WHEN lead.status = 'busy' THEN 'busy'
    WHEN lead.status = 'failed' THEN 'failed'
    WHEN lead.status = 'canceled' THEN 'canceled'
    ELSE 'no_answer'
END;

-- The agent leg has ended: the action (if this is still its latest call, and the user has not finished it) gets
-- the call's outcome. An agent who never answered: the action goes back to the queue as 'agent_unreachable'.
-- Otherwise it is done (completed_at = the leg's ended_at marks an outcome set by the call), and the next action
-- is claimed when the user asked for auto-advance.
CREATE FUNCTION twilio._settle_action(uid uuid, agent twilio.voice_calls) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    act twilio.manual_actions;
    lead twilio.voice_calls;
    new_outcome text;
BEGIN
    SELECT * INTO act FROM twilio.manual_actions a WHERE a.user_id = uid AND a.id = agent.action_id FOR UPDATE;
    IF NOT FOUND OR act.call_id IS DISTINCT FROM agent.id THEN
        RETURN 'the action has a newer call';
    ELSIF act.status IN ('done', 'skipped') THEN
        RETURN 'the action was already ' || act.status;
    END IF;
    IF agent.answered_at IS NULL AND agent.status <> 'completed' THEN
        UPDATE twilio.manual_actions a
           SET status = 'open', outcome = 'agent_unreachable', claimed_at = NULL, completed_at = NULL
         WHERE a.user_id = uid AND a.id = act.id;
        RETURN 'action back in the queue: agent_unreachable';
    END IF;
    SELECT * INTO lead FROM twilio.voice_calls v
     WHERE v.user_id = uid AND v.parent_call_sid = agent.call_sid ORDER BY v.created_at DESC, v.id DESC LIMIT 1;
    new_outcome := twilio._call_outcome(lead);
    UPDATE twilio.manual_actions a SET status = 'done', outcome = new_outcome, completed_at = agent.ended_at
     WHERE a.user_id = uid AND a.id = act.id;
    IF EXISTS (SELECT 1 FROM twilio._advance(uid)) THEN
        RETURN 'action done: ' || new_outcome || '; next action claimed';
    END IF;
    RETURN 'action done: ' || new_outcome;
END
$$;

-- One voice status callback, applied to the user's calls (from _route_webhook). Statuses only move forward; the
-- first ending wins; details (duration, AnsweredBy, SIP response, error) are kept as they come. An unknown CallSid
-- whose ParentCallSid is ours is the bridged lead leg. A callback for an agent leg whose SID the dispatcher has not
-- recorded yet is held ('status for an unknown call') and applied by _apply_held_call_statuses once it has.
CREATE FUNCTION twilio._apply_call_status(uid uuid, p jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    sid text := p ->> 'CallSid';
    new_status text := p ->> 'CallStatus';
    parent_sid text := nullif(p ->> 'ParentCallSid', '');
    new_rank integer := twilio._call_status_rank(p ->> 'CallStatus');
    duration integer := nullif(p ->> 'CallDuration', '')::integer;
    sequence_no integer := nullif(p ->> 'SequenceNumber', '')::integer;
    sip integer := nullif(p ->> 'SipResponseCode', '')::integer;
    err integer := nullif(p ->> 'ErrorCode', '')::integer;
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
           answered_by = CASE WHEN advanced THEN coalesce(nullif(p ->> 'AnsweredBy', ''), v.answered_by)
                              ELSE coalesce(v.answered_by, nullif(p ->> 'AnsweredBy', '')) END,
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

-- For the dispatcher, once it has recorded an agent leg's SID: the callbacks that came first (that leg's and its
-- lead leg's), applied in the order they arrived. Returns how many.
CREATE FUNCTION twilio._apply_held_call_statuses(uid uuid, call_sid text) RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    e record;
    n integer := 0;
    new_effect text;
BEGIN
    FOR e IN SELECT w.id, w.params FROM twilio.webhook_events w
              WHERE w.user_id = uid AND w.effect = 'status for an unknown call'
                AND coalesce(w.params ->> 'ParentCallSid', w.params ->> 'CallSid') = _apply_held_call_statuses.call_sid
              ORDER BY w.id LOOP
        BEGIN
            new_effect := 'applied late: ' || twilio._apply_call_status(uid, e.params);
        EXCEPTION WHEN OTHERS THEN  -- as handle_webhook keeps a signed callback it cannot apply
            new_effect := 'not applied: ' || left(SQLERRM, 200);
        END;
        UPDATE twilio.webhook_events w SET effect = new_effect
         WHERE w.user_id = uid AND w.id = e.id;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

------------------------------------------------------------------------------------------------------------------
-- Who may call (see 70_dialer_queue.sql)
------------------------------------------------------------------------------------------------------------------
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA twilio FROM PUBLIC;
GRANT EXECUTE ON FUNCTION twilio.dial(uuid, text, text, text) TO authenticated;

-- Voice status callbacks go to _apply_call_status (71_dialer_calls.sql).
CREATE OR REPLACE FUNCTION twilio._route_webhook(uid uuid, kind text, p jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    what_happened text;
    conv twilio.conversations;
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
                what_happened := twilio._apply_message_status(uid, p ->> 'MessageSid', p ->> 'Status',
                                                              p ->> 'ErrorCode');
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
    RETURN what_happened;
END
$$;
-- Power dialer: end of its block

-- The dispatcher places calls (docs/delivery.md, "Calls"): a claimed create_call job carries its agent leg and,
-- for a lookup after an ambiguous create, the user's other recent call SIDs; a recorded outcome moves the call
-- forward, applies the status callbacks held for it, and fails its manual action when the job fails for good.
DROP FUNCTION twilio._claim_outbox(integer);
CREATE FUNCTION twilio._claim_outbox(max_rows integer)
    RETURNS TABLE (user_id uuid, id bigint, kind text, prior_state text, attempts integer, claimed_at timestamptz,
                   source text, owner text, account_sid text, auth_token_envelope bytea,
                   conversations_service_sid text, messaging_service_sid text, sms_number text, webhook_key text,
                   max_segments_per_second real, conversation_id uuid, conversation_status text,
                   conversation_sid text, participant_sid text, phone text, friendly_name text, message_id uuid,
                   body text, to_number text, segments integer, created_at text, call_id uuid, call_to text,
                   call_from text, lead_phone text, call_status text, call_sid text, known_call_sids text)
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
           END
      FROM claimed c
      LEFT JOIN twilio.conversations conv ON conv.user_id = c.user_id AND conv.id = c.conversation_id
      LEFT JOIN twilio.messages m ON m.user_id = c.user_id AND m.id = c.message_id
      LEFT JOIN twilio.voice_calls vc ON vc.user_id = c.user_id AND vc.id = c.call_id
      LEFT JOIN LATERAL twilio._resolve_config(c.user_id) cfg ON true
     ORDER BY c.id
$$;
REVOKE ALL ON FUNCTION twilio._claim_outbox(integer) FROM PUBLIC;
CREATE OR REPLACE FUNCTION twilio._finish_outbox(results jsonb) RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r jsonb;
    uid uuid;
    job twilio.outbox;
    placed twilio.voice_calls;
    n integer := 0;
BEGIN
    FOR r IN SELECT * FROM jsonb_array_elements(results) LOOP
        uid := (r ->> 'user_id')::uuid;
        UPDATE twilio.outbox o
           SET state = r ->> 'state',
               not_before = now() + make_interval(secs => coalesce((r ->> 'retry_in_ms')::double precision, 0) / 1000),
               attempts = o.attempts - CASE WHEN (r ->> 'unclaim')::boolean THEN 1 ELSE 0 END,
               finished_at = CASE WHEN r ->> 'state' IN ('done', 'failed') THEN now() END,
               last_error = r ->> 'error'
         WHERE o.user_id = uid AND o.id = (r ->> 'id')::bigint AND o.state = 'in_flight'
        RETURNING * INTO job;
        CONTINUE WHEN NOT FOUND;
        n := n + 1;
        IF r ? 'message' AND job.message_id IS NOT NULL THEN
            UPDATE twilio.messages m
               SET status = coalesce(r #>> '{message,status}', m.status),
                   twilio_sid = coalesce(r #>> '{message,twilio_sid}', m.twilio_sid),
                   error_code = coalesce((r #>> '{message,error_code}')::integer, m.error_code),
                   error_message = coalesce(r #>> '{message,error_message}', m.error_message),
                   sent_at = CASE WHEN r ->> 'state' = 'done' THEN coalesce(m.sent_at, now()) ELSE m.sent_at END
             WHERE m.user_id = uid AND m.id = job.message_id;
            -- A status callback can beat us to it (it arrives before we recorded the SID): apply it now.
            UPDATE twilio.webhook_events e
               SET effect = 'applied late: ' || twilio._apply_message_status(uid, e.params ->> 'MessageSid',
                                                      e.params ->> 'MessageStatus', e.params ->> 'ErrorCode')
             WHERE e.user_id = uid AND e.kind = 'status' AND e.effect = 'status for an unknown message'
               AND e.params ->> 'MessageSid' = r #>> '{message,twilio_sid}';
        END IF;
        IF r ? 'conversation' AND job.conversation_id IS NOT NULL THEN
            UPDATE twilio.conversations c
               SET status = coalesce(r #>> '{conversation,status}', c.status),
                   twilio_sid = coalesce(r #>> '{conversation,twilio_sid}', c.twilio_sid),
                   participant_sid = coalesce(r #>> '{conversation,participant_sid}', c.participant_sid),
                   error_code = coalesce((r #>> '{conversation,error_code}')::integer, c.error_code),
                   error_message = coalesce(r #>> '{conversation,error_message}', c.error_message)
             WHERE c.user_id = uid AND c.id = job.conversation_id;
        END IF;
        IF r ? 'call' AND job.call_id IS NOT NULL THEN
            UPDATE twilio.voice_calls v
               SET status = CASE WHEN twilio._call_status_rank(r #>> '{call,status}')
                                      > coalesce(twilio._call_status_rank(v.status), -1)
                                 THEN r #>> '{call,status}' ELSE v.status END,
                   call_sid = coalesce(v.call_sid, r #>> '{call,twilio_sid}'),
                   account_sid = coalesce(r #>> '{call,account_sid}', v.account_sid),
                   error_code = coalesce((r #>> '{call,error_code}')::integer, v.error_code),
                   error_message = coalesce(r #>> '{call,error_message}', v.error_message),
                   ended_at = CASE WHEN twilio._call_status_rank(r #>> '{call,status}') = 4
                                   THEN coalesce(v.ended_at, now()) ELSE v.ended_at END,
                   updated_at = now()
             WHERE v.user_id = uid AND v.id = job.call_id
            RETURNING * INTO placed;
            IF r ->> 'state' = 'failed' AND placed.action_id IS NOT NULL THEN
                UPDATE twilio.manual_actions a
                   SET status = 'failed', outcome = 'failed', completed_at = now()
                 WHERE a.user_id = uid AND a.id = placed.action_id AND a.call_id = placed.id
                   AND a.status NOT IN ('done', 'skipped');
            END IF;
            -- Status callbacks that beat us to the SID (held by _apply_call_status), applied now in their order.
            IF placed.call_sid IS NOT NULL AND placed.call_sid = r #>> '{call,twilio_sid}' THEN
                PERFORM twilio._apply_held_call_statuses(uid, placed.call_sid);
            END IF;
        END IF;
        IF r ? 'opt_out' THEN
            INSERT INTO twilio.opt_outs (user_id, phone, source) VALUES (uid, r ->> 'opt_out', 'twilio_21610')
            ON CONFLICT DO NOTHING;
        END IF;
    END LOOP;
    RETURN n;
END
$$;
-- Faster drip ticks: a due row's next_run_at is its plan (not planned again in the tick), the next step is planned
-- once per campaign, position and time zone, rendering counts segments in the same call, the claim has a row
-- estimate the planner can join on, and the tick sets updated_at itself. A held enrollment retries outside quiet
-- hours.

CREATE FUNCTION twilio._drip_try_render_sms(template text, variables jsonb, OUT body text, OUT segments integer,
                                            OUT encoding text)
    AS 'MODULE_PATHNAME', 'byo_drip_try_render_sms' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

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

CREATE OR REPLACE FUNCTION twilio._drip_tick_one(e twilio.enrollments) RETURNS text
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

DROP FUNCTION twilio._drip_tick_batch(integer);

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

CREATE OR REPLACE FUNCTION twilio.drip_tick(max_rows integer DEFAULT 500,
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

DROP TRIGGER enrollments_updated_at ON twilio.enrollments;
CREATE TRIGGER enrollments_updated_at BEFORE UPDATE ON twilio.enrollments
    FOR EACH ROW WHEN (OLD.updated_at IS NOT DISTINCT FROM NEW.updated_at)
    EXECUTE FUNCTION twilio._touch_updated_at();
REVOKE ALL ON FUNCTION twilio._drip_try_render_sms(text, jsonb), twilio._drip_claim(integer),
                       twilio._drip_tick_batch(integer) FROM PUBLIC;

-- Send records without foreign keys (a key check per row cost the tick more than its other work per message):
-- an enrollment's deletion removes them by trigger.
ALTER TABLE twilio.enrollment_sends
    DROP CONSTRAINT enrollment_sends_user_id_fkey,
    DROP CONSTRAINT enrollment_sends_user_id_enrollment_id_fkey;
-- What ON DELETE CASCADE from enrollment_sends would do, once per statement.
CREATE FUNCTION twilio._drip_drop_sends() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM twilio.enrollment_sends s USING old_enrollments o
     WHERE s.user_id = o.user_id AND s.enrollment_id = o.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER enrollments_drop_sends AFTER DELETE ON twilio.enrollments
    REFERENCING OLD TABLE AS old_enrollments FOR EACH STATEMENT EXECUTE FUNCTION twilio._drip_drop_sends();
REVOKE ALL ON FUNCTION twilio._drip_drop_sends() FROM PUBLIC;

-- Drips: a step may queue a call for the user (channel 'manual_call') instead of sending a text.
ALTER TABLE twilio.campaign_steps
    DROP CONSTRAINT campaign_steps_channel_check,
    ADD CONSTRAINT campaign_steps_channel_check CHECK (channel IN ('sms', 'conversation', 'manual_call'));
CREATE OR REPLACE FUNCTION twilio._check_step(body text, delay interval, on_day integer, at_local_time time, channel text)
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

REVOKE ALL ON FUNCTION twilio._drip_queue_call(twilio.enrollments, twilio.campaign_steps, text) FROM PUBLIC;

-- Sends one due enrollment's next step, or says why not. Raises on anything the step cannot get past.
CREATE OR REPLACE FUNCTION twilio._drip_send_step(e twilio.enrollments, c twilio.campaigns, s twilio.campaign_steps)
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

-- Outcomes amended after a call: complete_action on an action already done records the new outcome and notes and
-- hands back the current action (70_dialer_queue.sql).
-- Finishes an open, in-progress or failed action as done (with an outcome) or skipped; notes are appended. An action
-- already done (by the user, or by its call's end) takes a new outcome: the user records what the call achieved.
-- Skipped is final. An amended outcome's completed_at is the amendment's time, so a lead leg that ends late no
-- longer corrects it (_apply_call_status corrects only the outcome the agent leg's end set).
CREATE OR REPLACE FUNCTION twilio._finish_action(uid uuid, action_id uuid, new_status text, outcome text, notes text)
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
CREATE OR REPLACE FUNCTION twilio.complete_action(action_id uuid, outcome text, notes text DEFAULT NULL)
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
