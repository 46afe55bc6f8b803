-- Drip campaigns: the API as the calling user (and its errors with their SQLSTATEs), template rendering and
-- preview, quiet hours and delays across DST changes, one tick pass (sending through the real outbox, bad data,
-- holds, stops) and the rollups behind analytics. The pg_cron schedule itself is exercised end to end in
-- test/e2e/drips_test.sh.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET timezone = 'UTC';
\getenv alice_sid ALICE_SID
\getenv alice_token ALICE_TOKEN
INSERT INTO auth.users (id, email) VALUES
    ('00000000-0000-0000-0000-0000000d1901', 'dora@example.com'),
    ('00000000-0000-0000-0000-0000000d1902', 'eli@example.com'),
    ('00000000-0000-0000-0000-0000000d1903', 'fay@example.com');

------------------------------------------------------------------------------------------------------------------
-- Time: delays keep the local wall clock over DST changes; quiet hours are local (America/New_York: DST began
-- 2025-03-09 02:00 and ended 2025-11-02 02:00).
------------------------------------------------------------------------------------------------------------------
SELECT twilio._drip_add('2025-03-08 14:00+00', '1 day', 'America/New_York') AS one_day_later_9am_edt,
       twilio._drip_add('2025-03-08 14:00+00', '24 hours', 'America/New_York') AS twenty_four_hours_later,
       twilio._drip_add('2025-11-01 13:00+00', '1 day 2 hours', 'America/New_York') AS fall_back_day_and_hours;
-- Quiet 21:00-08:00 local: a step due at 21:30 the evening before the change waits for 08:00 EDT (12:00 UTC),
-- not 08:00 EST; in the fall, for 08:00 EST (13:00 UTC).
SELECT twilio._drip_allowed_at('2025-03-09 02:30+00', 'America/New_York', '21:00', '08:00', '{}') AS spring,
       twilio._drip_allowed_at('2025-11-02 01:30+00', 'America/New_York', '21:00', '08:00', '{}') AS fall,
       twilio._drip_allowed_at('2025-11-02 15:00+00', 'America/New_York', '21:00', '08:00', '{}') AS not_quiet;
-- A window that does not wrap, quiet weekends (Saturday 2025-03-08): to Monday 09:00 local.
SELECT twilio._drip_allowed_at('2025-03-07 23:30+00', 'America/New_York', '18:00', '20:00', '{6,7}') AS in_window,
       twilio._drip_allowed_at('2025-03-08 15:00+00', 'America/New_York', '00:00', '09:00', '{6,7}') AS weekend,
       twilio._drip_allowed_at('2025-03-08 15:00+00', 'Europe/London', NULL, NULL, '{}') AS no_quiet_hours;

------------------------------------------------------------------------------------------------------------------
-- Campaigns and steps, as Dora
------------------------------------------------------------------------------------------------------------------
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000d1901"}';
SELECT account_sid FROM twilio.save_settings(:'alice_sid', :'alice_token', NULL,
                                             'MGa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', '+15005550006');
SELECT twilio.create_campaign('  ');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.create_campaign('Welcome', 'fax');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.create_campaign('Welcome', 'sms', 'PST');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.create_campaign('Welcome', 'sms', 'Mars/Olympus_Mons');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.create_campaign('Welcome', 'sms', 'America/New_York') AS welcome \gset
SELECT name, status, channel, time_zone, stop_on_reply FROM twilio.campaigns;
SELECT twilio.activate_campaign(:'welcome');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.add_step(:'welcome', 'Hi {{first_name');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.add_step(:'welcome', '   ');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.add_step(:'welcome', 'Hi', delay => '1 day', on_day => 2, at_local_time => '09:00');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.add_step(:'welcome', 'Hi', delay => '-1 hour');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.add_step(:'welcome', 'Hi {{first_name|there}}, welcome to {{shop}}!') AS step1 \gset
SELECT twilio.add_step(:'welcome', 'Day two, {{first_name}}: 10% off today.', '1 day') AS step2 \gset
SELECT twilio.add_step(:'welcome', 'clash', '1 day', "position" => 2);
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.add_step(:'welcome', 'See you Monday 9am, {{first_name|friend}}', on_day => 7,
                       at_local_time => '09:00') AS step3 \gset
