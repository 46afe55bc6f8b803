------------------------------------------------------------------------------------------------------------------
-- Drip campaigns (docs/drips.md): campaigns of timed steps, enrollments of contacts, a record of every step sent
-- and per-day rollups. Users write through the functions below; the tick (61_drip_tick.sql) sends.
------------------------------------------------------------------------------------------------------------------

-- Templates are parsed in C++ (src/core/drip_template.cpp): {{name}} and {{name|fallback}}.
CREATE FUNCTION twilio._drip_render(template text, variables jsonb) RETURNS text
    AS 'MODULE_PATHNAME', 'byo_drip_render' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION twilio._drip_required_variables(template text) RETURNS text[]
    AS 'MODULE_PATHNAME', 'byo_drip_required_variables' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- An IANA zone ("Area/Location", or UTC). Abbreviations (PST) and POSIX strings are refused: they have no DST rules.
CREATE FUNCTION twilio._require_time_zone(tz text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF tz IS NULL OR tz !~ '^([A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)+|UTC)$' THEN
        RAISE EXCEPTION 'time zone % is not an IANA time zone name', coalesce(quote_literal(tz), 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example America/New_York or Europe/Paris.';
    END IF;
    BEGIN
        PERFORM now() AT TIME ZONE tz;
    EXCEPTION WHEN invalid_parameter_value THEN
        RAISE EXCEPTION 'unknown time zone %', quote_literal(tz)
            USING ERRCODE = 'invalid_parameter_value', HINT = 'See pg_timezone_names for the known IANA names.';
    END;
    RETURN tz;
END
$$;

CREATE TABLE twilio.campaigns (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT twilio._uuid_v7(),
    name text NOT NULL CHECK (btrim(name) <> '' AND char_length(name) <= 200),
    status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'paused', 'archived')),
    channel text NOT NULL DEFAULT 'sms' CHECK (channel IN ('sms', 'conversation')),
    -- Used for enrollments made without a time zone.
    time_zone text NOT NULL DEFAULT 'UTC' CHECK (time_zone ~ '^([A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)+|UTC)$'),
    -- Local quiet window [quiet_start, quiet_end), wrapping midnight when start > end; quiet_days (ISO, 1 = Monday)
    -- are quiet all day. A step due then waits for the next allowed local time.
    quiet_start time,
    quiet_end time,
    quiet_days integer[] NOT NULL DEFAULT '{}' CHECK (quiet_days <@ '{1,2,3,4,5,6,7}' AND cardinality(quiet_days) < 7),
    stop_on_reply boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    CONSTRAINT campaigns_quiet_window CHECK ((quiet_start IS NULL AND quiet_end IS NULL)
                                             OR (quiet_start IS NOT NULL AND quiet_end IS NOT NULL
                                                 AND quiet_start <> quiet_end))
);

CREATE TABLE twilio.campaign_steps (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT twilio._uuid_v7(),
    campaign_id uuid NOT NULL,
    position integer NOT NULL CHECK (position BETWEEN 1 AND 1000),
    -- When: a delay after the previous step was sent (after enrolling, for the first step), or a local time of
    -- day on day N after enrolling (day 0 is the day of enrolling).
    delay interval CHECK (delay >= interval '0'),
    on_day integer CHECK (on_day BETWEEN 0 AND 3650),
    at_local_time time,
    body_template text NOT NULL CHECK (btrim(body_template) <> '' AND char_length(body_template) <= 1600),
    -- NULL: the campaign's. 'manual_call' queues a call for the user (twilio.manual_actions) instead of a text.
    channel text CHECK (channel IN ('sms', 'conversation', 'manual_call')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    UNIQUE (user_id, campaign_id, position),
    FOREIGN KEY (user_id, campaign_id) REFERENCES twilio.campaigns (user_id, id) ON DELETE CASCADE,
    CONSTRAINT campaign_steps_timing CHECK ((delay IS NOT NULL AND on_day IS NULL AND at_local_time IS NULL)
                                            OR (delay IS NULL AND on_day IS NOT NULL AND at_local_time IS NOT NULL))
);

-- status: active (next_run_at set) | paused (pause_reason) | completed | stopped (stop_reason).
CREATE TABLE twilio.enrollments (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT twilio._uuid_v7(),
    campaign_id uuid NOT NULL,
    lead_id uuid,
    phone text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{1,14}$'),
    time_zone text NOT NULL CHECK (time_zone ~ '^([A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)+|UTC)$'),
    variables jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(variables) = 'object'),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'completed', 'stopped')),
    pause_reason text CHECK (pause_reason IN ('paused', 'campaign_paused', 'campaign_draft')),
    stop_reason text CHECK (stop_reason IN ('replied', 'opted_out', 'unenrolled', 'failed', 'campaign_archived')),
    last_position integer NOT NULL DEFAULT 0,      -- position of the last step sent; 0 before the first
    anchor_at timestamptz NOT NULL DEFAULT now(),  -- the last send (or enrolling): the next delay counts from it
    next_run_at timestamptz,                       -- when the tick looks at it next
    hold_reason text,  -- why an active enrollment waits past its step's time (quiet hours, no Twilio account)
    last_error text,   -- why it failed (stop_reason failed)
    enrolled_at timestamptz NOT NULL DEFAULT now(),
    last_sent_at timestamptz,
    finished_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    FOREIGN KEY (user_id, campaign_id) REFERENCES twilio.campaigns (user_id, id) ON DELETE CASCADE,
    CONSTRAINT enrollments_state CHECK ((status = 'active') = (next_run_at IS NOT NULL)
                                        AND (status = 'paused') = (pause_reason IS NOT NULL)
                                        AND (status = 'stopped') = (stop_reason IS NOT NULL))
);
-- One ongoing enrollment per campaign and phone; also finds a phone's enrollments when it replies or opts out.
CREATE UNIQUE INDEX enrollments_ongoing ON twilio.enrollments (user_id, phone, campaign_id)
    WHERE status IN ('active', 'paused');
