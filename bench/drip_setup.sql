-- Drip benchmark, setup (bench/drip_run.sh): users with Twilio settings, one two-step campaign each, the
-- hand-written alternative's tables, and the procedures that fill and time. Run as a superuser in a database the
-- dispatcher does not serve (byo_twilio.database points elsewhere), so nothing enqueued here is ever sent.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE SCHEMA bench;
CREATE TABLE bench.results (scenario text, impl text, enrolled integer, due integer, round integer, ms numeric,
                            sent integer);
-- The enrollments each round makes due, in order: k numbers them so rounds never reuse one.
CREATE TABLE bench.pick (k integer PRIMARY KEY, user_id uuid NOT NULL, id uuid NOT NULL);

-- 100 users, each with settings (written directly: the token envelope is never opened, since nothing is sent)
-- and an active campaign: a first step at once, a second a day later.
INSERT INTO auth.users (id, email)
SELECT ('00000000-0000-0000-0000-' || lpad(to_hex(u), 12, '0'))::uuid, 'drip' || u || '@bench.test'
  FROM generate_series(1, 100) u;
INSERT INTO twilio.user_settings (user_id, account_sid, auth_token_envelope, messaging_service_sid, sms_number)
SELECT id, 'AC' || md5(id::text), '\x00', 'MG' || md5('mg' || id::text), '+15005550006' FROM auth.users;
INSERT INTO twilio.campaigns (user_id, id, name, status, time_zone)
SELECT id, id, 'Welcome', 'active', 'America/New_York' FROM auth.users;
INSERT INTO twilio.campaign_steps (user_id, campaign_id, position, delay, body_template)
SELECT id, id, p, CASE p WHEN 1 THEN interval '0' ELSE interval '1 day' END,
       CASE p WHEN 1 THEN 'Hi {{first_name|there}}, welcome to {{shop}}! Reply STOP to opt out.'
              ELSE 'Day two, {{first_name}}: 10% off today at {{shop}}.' END
  FROM auth.users, generate_series(1, 2) p;

-- What a user would write by hand: their own enrollments and steps, a plain outbox table, and a pg_cron job whose
-- command (drip_naive.tick) scans the enrollments for due rows, renders with replace() and advances.
CREATE SCHEMA drip_naive;
CREATE TABLE drip_naive.steps (campaign_id uuid, position integer, delay interval NOT NULL, body text NOT NULL,
                               PRIMARY KEY (campaign_id, position));
CREATE TABLE drip_naive.enrollments (id bigint PRIMARY KEY, user_id uuid NOT NULL, campaign_id uuid NOT NULL,
                                     phone text NOT NULL, variables jsonb NOT NULL, step integer NOT NULL DEFAULT 0,
                                     next_run_at timestamptz, status text NOT NULL DEFAULT 'active');
CREATE INDEX ON drip_naive.enrollments (user_id);  -- an app lists a user's enrollments
CREATE TABLE drip_naive.outbox (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id uuid NOT NULL,
                                to_number text NOT NULL, body text NOT NULL, created_at timestamptz DEFAULT now());
INSERT INTO drip_naive.steps SELECT campaign_id, position, delay, body_template FROM twilio.campaign_steps;
CREATE FUNCTION drip_naive.tick() RETURNS integer LANGUAGE sql AS $$
    WITH due AS (
        SELECT e.id, e.user_id, e.phone, e.variables, s.position, s.body, nxt.delay AS next_delay
          FROM drip_naive.enrollments e
          JOIN drip_naive.steps s ON s.campaign_id = e.campaign_id AND s.position = e.step + 1
          LEFT JOIN drip_naive.steps nxt ON nxt.campaign_id = e.campaign_id AND nxt.position = e.step + 2
         WHERE e.status = 'active' AND e.next_run_at <= now()
           FOR UPDATE OF e SKIP LOCKED
    ), queued AS (
        INSERT INTO drip_naive.outbox (user_id, to_number, body)
        SELECT user_id, phone, replace(replace(replace(body, '{{first_name|there}}', coalesce(variables ->> 'first_name', 'there')),
                                               '{{first_name}}', variables ->> 'first_name'), '{{shop}}', variables ->> 'shop')
          FROM due
    ), advanced AS (
        UPDATE drip_naive.enrollments e
           SET step = d.position, next_run_at = now() + d.next_delay,
               status = CASE WHEN d.next_delay IS NULL THEN 'completed' ELSE 'active' END
          FROM due d WHERE e.id = d.id
        RETURNING 1
    )
    SELECT count(*)::integer FROM advanced
$$;

-- Enrollments lo..hi (k), spread over the 100 users, not due for 1 to 30 days, in both implementations; those with
-- k <= picks are noted in bench.pick for the rounds. Triggers and foreign-key checks are skipped
-- (session_replication_role) for speed: every row is valid by construction.
CREATE FUNCTION bench.user_of(k integer) RETURNS uuid LANGUAGE sql IMMUTABLE
RETURN ('00000000-0000-0000-0000-' || lpad(to_hex(1 + k % 100), 12, '0'))::uuid;