SELECT position, delay, on_day, at_local_time, body_template, channel FROM twilio.campaign_steps ORDER BY position;
SELECT twilio.update_step(:'step3', channel => 'fax');
\echo sqlstate=:LAST_ERROR_SQLSTATE

-- Preview: rendered text, characters, segments and encoding; the errors enroll would give.
SELECT * FROM twilio.preview('Hi {{first_name|there}}!', '{}');
SELECT * FROM twilio.preview('Hi {{first_name|there}}!', '{"first_name": "Zoë", "unused": 1}');
SELECT * FROM twilio.preview('Hi {{first_name}} 😀', '{"first_name": "Ada"}');
SELECT * FROM twilio.preview(repeat('x', 150) || ' {{n}}', '{"n": 1234567890}');
SELECT * FROM twilio.preview_step(:'step2', '{"first_name": "Ada"}');
SELECT * FROM twilio.preview('Hi {{first_name}}', '{}');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT * FROM twilio.preview('Hi {{first name}}', '{}');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT * FROM twilio.preview('{{x}}', jsonb_build_object('x', repeat('y', 1601)));
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT * FROM twilio.preview('Hi {{first_name}}', '["Ada"]');
\echo sqlstate=:LAST_ERROR_SQLSTATE

------------------------------------------------------------------------------------------------------------------
-- Enrollments
------------------------------------------------------------------------------------------------------------------
INSERT INTO twilio.opt_outs (user_id, phone) VALUES ('00000000-0000-0000-0000-0000000d1901', '+15005550999');
-- into a draft: held until the campaign is activated
SELECT twilio.enroll(:'welcome', NULL, '+15005550901', NULL, '{"first_name": "Ada", "shop": "Bolt"}') AS ada \gset
SELECT twilio.enroll(:'welcome', NULL, '+15005550901', NULL, '{"first_name": "Ada", "shop": "Bolt"}') = :'ada'
    AS enroll_is_idempotent;
SELECT twilio.enroll(:'welcome', NULL, '5550902', NULL, '{"first_name": "Bo", "shop": "Bolt"}');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.enroll(:'welcome', NULL, '+15005550902', NULL, '{"shop": "Bolt"}');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.enroll(:'welcome', NULL, '+15005550902', 'Nowhere/City', '{"first_name": "Bo", "shop": "Bolt"}');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.enroll(:'welcome', NULL, '+15005550902', NULL, '"Bo"');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.enroll(:'welcome', NULL, '+15005550999', NULL, '{"first_name": "Oz", "shop": "Bolt"}');
\echo sqlstate=:LAST_ERROR_SQLSTATE
-- a Conversations step needs the lead the conversation belongs to
SELECT twilio.update_step(:'step3', channel => 'conversation');
SELECT twilio.enroll(:'welcome', NULL, '+15005550902', NULL, '{"first_name": "Bo", "shop": "Bolt"}');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.update_step(:'step3', channel => '');
SELECT twilio.enroll('00000000-0000-0000-0000-000000000000', NULL, '+15005550902', NULL, '{}');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT item, phone, enrollment_id IS NOT NULL AS has_id, outcome FROM twilio.enroll_many(:'welcome', '[
    {"phone": "+15005550902", "time_zone": "Europe/London", "variables": {"first_name": "Bo", "shop": "Bolt"}},
    {"phone": "+15005550903", "variables": {"first_name": "Cy", "shop": "Bolt"}},
    {"phone": "+15005550999", "variables": {"first_name": "Oz", "shop": "Bolt"}},
    {"phone": "+15005550901", "variables": {"first_name": "Ada", "shop": "Bolt"}}]');
SELECT * FROM twilio.enroll_many(:'welcome', '[{"phone": "+15005550904", "variables": {"first_name": "Di", "shop": "B"}},
                                              {"phone": "+15005550905", "variables": {"shop": "B"}}]');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT count(*) AS nothing_from_the_failed_batch FROM twilio.enrollments WHERE phone IN ('+15005550904', '+15005550905');