-- The tick reads only due rows: its cost follows them, not the enrolled total.
CREATE INDEX enrollments_due ON twilio.enrollments (next_run_at) WHERE status = 'active';
CREATE INDEX enrollments_campaign ON twilio.enrollments (user_id, campaign_id);

-- Each step sent, once ever per enrollment (the primary key), with its message and how it fared.
-- No foreign keys: only the drip tick writes here, for an enrollment it holds locked, and a key check per row
-- would cost the tick more than any of its other work per message. The enrollment's deletion (with its campaign
-- or its user) removes these rows instead (trigger enrollments_drop_sends).
CREATE TABLE twilio.enrollment_sends (
    user_id uuid NOT NULL,
    enrollment_id uuid NOT NULL,
    step_id uuid NOT NULL,  -- no foreign key: a sent step stays on record when the step is deleted
    campaign_id uuid NOT NULL,
    position integer NOT NULL,
    message_id uuid NOT NULL,
    phone text NOT NULL,
    segments integer NOT NULL,
    day date NOT NULL,  -- UTC day of the send: the analytics row its outcomes count in
    outcome text NOT NULL DEFAULT 'pending' CHECK (outcome IN ('pending', 'delivered', 'failed')),
    replied_at timestamptz,
    opted_out_at timestamptz,
    sent_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, enrollment_id, step_id),
    UNIQUE (user_id, message_id)
);
CREATE INDEX enrollment_sends_phone ON twilio.enrollment_sends (user_id, phone, sent_at);

-- Per day, campaign and step, kept up to date as events land (62_drip_analytics.sql): analytics reads these.
CREATE TABLE twilio.campaign_stats_daily (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    campaign_id uuid NOT NULL,
    day date NOT NULL,
    step_id uuid NOT NULL,
    position integer NOT NULL,
    sent integer NOT NULL DEFAULT 0,
    delivered integer NOT NULL DEFAULT 0,
    failed integer NOT NULL DEFAULT 0,  -- failed or undelivered
    replies integer NOT NULL DEFAULT 0,
    opt_outs integer NOT NULL DEFAULT 0,
    segments bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, campaign_id, day, step_id),
    FOREIGN KEY (user_id, campaign_id) REFERENCES twilio.campaigns (user_id, id) ON DELETE CASCADE
);
CREATE INDEX campaign_stats_daily_day ON twilio.campaign_stats_daily (user_id, day);

CREATE TRIGGER campaigns_updated_at BEFORE UPDATE ON twilio.campaigns
    FOR EACH ROW EXECUTE FUNCTION twilio._touch_updated_at();
CREATE TRIGGER campaign_steps_updated_at BEFORE UPDATE ON twilio.campaign_steps
    FOR EACH ROW EXECUTE FUNCTION twilio._touch_updated_at();
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
-- The drip tick sets updated_at itself: no trigger call per row it advances.
CREATE TRIGGER enrollments_updated_at BEFORE UPDATE ON twilio.enrollments
    FOR EACH ROW WHEN (OLD.updated_at IS NOT DISTINCT FROM NEW.updated_at)
    EXECUTE FUNCTION twilio._touch_updated_at();

SELECT pg_catalog.pg_extension_config_dump('twilio.campaigns', '');
SELECT pg_catalog.pg_extension_config_dump('twilio.campaign_steps', '');
SELECT pg_catalog.pg_extension_config_dump('twilio.enrollments', '');
SELECT pg_catalog.pg_extension_config_dump('twilio.enrollment_sends', '');
SELECT pg_catalog.pg_extension_config_dump('twilio.campaign_stats_daily', '');

-- Owner-only reads; every write goes through the functions (which check what a CHECK cannot: templates, zones).
ALTER TABLE twilio.campaigns ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio.campaign_steps ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio.enrollments ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio.enrollment_sends ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio.campaign_stats_daily ENABLE ROW LEVEL SECURITY;
CREATE POLICY campaigns_select_own ON twilio.campaigns FOR SELECT TO authenticated USING (user_id = auth.uid());
CREATE POLICY campaign_steps_select_own ON twilio.campaign_steps FOR SELECT TO authenticated
    USING (user_id = auth.uid());