CREATE PROCEDURE bench.fill(lo integer, hi integer, picks integer) LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL session_replication_role = replica;
    WITH added AS (
        INSERT INTO twilio.enrollments (user_id, id, campaign_id, phone, time_zone, variables, next_run_at,
                                        anchor_at, enrolled_at)
        SELECT u, twilio._uuid_v7(), u, '+1555' || lpad(k::text, 7, '0'),
               (ARRAY['America/New_York', 'Europe/Paris', 'Asia/Tokyo', 'UTC'])[1 + k % 4],
               jsonb_build_object('first_name', 'Lead ' || k, 'shop', 'Bolt'),
               now() + interval '1 day' + (k % 30) * interval '1 day', now() - interval '1 hour',
               now() - interval '1 hour'
          FROM generate_series(lo, hi) k, bench.user_of(k) u
        RETURNING user_id, id, phone
    )
    INSERT INTO bench.pick SELECT substr(phone, 6)::integer, user_id, id FROM added
     WHERE substr(phone, 6)::integer <= picks;
    INSERT INTO drip_naive.enrollments (id, user_id, campaign_id, phone, variables, next_run_at)
    SELECT k, u, u, '+1555' || lpad(k::text, 7, '0'), jsonb_build_object('first_name', 'Lead ' || k, 'shop', 'Bolt'),
           now() + interval '1 day' + (k % 30) * interval '1 day'
      FROM generate_series(lo, hi) k, bench.user_of(k) u;
END
$$;

-- The floor: the rows a tick that sends `due` steps must write (message, outbox job, send record, the enrollment
-- advanced, still active so that the enrolled count stays), written by plain statements with no claiming,
-- planning or rendering. It sends step 2 to the enrollments that `ours` just sent step 1 to, so its rows are as
-- fresh as the tick's.
CREATE FUNCTION bench.write_floor(lo integer, due integer) RETURNS integer LANGUAGE sql AS $$
    WITH w AS MATERIALIZED (
        SELECT e.user_id, e.id, e.campaign_id, e.phone, s.id AS sid, twilio._uuid_v7() AS msg_id
          FROM bench.pick p
          JOIN twilio.enrollments e ON e.user_id = p.user_id AND e.id = p.id
          JOIN twilio.campaign_steps s ON s.user_id = e.user_id AND s.campaign_id = e.campaign_id AND s.position = 2
         WHERE p.k BETWEEN lo AND lo + due - 1
    ), m AS (
        INSERT INTO twilio.messages (user_id, id, channel, to_number, from_number, body, segments, encoding, account_sid)
        SELECT user_id, msg_id, 'sms', phone, '+15005550006', 'Day two, Lead: 10% off today at Bolt.', 1, 'GSM-7',
               'AC' || md5(user_id::text)
          FROM w
    ), o AS (
        INSERT INTO twilio.outbox (user_id, kind, message_id) SELECT user_id, 'send_sms', msg_id FROM w ORDER BY msg_id
    ), s AS (
        INSERT INTO twilio.enrollment_sends (user_id, enrollment_id, step_id, campaign_id, position, message_id, phone,
                                             segments, day)
        SELECT user_id, id, sid, campaign_id, 2, msg_id, phone, 1, current_date FROM w
    ), u AS (
        UPDATE twilio.enrollments x
           SET last_position = 2, anchor_at = now(), last_sent_at = now(), next_run_at = now() + interval '100 days'
          FROM w WHERE x.user_id = w.user_id AND x.id = w.id
    )
    SELECT count(*)::integer FROM w
$$;

-- Rounds of one tick per implementation, taking turns (ours, the hand-written one, the floor), each over `due`
-- enrollments made due just before (k from k0 on: no round reuses one), in its own transaction, the commit
-- included in the time, after one warm-up round. A round that does not send exactly `due` messages stops the benchmark.
CREATE PROCEDURE bench.time_ticks(scenario text, due integer, rounds integer, k0 integer)
LANGUAGE plpgsql AS $$
DECLARE
    enrolled integer := (SELECT count(*) FROM twilio.enrollments WHERE status = 'active');
    lo integer;
    impl text;
    t0 timestamptz;
    n integer;
BEGIN
    FOR r IN 0..rounds LOOP  -- round 0 warms up (caches, hint bits) and is not recorded
        lo := k0 + r * due;
        FOREACH impl IN ARRAY ARRAY['ours', 'naive', 'floor'] LOOP
            IF impl = 'ours' THEN
                UPDATE twilio.enrollments e SET next_run_at = now() - interval '1 minute'
                  FROM bench.pick p WHERE p.k BETWEEN lo AND lo + due - 1 AND e.user_id = p.user_id AND e.id = p.id;
            ELSIF impl = 'naive' THEN
                UPDATE drip_naive.enrollments e SET next_run_at = now() - interval '1 minute'
                 WHERE e.id BETWEEN lo AND lo + due - 1;
            END IF;
            COMMIT;
            t0 := clock_timestamp();
            IF impl = 'ours' THEN
                SELECT t.sent INTO n FROM twilio.drip_tick(due) t;
            ELSIF impl = 'naive' THEN
                n := drip_naive.tick();
            ELSE
                n := bench.write_floor(lo, due);
            END IF;
            COMMIT;
            INSERT INTO bench.results
            SELECT scenario, impl, enrolled, due, r, extract(epoch FROM clock_timestamp() - t0) * 1000, n WHERE r > 0;
            IF n <> due THEN
                RAISE EXCEPTION '% (%), round %: % sent, expected %', scenario, impl, r, n, due;
            END IF;
            COMMIT;
        END LOOP;
    END LOOP;
END
$$;