SELECT phone, time_zone, status, pause_reason, next_run_at FROM twilio.enrollments ORDER BY phone;
SELECT twilio.activate_campaign(:'welcome');
SELECT phone, status, pause_reason, next_run_at <= now() AS due FROM twilio.enrollments ORDER BY phone;
-- pause and resume, one enrollment and the campaign
SELECT twilio.pause_enrollment(:'ada');
SELECT twilio.pause_campaign(:'welcome');
SELECT phone, status, pause_reason FROM twilio.enrollments ORDER BY phone;
SELECT twilio.pause_campaign(:'welcome');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.resume_campaign(:'welcome');
SELECT phone, status, pause_reason FROM twilio.enrollments ORDER BY phone;
SELECT twilio.resume_enrollment(:'ada');
SELECT phone, status, pause_reason, next_run_at <= now() AS due FROM twilio.enrollments ORDER BY phone;

-- Eli sees none of it, and cannot reach it.
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000d1902"}';
SELECT (SELECT count(*) FROM twilio.campaigns) AS campaigns, (SELECT count(*) FROM twilio.campaign_steps) AS steps,
       (SELECT count(*) FROM twilio.enrollments) AS enrollments;
SELECT twilio.enroll(:'welcome', NULL, '+15005550906', NULL, '{"first_name": "Eve", "shop": "X"}');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.pause_enrollment(:'ada');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT * FROM twilio.preview_step(:'step1', '{}');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.archive_campaign(:'welcome');
\echo sqlstate=:LAST_ERROR_SQLSTATE
-- Fay runs a campaign too, but then disconnects: her enrollment is held, not failed.
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000d1903"}';
SELECT account_sid FROM twilio.save_settings(:'alice_sid', :'alice_token', NULL,
                                             'MGa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', '+15005550006');
SELECT twilio.create_campaign('Fay''s') AS fays \gset
SELECT twilio.add_step(:'fays', 'Hello from Fay') IS NOT NULL AS added;
SELECT twilio.activate_campaign(:'fays');
SELECT twilio.enroll(:'fays', NULL, '+15005550910') IS NOT NULL AS enrolled;
SELECT twilio.disconnect();
RESET ROLE;

------------------------------------------------------------------------------------------------------------------
-- One tick: sends each due first step through the outbox, with its own sender; bad data fails one enrollment only
------------------------------------------------------------------------------------------------------------------
-- Cy's variables went bad after enrolling (written by hand): that enrollment fails with the reason.
UPDATE twilio.enrollments SET variables = '{}' WHERE phone = '+15005550903';
SELECT * FROM twilio.drip_tick(0);
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT * FROM twilio.drip_tick(100);
SELECT e.phone, e.status, e.stop_reason, e.last_position, e.hold_reason, e.last_error,
       CASE WHEN e.hold_reason IS NULL THEN e.next_run_at - e.anchor_at END AS next_in,
       e.next_run_at > now() + interval '4 minutes' AS retried_later
  FROM twilio.enrollments e ORDER BY e.phone;
SELECT m.user_id = '00000000-0000-0000-0000-0000000d1901' AS dora, m.to_number, m.body, m.from_number, m.segments,
       o.kind
  FROM twilio.messages m JOIN twilio.outbox o ON o.user_id = m.user_id AND o.message_id = m.id
 WHERE m.user_id IN ('00000000-0000-0000-0000-0000000d1901', '00000000-0000-0000-0000-0000000d1903')
 ORDER BY m.to_number;
SELECT s.position, s.phone, s.segments, s.outcome FROM twilio.enrollment_sends s ORDER BY s.phone;
-- nothing more is due: a second pass sends nothing, and a step is never sent twice
SELECT * FROM twilio.drip_tick(100);
-- Bo's second step is due a day later (Europe/London); made due by hand, it goes out, then the third waits
-- for 09:00 London time on day 7.
UPDATE twilio.enrollments SET next_run_at = now() - interval '1 second', anchor_at = anchor_at - interval '1 day'
 WHERE phone = '+15005550902';
