-- Drip benchmark, analytics (bench/drip_run.sh): one user with 1,000,000 drip messages over the last 30 days
-- (5 campaigns of 2 steps, 500,000 contacts), then twilio.analytics over those 30 days against the GROUP BY a user
-- would write over the messages table, both as that user (role authenticated, RLS on), taking turns.
-- :rounds rounds of each after one warm-up call of each.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\set uid '''00000000-0000-0000-0000-0000000a0a0a'''
INSERT INTO auth.users (id, email) VALUES (:uid, 'analytics@bench.test');
INSERT INTO twilio.campaigns (user_id, id, name, status)
SELECT :uid, ('cccccccc-0000-0000-0000-' || lpad(c::text, 12, '0'))::uuid, 'Campaign ' || c, 'active'
  FROM generate_series(1, 5) c;
INSERT INTO twilio.campaign_steps (user_id, id, campaign_id, position, delay, body_template)
SELECT :uid, ('bbbbbbbb-0000-0000-0000-' || lpad((c * 10 + p)::text, 12, '0'))::uuid,
       ('cccccccc-0000-0000-0000-' || lpad(c::text, 12, '0'))::uuid, p, interval '1 day', 'Step ' || p
  FROM generate_series(1, 5) c, generate_series(1, 2) p;

-- The history, written directly (triggers and foreign-key checks off for speed). Send g is step 1 + g % 2 of
-- contact (g + 1) / 2, on a day up to 29 days before today (a hash of g); 80% delivered, 10% failed, 5% replied,
-- 1% opted out; the rollups are what the tick and the event triggers would have added up from the same sends.
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO twilio.enrollments (user_id, id, campaign_id, phone, time_zone, status, last_position, next_run_at,
                                finished_at)
SELECT :uid, ('eeeeeeee-0000-0000-0000-' || lpad(to_hex(i), 12, '0'))::uuid,
       ('cccccccc-0000-0000-0000-' || lpad((1 + i % 5)::text, 12, '0'))::uuid, '+1666' || lpad(i::text, 7, '0'),
       'UTC', 'completed', 2, NULL, now()
  FROM generate_series(1, 500000) i;
CREATE TEMP TABLE gen AS
SELECT g, (g + 1) / 2 AS i, 1 + g % 2 AS position, current_date - abs(hashint4(g)) % 30 AS day,
       ('aaaaaaaa-0000-0000-0000-' || lpad(to_hex(g), 12, '0'))::uuid AS message_id,
       CASE WHEN g % 10 < 8 THEN 'delivered' WHEN g % 10 = 8 THEN 'failed' ELSE 'sent' END AS status,
       1 + (g % 7 = 0)::integer AS segments
  FROM generate_series(1, 1000000) g;
INSERT INTO twilio.messages (user_id, id, channel, to_number, from_number, body, status, segments, created_at, sent_at)
SELECT :uid, message_id, 'sms', '+1666' || lpad(i::text, 7, '0'), '+15005550006', 'Step ' || position, status,
       segments, day + time '12:00', day + time '12:00'
  FROM gen;
INSERT INTO twilio.enrollment_sends (user_id, enrollment_id, step_id, campaign_id, position, message_id, phone,
                                     segments, day, outcome, replied_at, opted_out_at, sent_at)
SELECT :uid, ('eeeeeeee-0000-0000-0000-' || lpad(to_hex(i), 12, '0'))::uuid,
       ('bbbbbbbb-0000-0000-0000-' || lpad(((1 + i % 5) * 10 + position)::text, 12, '0'))::uuid,
       ('cccccccc-0000-0000-0000-' || lpad((1 + i % 5)::text, 12, '0'))::uuid, position, message_id,
       '+1666' || lpad(i::text, 7, '0'), segments, day,
       CASE status WHEN 'sent' THEN 'pending' ELSE status END,
       CASE WHEN g % 20 = 3 THEN day + time '13:00' END, CASE WHEN g % 100 = 5 THEN day + time '13:00' END,
       day + time '12:00'
  FROM gen;
INSERT INTO twilio.campaign_stats_daily (user_id, campaign_id, day, step_id, position, sent, delivered, failed,
                                         replies, opt_outs, segments)
