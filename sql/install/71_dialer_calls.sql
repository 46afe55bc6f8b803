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