SELECT sent, waiting FROM twilio.drip_tick(100);
SELECT phone, last_position, (next_run_at AT TIME ZONE 'Europe/London')::time AS next_local_time,
       (next_run_at AT TIME ZONE 'Europe/London')::date - (enrolled_at AT TIME ZONE 'Europe/London')::date AS on_day
  FROM twilio.enrollments WHERE phone = '+15005550902';

-- The dispatcher sends them (the stand-in accepts); wait until it recorded its outcome, so that the statuses set
-- below are not overwritten by it.
CREATE FUNCTION pg_temp.wait_for_outbox() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + interval '30 seconds';
BEGIN
    WHILE EXISTS (SELECT 1 FROM twilio.outbox WHERE user_id = '00000000-0000-0000-0000-0000000d1901'
                                                AND state IN ('pending', 'in_flight', 'ambiguous')) LOOP
        IF clock_timestamp() > deadline THEN
            RETURN 'still busy';
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN 'drained';
END
$$;
SELECT pg_temp.wait_for_outbox();
SELECT to_number, status FROM twilio.messages WHERE user_id = '00000000-0000-0000-0000-0000000d1901' ORDER BY 1, 2;

------------------------------------------------------------------------------------------------------------------
-- Events: a reply stops Ada's enrollment; a STOP stops Bo's (as an opt-out, not a reply); statuses count
------------------------------------------------------------------------------------------------------------------
INSERT INTO twilio.messages (user_id, channel, direction, from_number, to_number, body, status) VALUES
    ('00000000-0000-0000-0000-0000000d1901', 'sms', 'inbound', '+15005550901', '+15005550006', 'Sounds good', 'received');
BEGIN;
INSERT INTO twilio.messages (user_id, channel, direction, from_number, to_number, body, status) VALUES
    ('00000000-0000-0000-0000-0000000d1901', 'sms', 'inbound', '+15005550902', '+15005550006', 'STOP', 'received');
SELECT twilio._apply_opt_keywords('00000000-0000-0000-0000-0000000d1901', '+15005550902', 'STOP', NULL);
COMMIT;
UPDATE twilio.messages SET status = 'delivered'
 WHERE user_id = '00000000-0000-0000-0000-0000000d1901' AND direction = 'outbound' AND to_number = '+15005550901';
UPDATE twilio.messages SET status = 'undelivered'
 WHERE user_id = '00000000-0000-0000-0000-0000000d1901' AND direction = 'outbound' AND to_number = '+15005550902'
   AND body LIKE 'Hi%';
SELECT phone, status, stop_reason FROM twilio.enrollments ORDER BY phone;
SELECT position, phone, outcome, replied_at IS NOT NULL AS replied, opted_out_at IS NOT NULL AS opted_out
  FROM twilio.enrollment_sends ORDER BY phone, position;
-- the rollups agree with the sends they summarise
SELECT d.position, d.sent, d.delivered, d.failed, d.replies, d.opt_outs, d.segments,
       (SELECT count(*) FROM twilio.enrollment_sends s
         WHERE s.user_id = d.user_id AND s.campaign_id = d.campaign_id AND s.step_id = d.step_id) AS sends
  FROM twilio.campaign_stats_daily d ORDER BY d.position;

SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000d1901"}';
SELECT day = current_date AS today, campaign_name, step_position, sent, delivered, failed, replies, opt_outs,
       segments, delivery_rate, reply_rate
  FROM twilio.analytics(current_date - 30, current_date);
SELECT count(*) AS other_campaign FROM twilio.analytics(current_date - 30, current_date, :'fays');
SELECT * FROM twilio.analytics(current_date, current_date - 1);
\echo sqlstate=:LAST_ERROR_SQLSTATE
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000d1902"}';
SELECT count(*) AS eli_sees FROM twilio.analytics(current_date - 30, current_date);
-- archive: the rest stop, and nobody can enroll any more
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000d1901"}';
SELECT twilio.enroll(:'welcome', NULL, '+15005550907', NULL, '{"first_name": "Gil", "shop": "Bolt"}') IS NOT NULL
    AS enrolled;