SELECT user_id, campaign_id, day, step_id, position, count(*), count(*) FILTER (WHERE outcome = 'delivered'),
       count(*) FILTER (WHERE outcome = 'failed'), count(replied_at), count(opted_out_at), sum(segments)
  FROM twilio.enrollment_sends WHERE user_id = :uid
 GROUP BY user_id, campaign_id, day, step_id, position;
COMMIT;
VACUUM ANALYZE twilio.enrollments, twilio.messages, twilio.enrollment_sends, twilio.campaign_stats_daily;

-- What a user would write for their dashboard: a GROUP BY over their messages, joined to the sends for the
-- campaign and step of each (the same rows and figures as twilio.analytics).
CREATE FUNCTION drip_naive.analytics(from_day date, to_day date)
    RETURNS TABLE (day date, campaign_id uuid, campaign_name text, step_position integer, step_id uuid,
                   sent bigint, delivered bigint, failed bigint, replies bigint, opt_outs bigint, segments bigint,
                   delivery_rate numeric, reply_rate numeric)
LANGUAGE sql STABLE AS $$
    SELECT s.day, s.campaign_id, c.name, s.position, s.step_id, count(*),
           count(*) FILTER (WHERE m.status IN ('delivered', 'read')),
           count(*) FILTER (WHERE m.status IN ('failed', 'undelivered')), count(s.replied_at), count(s.opted_out_at),
           sum(m.segments), round(count(*) FILTER (WHERE m.status IN ('delivered', 'read'))::numeric / count(*), 4),
           round(count(s.replied_at)::numeric / count(*), 4)
      FROM twilio.messages m
      JOIN twilio.enrollment_sends s ON s.user_id = m.user_id AND s.message_id = m.id
      JOIN twilio.campaigns c ON c.user_id = s.user_id AND c.id = s.campaign_id
     WHERE m.user_id = auth.uid() AND m.direction = 'outbound'
       AND m.created_at >= from_day AND m.created_at < to_day + 1
     GROUP BY s.day, s.campaign_id, c.name, s.position, s.step_id
     ORDER BY s.day, c.name, s.campaign_id, s.position
$$;
GRANT USAGE ON SCHEMA bench, drip_naive TO authenticated;
GRANT INSERT ON bench.results TO authenticated;
GRANT EXECUTE ON FUNCTION drip_naive.analytics(date, date) TO authenticated;

SET ROLE authenticated;
SELECT set_config('request.jwt.claims', json_build_object('sub', :uid, 'role', 'authenticated')::text, false) AS claims \gset
-- Both answer the same (checked here, printed by drip_run.sh), then the timed rounds.
WITH o AS (SELECT * FROM twilio.analytics(current_date - 29, current_date)),
     n AS (SELECT * FROM drip_naive.analytics(current_date - 29, current_date))
SELECT (SELECT count(*) FROM o) AS rows_ours, (SELECT sum(sent) FROM o) AS sent_ours,
       NOT EXISTS (TABLE o EXCEPT TABLE n) AND NOT EXISTS (TABLE n EXCEPT TABLE o) AS same_rows;

SELECT set_config('bench.rounds', :'rounds', false) AS rounds \gset
DO $$
DECLARE
    t0 timestamptz;
    n bigint;
BEGIN
    PERFORM count(*) FROM twilio.analytics(current_date - 29, current_date);  -- warm-up, not counted
    PERFORM count(*) FROM drip_naive.analytics(current_date - 29, current_date);
    FOR r IN 1..current_setting('bench.rounds')::integer LOOP
        t0 := clock_timestamp();
        SELECT sum(a.sent) INTO n FROM twilio.analytics(current_date - 29, current_date) a;
        INSERT INTO bench.results VALUES ('analytics', 'ours', 1000000, NULL, r,
                                          extract(epoch FROM clock_timestamp() - t0) * 1000, n);
        t0 := clock_timestamp();
        SELECT sum(a.sent) INTO n FROM drip_naive.analytics(current_date - 29, current_date) a;
        INSERT INTO bench.results VALUES ('analytics', 'naive', 1000000, NULL, r,
                                          extract(epoch FROM clock_timestamp() - t0) * 1000, n);
    END LOOP;
END
$$;