CREATE POLICY enrollments_select_own ON twilio.enrollments FOR SELECT TO authenticated USING (user_id = auth.uid());
CREATE POLICY enrollment_sends_select_own ON twilio.enrollment_sends FOR SELECT TO authenticated
    USING (user_id = auth.uid());
CREATE POLICY campaign_stats_daily_select_own ON twilio.campaign_stats_daily FOR SELECT TO authenticated
    USING (user_id = auth.uid());
REVOKE ALL ON twilio.campaigns, twilio.campaign_steps, twilio.enrollments, twilio.enrollment_sends,
              twilio.campaign_stats_daily FROM PUBLIC;
GRANT SELECT ON twilio.campaigns, twilio.campaign_steps, twilio.enrollments, twilio.enrollment_sends,
                twilio.campaign_stats_daily TO authenticated, service_role;

------------------------------------------------------------------------------------------------------------------
-- When a step may go out
------------------------------------------------------------------------------------------------------------------

-- t + delay as PostgreSQL adds them with TimeZone = tz: months and days move the local calendar (so "1 day" keeps
-- the wall-clock time across a DST change), hours and smaller are elapsed time.
-- A SQL-standard body (bound when created, so no search_path to pin) keeps the per-row cost low in the tick.
CREATE FUNCTION twilio._drip_add(t timestamptz, delay interval, tz text) RETURNS timestamptz
LANGUAGE sql IMMUTABLE
RETURN ((t AT TIME ZONE tz) + make_interval(months => (extract(year FROM delay) * 12 + extract(month FROM delay))::integer,
                                            days => extract(day FROM delay)::integer)) AT TIME ZONE tz
       + (delay - make_interval(months => (extract(year FROM delay) * 12 + extract(month FROM delay))::integer,
                                days => extract(day FROM delay)::integer));

-- The first moment at or after t outside the campaign's quiet hours, on local wall-clock time in tz (so it
-- follows DST changes). A local time a DST change skips maps forward, as PostgreSQL's AT TIME ZONE does.
CREATE FUNCTION twilio._drip_allowed_at(t timestamptz, tz text, quiet_start time, quiet_end time,
                                        quiet_days integer[]) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    local timestamp := t AT TIME ZONE tz;
    moved boolean := false;
BEGIN
    -- Each pass moves past one quiet day or one quiet window: at most 6 quiet days, each with a window.
    FOR i IN 1..16 LOOP
        IF extract(isodow FROM local)::integer = ANY (quiet_days) THEN
            local := local::date + 1;
        ELSIF quiet_start < quiet_end AND local::time >= quiet_start AND local::time < quiet_end THEN
            local := local::date + quiet_end;
        ELSIF quiet_start > quiet_end AND local::time >= quiet_start THEN
            local := local::date + 1 + quiet_end;
        ELSIF quiet_start > quiet_end AND local::time < quiet_end THEN
            local := local::date + quiet_end;
        ELSE
            EXIT;
        END IF;
        moved := true;
    END LOOP;
    RETURN CASE WHEN moved THEN local AT TIME ZONE tz ELSE t END;
END
$$;

-- When the enrollment's next step (the first after last_position) may go out, and whether quiet hours moved it;
-- no row when no step is left.
-- A SQL-standard body, without settings, so that the planner inlines it into the tick's statement instead of
-- starting a function executor for each enrollment.
CREATE FUNCTION twilio._drip_plan(e twilio.enrollments, c twilio.campaigns,
                                  OUT step_id uuid, OUT due_at timestamptz, OUT allowed_at timestamptz)
    RETURNS SETOF record
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT s.id, d.due, twilio._drip_allowed_at(d.due, e.time_zone, c.quiet_start, c.quiet_end, c.quiet_days)
      FROM (SELECT * FROM twilio.campaign_steps s
             WHERE s.user_id = e.user_id AND s.campaign_id = e.campaign_id AND s.position > e.last_position
             ORDER BY s.position LIMIT 1) s
     CROSS JOIN LATERAL (
        SELECT CASE WHEN s.delay IS NOT NULL THEN twilio._drip_add(e.anchor_at, s.delay, e.time_zone)
                    ELSE greatest(e.anchor_at, ((e.enrolled_at AT TIME ZONE e.time_zone)::date + s.on_day
                                                + s.at_local_time) AT TIME ZONE e.time_zone) END AS due) d;
END;

-- Plans the active enrollments of a campaign (or one of them) after enrolling, resuming, or a change of its steps
-- or quiet hours; with no step left, due now, so that the next tick completes them.
CREATE FUNCTION twilio._drip_replan(uid uuid, cid uuid, eid uuid DEFAULT NULL) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    UPDATE twilio.enrollments e
       SET next_run_at = coalesce((SELECT p.allowed_at FROM twilio._drip_plan(e, c) p), now()),
           hold_reason = (SELECT CASE WHEN p.allowed_at > p.due_at THEN 'quiet hours' END
                            FROM twilio._drip_plan(e, c) p)
      FROM twilio.campaigns c
     WHERE e.user_id = uid AND e.campaign_id = cid AND e.status = 'active' AND (eid IS NULL OR e.id = eid)
       AND c.user_id = uid AND c.id = cid
$$;