SELECT twilio.archive_campaign(:'welcome');
SELECT phone, status, stop_reason FROM twilio.enrollments WHERE phone = '+15005550907';
SELECT twilio.enroll(:'welcome', NULL, '+15005550908', NULL, '{"first_name": "Hal", "shop": "Bolt"}');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.drip_tick(10);
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.schedule_drips('10 seconds');
\echo sqlstate=:LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT twilio.schedule_drips('90 seconds');
\echo sqlstate=:LAST_ERROR_SQLSTATE

------------------------------------------------------------------------------------------------------------------
-- Data no check foresaw (a time zone PostgreSQL does not know, written by hand) makes the set-based statement
-- fail: the pass says so and goes row by row, where only that enrollment fails; the other is sent.
------------------------------------------------------------------------------------------------------------------
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000d1901"}';
SELECT twilio.create_campaign('Late') AS late \gset
SELECT twilio.add_step(:'late', 'Hi {{first_name|there}}') IS NOT NULL AS added, twilio.activate_campaign(:'late');
SELECT count(*) AS enrolled FROM twilio.enroll_many(:'late', '[{"phone": "+15005550911"}, {"phone": "+15005550912"}]');
RESET ROLE;
UPDATE twilio.enrollments SET time_zone = 'Mars/Olympus_Mons' WHERE phone = '+15005550912';
SELECT * FROM twilio.drip_tick(100);
SELECT phone, status, stop_reason, last_position, last_error FROM twilio.enrollments
 WHERE phone IN ('+15005550911', '+15005550912') ORDER BY phone;

------------------------------------------------------------------------------------------------------------------
-- A step with channel 'manual_call' queues a call in the user's own manual-actions queue instead of sending a
-- text: once per enrollment and step, the first line its title, the rest kept in its notes; a number on the
-- user's do-not-call list gets no call and the campaign goes on.
------------------------------------------------------------------------------------------------------------------
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000d1901"}';
SELECT twilio.create_campaign('Call them', time_zone => 'America/New_York') AS calls \gset
SELECT twilio.add_step(:'calls', 'Call {{first_name|the lead}} about the quote', delay => '0', channel => 'manual_call')
       IS NOT NULL AS added;
SELECT twilio.add_step(:'calls', E'\n  Second call: {{first_name}}\nAsk about {{topic|the renewal}}.', delay => '0',
                       channel => 'manual_call') IS NOT NULL AS added;
SELECT twilio.add_step(:'calls', 'x', delay => '0', channel => 'fax');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.activate_campaign(:'calls');
INSERT INTO twilio.do_not_call (user_id, phone) VALUES ('00000000-0000-0000-0000-0000000d1901', '+15005550922');
SELECT count(*) AS enrolled FROM twilio.enroll_many(:'calls', '[{"phone": "+15005550921", "variables": {"first_name": "Ivy"}},
                                                             {"phone": "+15005550922", "variables": {"first_name": "Jon"}}]');
RESET ROLE;
SELECT claimed, sent, failed FROM twilio.drip_tick(100);
SELECT claimed, sent, completed, failed FROM twilio.drip_tick(100);
SELECT claimed FROM twilio.drip_tick(100);
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000d1901"}';
SELECT a.phone, a.kind, a.source, a.step_position, a.status, a.title, a.notes, a.time_zone,
       a.enrollment_id = e.id AS of_the_enrollment
  FROM twilio.manual_actions a JOIN twilio.enrollments e ON e.id = a.enrollment_id
 WHERE e.campaign_id = :'calls' ORDER BY a.phone, a.step_position;
SELECT phone, status, last_position, stop_reason FROM twilio.enrollments WHERE campaign_id = :'calls' ORDER BY phone;
SELECT count(*) AS texts_sent FROM twilio.messages WHERE to_number IN ('+15005550921', '+15005550922');
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000d1902"}';
SELECT count(*) AS eli_sees FROM twilio.manual_actions WHERE source = 'drip';
RESET ROLE;
