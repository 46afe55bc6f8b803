-- The power dialer's SQL side: dialer settings, do-not-call, the manual-actions queue (every function and error
-- with its SQLSTATE), calling hours across time zones and DST, twilio.dial's checks and writes, and voice status
-- callbacks through handle_webhook (signed as Twilio signs), in and out of order, settling actions and
-- auto-advancing the queue. The dispatcher's side of a call (the Calls request) is tested with the dispatcher;
-- here each dial's outbox job is set aside in its own transaction and its SID recorded as the dispatcher would.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET timezone = 'UTC';
\getenv alice_sid ALICE_SID
\getenv alice_token ALICE_TOKEN
\getenv bob_sid BOB_SID
\getenv bob_token BOB_TOKEN
SET regress.alice_token = :'alice_token';
SET regress.bob_token = :'bob_token';
\set dana '00000000-0000-0000-0000-0000000da101'
\set evan '00000000-0000-0000-0000-0000000da102'
\set fred '00000000-0000-0000-0000-0000000da103'
\set as_dana 'SET request.jwt.claims = ''{"sub": "00000000-0000-0000-0000-0000000da101"}'''
\set as_evan 'SET request.jwt.claims = ''{"sub": "00000000-0000-0000-0000-0000000da102"}'''
INSERT INTO auth.users (id, email) VALUES (:'dana', 'dana@example.com'), (:'evan', 'evan@example.com'),
                                          (:'fred', 'fred@example.com');
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'byo_twilio_relay') THEN
        CREATE ROLE byo_twilio_relay NOLOGIN;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA twilio TO byo_twilio_relay;
GRANT EXECUTE ON FUNCTION twilio.handle_webhook(text, text, text, text) TO byo_twilio_relay;

-- Runs a statement as the current role; its SQLSTATE and message instead of failing the script.
CREATE FUNCTION pg_temp.try(statement text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text;
    msg text;
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN state || ': ' || regexp_replace(msg, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<id>', 'g');
END
$$;
-- Posts a voice status callback as Twilio would (form body, signed with token_setting's token); returns the answer.
CREATE FUNCTION pg_temp.post(url text, params jsonb, token_setting text DEFAULT 'regress.alice_token') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    body text := (SELECT string_agg(key || '=' || replace(replace(value, '+', '%2B'), ' ', '+'), '&')
                    FROM jsonb_each_text(params));
    sig text := twilio.compute_signature(current_setting(token_setting), url, params);
    r record;
BEGIN
    SET LOCAL ROLE byo_twilio_relay;
    SELECT * INTO r FROM twilio.handle_webhook(url, sig, 'application/x-www-form-urlencoded', body);
    RETURN r.status || ' ' || r.body;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.post(text, jsonb, text) TO byo_twilio_relay;

------------------------------------------------------------------------------------------------------------------
-- Dialer settings
------------------------------------------------------------------------------------------------------------------
SET ROLE authenticated;
:as_dana;
SELECT account_sid IS NOT NULL AS connected FROM twilio.save_settings(:'alice_sid', :'alice_token', NULL,
                                                  'MGa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', '+15005550006');
-- never saved: the defaults
SELECT agent_phone, calling_hours_start, calling_hours_end, default_time_zone, auto_advance, updated_at
  FROM twilio.get_dialer_settings();
SELECT agent_phone, calling_hours_start, calling_hours_end, default_time_zone, auto_advance,
       updated_at IS NOT NULL AS saved
  FROM twilio.save_dialer_settings(agent_phone => '+15005550100', default_time_zone => 'America/New_York');
-- NULL keeps a value, '' clears one
SELECT agent_phone, calling_hours_start, calling_hours_end, default_time_zone, auto_advance
  FROM twilio.save_dialer_settings(calling_hours_start => '09:00', auto_advance => false);
SELECT agent_phone, default_time_zone FROM twilio.save_dialer_settings(default_time_zone => '');
SELECT pg_temp.try($$SELECT twilio.save_dialer_settings(agent_phone => '555-0100')$$) AS bad_agent_phone,
       pg_temp.try($$SELECT twilio.save_dialer_settings(default_time_zone => 'EST')$$) AS abbreviation,
       pg_temp.try($$SELECT twilio.save_dialer_settings(default_time_zone => 'Mars/Olympus_Mons')$$) AS unknown_zone;
SELECT pg_temp.try($$SELECT twilio.save_dialer_settings(calling_hours_start => '21:00')$$) AS start_after_end,
       pg_temp.try($$SELECT twilio.save_dialer_settings(calling_hours_end => '09:00')$$) AS empty_window;
SELECT calling_hours_start, calling_hours_end, auto_advance FROM twilio.get_dialer_settings();  -- unchanged
SELECT agent_phone, calling_hours_start, calling_hours_end, default_time_zone, auto_advance
  FROM twilio.save_dialer_settings(calling_hours_start => '08:00', auto_advance => true);
-- only the owner's row is visible; the table is written through the function only
SELECT count(*) AS visible_settings FROM twilio.dialer_settings;
UPDATE twilio.dialer_settings SET auto_advance = false;
\echo sqlstate=:LAST_ERROR_SQLSTATE
:as_evan;
SELECT count(*) AS visible_to_evan FROM twilio.dialer_settings;
RESET ROLE;
RESET request.jwt.claims;
SET ROLE authenticated;
SELECT pg_temp.try('SELECT twilio.get_dialer_settings()') AS no_user;
SET ROLE anon;
SELECT pg_temp.try('SELECT twilio.get_dialer_settings()') AS anon;
RESET ROLE;

------------------------------------------------------------------------------------------------------------------
-- Do-not-call: the user's own manual entries, by hand
------------------------------------------------------------------------------------------------------------------
SET ROLE authenticated;
:as_dana;
INSERT INTO twilio.do_not_call (user_id, phone, reason) VALUES (:'dana', '+15005550290', 'asked us not to call');
INSERT INTO twilio.do_not_call (user_id, phone) VALUES (:'dana', '+15005550291');
INSERT INTO twilio.do_not_call (user_id, phone, source) VALUES (:'dana', '+15005550292', 'call_outcome');
\echo sqlstate=:LAST_ERROR_SQLSTATE
INSERT INTO twilio.do_not_call (user_id, phone) VALUES (:'evan', '+15005550293');
\echo sqlstate=:LAST_ERROR_SQLSTATE
INSERT INTO twilio.do_not_call (user_id, phone) VALUES (:'dana', '5550294');
\echo sqlstate=:LAST_ERROR_SQLSTATE
DELETE FROM twilio.do_not_call WHERE phone = '+15005550291';
SELECT phone, source, reason FROM twilio.do_not_call ORDER BY phone;
:as_evan;
SELECT count(*) AS evan_sees FROM twilio.do_not_call;
RESET ROLE;

------------------------------------------------------------------------------------------------------------------
-- Creating actions
------------------------------------------------------------------------------------------------------------------
SET ROLE authenticated;
:as_dana;
SELECT kind, title, phone, lead_id, priority, status, source, due_at = now() AS due_now
  FROM twilio.create_action('call', '  Call Ada  ', '+15005550201', '11111111-0000-0000-0000-0000000da001',
                            priority => 5, notes => 'met at the fair');
SELECT kind, title, phone, status FROM twilio.create_action('follow_up', 'Send the brochure', notes => 'to the front desk');
SELECT kind, title, due_at > now() AS later FROM twilio.create_action('text', 'Text Bo tomorrow', '+15005550202',
                                                                    due_at => now() + interval '1 day');
SELECT pg_temp.try($$SELECT twilio.create_action('visit', 'x', '+15005550201')$$) AS bad_kind,
       pg_temp.try($$SELECT twilio.create_action('call', '   ', '+15005550201')$$) AS blank_title;
SELECT pg_temp.try($$SELECT twilio.create_action('call', repeat('t', 201), '+15005550201')$$) AS long_title,
       pg_temp.try($$SELECT twilio.create_action('call', 'no phone')$$) AS no_phone;
SELECT pg_temp.try($$SELECT twilio.create_action('text', 'x', '0201')$$) AS bad_phone,
       pg_temp.try($$SELECT twilio.create_action('call', 'x', '+15005550201', notes => repeat('n', 4001))$$) AS long_notes;
SELECT pg_temp.try($$SELECT twilio.create_action('call', 'x', '+15005550201', time_zone => 'Nowhere/Land')$$) AS bad_zone,
       pg_temp.try($$SELECT twilio.create_action(NULL, 'x')$$) AS null_kind;
-- in bulk: in order, all or nothing, an error names the item
SELECT kind, title, phone, priority, time_zone, source FROM twilio.create_actions('[
    {"kind": "call", "title": "Bulk one", "phone": "+15005550211", "priority": 1, "time_zone": "Europe/Paris"},
    {"kind": "follow_up", "title": "Bulk two", "notes": "n", "due_at": "2030-01-01T09:00:00Z"}]');
SELECT pg_temp.try($$SELECT twilio.create_actions('[{"kind": "call", "title": "ok", "phone": "+15005550212"},
                                                     {"kind": "call", "title": "bad", "phone": "12"}]')$$) AS bad_item;
SELECT pg_temp.try($$SELECT twilio.create_actions('[{"kind": "call", "title": "x", "phone": "+15005550212", "prio": 1}]')$$) AS unknown_key,
       pg_temp.try($$SELECT twilio.create_actions('[{"kind": "call", "title": "x", "phone": "+15005550212", "lead_id": "L1"}]')$$) AS bad_uuid;
SELECT pg_temp.try($$SELECT twilio.create_actions('{"kind": "call"}')$$) AS not_an_array,
       pg_temp.try($$SELECT twilio.create_actions('[1]')$$) AS not_an_object,
       pg_temp.try($$SELECT twilio.create_actions((SELECT jsonb_agg('{}'::jsonb) FROM generate_series(1, 1001)))$$) AS too_many;
SELECT count(*) AS none_of_the_failed_batches FROM twilio.manual_actions WHERE phone = '+15005550212';
SELECT count(*) AS empty_batch FROM twilio.create_actions('[]');
-- the table is written through the functions only
INSERT INTO twilio.manual_actions (user_id, kind, title, phone) VALUES (:'dana', 'call', 'direct', '+15005550201');
\echo sqlstate=:LAST_ERROR_SQLSTATE
UPDATE twilio.manual_actions SET priority = 100;
\echo sqlstate=:LAST_ERROR_SQLSTATE
DELETE FROM twilio.manual_actions;
\echo sqlstate=:LAST_ERROR_SQLSTATE
RESET ROLE;
-- a drip step queues its action once, however often the tick asks
SELECT twilio._create_action(:'dana', 'call', 'Drip call', '+15005550213', NULL, now() + interval '2 days', 0, NULL,
                             NULL, 'drip', 'ea000000-0000-0000-0000-0000000da001', 2)
     = twilio._create_action(:'dana', 'call', 'Drip call', '+15005550213', NULL, now() + interval '2 days', 0, NULL,
                             NULL, 'drip', 'ea000000-0000-0000-0000-0000000da001', 2) AS same_action;
SELECT title, source, step_position FROM twilio.manual_actions WHERE source = 'drip' AND user_id = :'dana';

------------------------------------------------------------------------------------------------------------------
-- Working the queue: next (claimed; higher priority first, then earlier due), current, complete, skip, release
------------------------------------------------------------------------------------------------------------------
SET ROLE authenticated;
:as_dana;
SELECT count(*) AS nothing_current FROM twilio.current_action();
SELECT title, status, claimed_at IS NOT NULL AS claimed FROM twilio.next_action();
SELECT title, status FROM twilio.next_action();  -- the same one while it is in progress
SELECT title FROM twilio.current_action();
SELECT id AS ada FROM twilio.current_action() \gset
-- completing hands back the next one (auto_advance is on); notes are appended
SELECT title, status FROM twilio.complete_action(:'ada', 'callback', 'call back Friday');
SELECT title, status, outcome, notes, completed_at IS NOT NULL AS completed FROM twilio.manual_actions
 WHERE id = :'ada';
SELECT id AS bulk_one FROM twilio.current_action() \gset
-- completing it again amends the outcome and appends the notes; the current action comes back, nothing more claimed
SELECT title, status FROM twilio.complete_action(:'ada', 'not_interested', 'Friday is off: not interested');
SELECT status, outcome, notes FROM twilio.manual_actions WHERE id = :'ada';
SELECT count(*) AS in_progress FROM twilio.manual_actions WHERE user_id = :'dana' AND status = 'in_progress';
SELECT pg_temp.try(format('SELECT twilio.skip_action(%L)', :'ada')) AS skip_done,
       pg_temp.try(format('SELECT twilio.release_action(%L)', :'ada')) AS release_done;
SELECT pg_temp.try(format('SELECT twilio.complete_action(%L, %L)', :'bulk_one', 'great')) AS bad_outcome,
       pg_temp.try(format('SELECT twilio.complete_action(%L, NULL)', :'bulk_one')) AS no_outcome,
       pg_temp.try($$SELECT twilio.complete_action('00000000-0000-0000-0000-000000000000', 'other')$$) AS unknown_id;
-- release: back in the queue; skip: finished, and the next one handed back
SELECT title, status, claimed_at FROM twilio.release_action(:'bulk_one');
SELECT title, status FROM twilio.next_action();
SELECT title, status FROM twilio.skip_action(:'bulk_one', 'wrong person');
SELECT title, status, outcome, notes FROM twilio.manual_actions WHERE id = :'bulk_one';
-- skipped is final
SELECT pg_temp.try(format('SELECT twilio.complete_action(%L, %L)', :'bulk_one', 'other')) AS complete_skipped;
SELECT id AS brochure FROM twilio.current_action() \gset
-- a completion that would make the notes too long is refused, and changes nothing
SELECT pg_temp.try(format('SELECT twilio.complete_action(%L, %L, %L)', :'brochure', 'sent', repeat('n', 4000))) AS notes_overflow;
-- do_not_call as an outcome puts the number on the list; a follow-up without a phone cannot
SELECT pg_temp.try(format('SELECT twilio.complete_action(%L, %L)', :'brochure', 'do_not_call')) AS dnc_without_phone;
-- auto_advance off: completing hands back nothing
SELECT auto_advance FROM twilio.save_dialer_settings(auto_advance => false);
SELECT count(*) AS handed_back FROM twilio.complete_action(:'brochure', 'sent');
SELECT auto_advance FROM twilio.save_dialer_settings(auto_advance => true);
-- nothing due: the text is for tomorrow, the drip call for the day after
SELECT count(*) AS nothing_due FROM twilio.next_action();
-- evan cannot see, complete, skip or release dana's actions
:as_evan;
SELECT count(*) AS evan_sees FROM twilio.manual_actions;
SELECT pg_temp.try(format('SELECT twilio.complete_action(%L, %L)', :'bulk_one', 'other')) AS evan_completes,
       pg_temp.try(format('SELECT twilio.skip_action(%L)', :'bulk_one')) AS evan_skips,
       pg_temp.try(format('SELECT twilio.release_action(%L)', :'bulk_one')) AS evan_releases;
SELECT count(*) AS evan_next FROM twilio.next_action();
RESET ROLE;
-- a claim abandoned over 30 minutes ago (no call going on) is open again
UPDATE twilio.manual_actions SET due_at = now() - interval '1 hour' WHERE user_id = :'dana' AND kind = 'text';
SET ROLE authenticated;
:as_dana;
SELECT title, status FROM twilio.next_action();
RESET ROLE;
UPDATE twilio.manual_actions SET claimed_at = now() - interval '31 minutes' WHERE user_id = :'dana' AND kind = 'text';
SET ROLE authenticated;
:as_dana;
SELECT count(*) AS stale_is_not_current FROM twilio.current_action();
SELECT title, status, claimed_at > now() - interval '1 minute' AS claimed_again FROM twilio.next_action();
SELECT title, status FROM twilio.complete_action((SELECT id FROM twilio.current_action()), 'sent');
RESET ROLE;

------------------------------------------------------------------------------------------------------------------
-- Calling hours are local to the lead: [start, end), on the wall clock of its time zone, DST included
-- (America/New_York: DST began 2025-03-09 and ended 2025-11-02; Australia/Sydney: ended 2025-04-06 local)
------------------------------------------------------------------------------------------------------------------
SELECT at, tz, (at AT TIME ZONE tz)::time AS local_time, twilio._within_calling_hours(at, tz, '08:00', '21:00') AS ok
  FROM (VALUES ('2025-03-08 12:30+00'::timestamptz, 'America/New_York'),  -- 07:30 EST
               ('2025-03-09 12:30+00', 'America/New_York'),               -- 08:30 EDT: a day later, the same UTC time is in
               ('2025-11-01 12:30+00', 'America/New_York'),               -- 08:30 EDT
               ('2025-11-02 12:30+00', 'America/New_York'),               -- 07:30 EST
               ('2025-11-03 01:59+00', 'America/New_York'),               -- 20:59 EST
               ('2025-04-04 21:30+00', 'Australia/Sydney'),               -- 08:30 AEDT
               ('2025-04-05 21:30+00', 'Australia/Sydney'),               -- 07:30 AEST (clocks went back at 16:00 UTC)
               ('2025-03-08 02:30+00', 'Asia/Kolkata'),                   -- 08:00 IST, the first minute
               ('2025-03-08 15:30+00', 'Asia/Kolkata'),                   -- 21:00 IST: the end is excluded
               ('2025-03-08 15:30+00', 'UTC')) v(at, tz);
SELECT pg_temp.try($$SELECT twilio._require_calling_hours('+15005550201', 'America/New_York', '08:00', '21:00',
                                                           '2025-11-02 12:30+00')$$) AS outside;

------------------------------------------------------------------------------------------------------------------
-- twilio.dial: each check a clear error, and nothing written
------------------------------------------------------------------------------------------------------------------
-- Etc/GMT zones where it is now about noon (inside the default 08:00-21:00) and about 03:00 (outside)
SELECT 'Etc/GMT' || CASE WHEN n >= 0 THEN '+' || n ELSE n::text END AS noon_zone
  FROM (SELECT ((extract(hour FROM now() AT TIME ZONE 'UTC')::integer - 12 + 36) % 24) - 12 AS n) h \gset
SELECT 'Etc/GMT' || CASE WHEN n >= 0 THEN '+' || n ELSE n::text END AS night_zone
  FROM (SELECT ((extract(hour FROM now() AT TIME ZONE 'UTC')::integer - 3 + 36) % 24) - 12 AS n) h \gset
SELECT (SELECT count(*) FROM twilio.voice_calls WHERE user_id = :'dana') AS calls_before,
       (SELECT count(*) FROM twilio.outbox WHERE user_id = :'dana' AND kind = 'create_call') AS jobs_before \gset
SET ROLE authenticated;
:as_dana;
SELECT id AS call_ada FROM twilio.create_action('call', 'Call Ada again', '+15005550201', time_zone => :'noon_zone') \gset
SELECT id AS call_night FROM twilio.create_action('call', 'Call Cy at night', '+15005550203', time_zone => :'night_zone') \gset
SELECT id AS call_dnc FROM twilio.create_action('call', 'Call Dee', '+15005550290', time_zone => :'noon_zone') \gset
SELECT pg_temp.try('SELECT twilio.dial()') AS neither,
       pg_temp.try(format('SELECT twilio.dial(%L, %L)', :'call_ada', '+15005550201')) AS both;
SELECT pg_temp.try(format('SELECT twilio.dial(%L, agent_phone => %L)', :'call_ada', '0100')) AS bad_agent,
       pg_temp.try(format('SELECT twilio.dial(lead_phone => %L, time_zone => %L)', '555', :'noon_zone')) AS bad_lead;
SELECT pg_temp.try(format('SELECT twilio.dial(lead_phone => %L, time_zone => %L)', '+15005550100', :'noon_zone')) AS lead_is_agent,
       pg_temp.try(format('SELECT twilio.dial(%L)', :'call_dnc')) AS do_not_call;
SELECT pg_temp.try(format('SELECT twilio.dial(lead_phone => %L)', '+15005550204')) AS no_time_zone,
       pg_temp.try(format('SELECT twilio.dial(lead_phone => %L, time_zone => %L)', '+15005550204', 'Moon/Base')) AS bad_time_zone;
SELECT regexp_replace(pg_temp.try(format('SELECT twilio.dial(%L)', :'call_night')),
                      '[A-Z][a-z][a-z] [0-9][0-9]:[0-9][0-9] in Etc/GMT[-+][0-9]+', 'Ddd HH:MM in <night zone>') AS outside_hours;
SELECT pg_temp.try(format('SELECT twilio.dial(%L)', :'ada')) AS action_done,
       pg_temp.try($$SELECT twilio.dial('00000000-0000-0000-0000-000000000000')$$) AS unknown_action;
SELECT agent_phone FROM twilio.save_dialer_settings(agent_phone => '');
SELECT pg_temp.try(format('SELECT twilio.dial(%L)', :'call_ada')) AS no_agent_phone;
SELECT agent_phone FROM twilio.save_dialer_settings(agent_phone => '+15005550100');
:as_evan;
SELECT pg_temp.try(format('SELECT twilio.dial(%L)', :'call_ada')) AS not_connected;
SELECT account_sid IS NOT NULL AS connected FROM twilio.save_settings(:'bob_sid', :'bob_token', 'ISb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0',
                                                                      'MGb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0', '+15005550009');
SELECT pg_temp.try(format('SELECT twilio.dial(%L, agent_phone => %L)', :'call_ada', '+15005550110')) AS evan_dials_danas_action;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000da103"}';
SELECT sms_number FROM twilio.save_settings(:'alice_sid', :'alice_token');
SELECT pg_temp.try(format('SELECT twilio.dial(lead_phone => %L, agent_phone => %L, time_zone => %L)',
                          '+15005550201', '+15005550110', :'noon_zone')) AS no_caller_id;
RESET ROLE;
SELECT (SELECT count(*) FROM twilio.voice_calls WHERE user_id = :'dana') - :calls_before AS calls_written,
       (SELECT count(*) FROM twilio.outbox WHERE user_id = :'dana' AND kind = 'create_call') - :jobs_before AS jobs_written,
       (SELECT count(*) FROM twilio.voice_calls WHERE user_id IN (:'evan', :'fred')) AS others_calls;

------------------------------------------------------------------------------------------------------------------
-- Auto-advance end to end: three call actions; the first call completes and the second becomes current
------------------------------------------------------------------------------------------------------------------
SELECT webhook_key AS dana_key FROM twilio.user_settings WHERE user_id = :'dana' \gset
\set voice_url 'https://relay.example.test/twilio/' :dana_key '/voice_status'
SET ROLE authenticated;
:as_dana;
SELECT title FROM twilio.create_actions(format('[
    {"kind": "call", "title": "Q1 Ann", "phone": "+15005550221", "priority": 30, "time_zone": "%1$s"},
    {"kind": "call", "title": "Q2 Bea", "phone": "+15005550222", "priority": 20, "time_zone": "%1$s"},
    {"kind": "call", "title": "Q3 Cal", "phone": "+15005550223", "priority": 10, "time_zone": "%1$s"}]', :'noon_zone')::jsonb);
SELECT title FROM twilio.next_action();
SELECT id AS q1 FROM twilio.current_action() \gset
RESET ROLE;
BEGIN;
SET LOCAL ROLE authenticated;
:as_dana;
SELECT status, leg, to_number, from_number, lead_phone, account_sid = :'alice_sid' AS own_account, call_sid
  FROM twilio.dial(:'q1');
RESET ROLE;
SELECT a.status, a.call_id = v.id AS call_recorded, o.kind, o.state
  FROM twilio.manual_actions a JOIN twilio.voice_calls v ON v.user_id = a.user_id AND v.action_id = a.id
  JOIN twilio.outbox o ON o.user_id = a.user_id AND o.call_id = v.id
 WHERE a.id = :'q1';
-- the dispatcher's part, stood in for: the job set aside before it can run, the SID Twilio would return recorded
UPDATE twilio.outbox SET state = 'done', finished_at = now()
 WHERE user_id = :'dana' AND call_id = (SELECT call_id FROM twilio.manual_actions WHERE id = :'q1');
UPDATE twilio.voice_calls SET call_sid = 'CA0000000000000000000000000000da01' WHERE action_id = :'q1';
COMMIT;
SET ROLE authenticated;
:as_dana;
SELECT pg_temp.try(format('SELECT twilio.dial(%L)', :'q1')) AS dialed_twice,
       pg_temp.try(format('SELECT twilio.release_action(%L)', :'q1')) AS release_during_call,
       pg_temp.try(format('SELECT twilio.dial(lead_phone => %L, time_zone => %L)', '+15005550221', :'noon_zone')) AS same_lead_twice;
RESET ROLE;
-- Twilio's callbacks: the agent leg rings and answers, the bridged lead leg (a new CallSid whose ParentCallSid is
-- the agent leg) rings, answers and completes, then the agent leg completes
SELECT pg_temp.post(:'voice_url', jsonb_build_object('CallSid', 'CA0000000000000000000000000000da01', 'AccountSid', :'alice_sid', 'CallStatus', s, 'From', '+15005550006', 'To', '+15005550100', 'SequenceNumber', n::text))
  FROM (VALUES (0, 'initiated'), (1, 'ringing'), (2, 'in-progress')) v(n, s) ORDER BY n;
SELECT pg_temp.post(:'voice_url', jsonb_build_object('CallSid', 'CA0000000000000000000000000000da02', 'ParentCallSid', 'CA0000000000000000000000000000da01', 'AccountSid', :'alice_sid', 'CallStatus', s, 'From', '+15005550006', 'To', '+15005550221', 'SequenceNumber', n::text) || x)
  FROM (VALUES (0, 'initiated', '{}'::jsonb), (1, 'ringing', '{}'), (2, 'in-progress', '{}'),
               (3, 'completed', '{"CallDuration": "61", "SipResponseCode": "200", "AnsweredBy": "human"}')) v(n, s, x)
 ORDER BY n;
SET ROLE authenticated;
:as_dana;
SELECT title, status FROM twilio.current_action();  -- still Q1: the agent leg is on
RESET ROLE;
SELECT pg_temp.post(:'voice_url', '{"CallSid": "CA0000000000000000000000000000da01", "CallStatus": "completed", "CallDuration": "75", "From": "+15005550006", "To": "+15005550100", "SequenceNumber": "3"}');
SET ROLE authenticated;
:as_dana;
SELECT title, status, outcome FROM twilio.manual_actions WHERE title LIKE 'Q_ %' ORDER BY title;
SELECT title, status FROM twilio.current_action();
SELECT leg, status, to_number, lead_phone, duration_seconds, answered_by, sip_response_code,
       answered_at IS NOT NULL AS answered, ended_at IS NOT NULL AS ended, action_id = :'q1' AS for_q1,
       parent_call_sid
  FROM twilio.voice_calls WHERE action_id = :'q1' ORDER BY leg;
SELECT event_type, effect FROM twilio.webhook_events WHERE kind = 'voice_status' AND params ->> 'CallSid' LIKE '%da0_'
 ORDER BY id;
RESET ROLE;
-- after the call the user records what it achieved: the outcome is amended, Q2 stays the current action
SET ROLE authenticated;
:as_dana;
SELECT title, status FROM twilio.complete_action(:'q1', 'callback', 'call back Monday 10:00');
SELECT title, status, outcome, notes FROM twilio.manual_actions WHERE id = :'q1';
SELECT title FROM twilio.current_action();
RESET ROLE;

------------------------------------------------------------------------------------------------------------------
-- Out of order, and retried: Q2's callbacks arrive shuffled; statuses only move forward, the first ending wins,
-- details fill in; the agent leg ends before the lead leg says how it ended (corrected when it does)
------------------------------------------------------------------------------------------------------------------
SELECT id AS q2 FROM twilio.manual_actions WHERE title = 'Q2 Bea' \gset
BEGIN;
SET LOCAL ROLE authenticated;
:as_dana;
SELECT status FROM twilio.dial(:'q2');
RESET ROLE;
UPDATE twilio.outbox SET state = 'done', finished_at = now()
 WHERE user_id = :'dana' AND call_id = (SELECT call_id FROM twilio.manual_actions WHERE id = :'q2');
UPDATE twilio.voice_calls SET call_sid = 'CA0000000000000000000000000000da11' WHERE action_id = :'q2';
COMMIT;
SELECT n, pg_temp.post(:'voice_url', p || jsonb_build_object('AccountSid', :'alice_sid', 'From', '+15005550006')) AS answer
  FROM (VALUES
    (1, '{"CallSid": "CA0000000000000000000000000000da11", "CallStatus": "in-progress", "To": "+15005550100", "SequenceNumber": "2"}'::jsonb),
    (2, '{"CallSid": "CA0000000000000000000000000000da12", "ParentCallSid": "CA0000000000000000000000000000da11", "CallStatus": "ringing", "To": "+15005550222", "SequenceNumber": "1"}'),
    (3, '{"CallSid": "CA0000000000000000000000000000da11", "CallStatus": "ringing", "To": "+15005550100", "SequenceNumber": "1"}'),
    (4, '{"CallSid": "CA0000000000000000000000000000da11", "CallStatus": "completed", "CallDuration": "33", "To": "+15005550100", "SequenceNumber": "3"}'),
    (5, '{"CallSid": "CA0000000000000000000000000000da11", "CallStatus": "completed", "CallDuration": "33", "To": "+15005550100", "SequenceNumber": "3"}'),
    (6, '{"CallSid": "CA0000000000000000000000000000da12", "ParentCallSid": "CA0000000000000000000000000000da11", "CallStatus": "busy", "SipResponseCode": "486", "To": "+15005550222", "SequenceNumber": "2"}'),
    (7, '{"CallSid": "CA0000000000000000000000000000da12", "ParentCallSid": "CA0000000000000000000000000000da11", "CallStatus": "initiated", "To": "+15005550222", "SequenceNumber": "0"}'),
    (8, '{"CallSid": "CA0000000000000000000000000000da11", "CallStatus": "canceled", "To": "+15005550100", "SequenceNumber": "4"}')) v(n, p)
 ORDER BY n;
SELECT leg, status, duration_seconds, sip_response_code, answered_at IS NOT NULL AS answered,
       ended_at IS NOT NULL AS ended, sequence_number
  FROM twilio.voice_calls WHERE action_id = :'q2' ORDER BY leg;
SELECT title, status, outcome FROM twilio.manual_actions WHERE id = :'q2';
SELECT event_type, effect FROM twilio.webhook_events WHERE kind = 'voice_status' AND params ->> 'CallSid' LIKE '%da1_'
 ORDER BY id;

------------------------------------------------------------------------------------------------------------------
-- The agent never answers: Q3 goes back to the queue as agent_unreachable, nothing is advanced. A callback that
-- beats the dispatcher to the SID is held, then applied when the SID is recorded.
------------------------------------------------------------------------------------------------------------------
SET ROLE authenticated;
:as_dana;
SELECT title FROM twilio.current_action();
SELECT id AS q3 FROM twilio.current_action() \gset
RESET ROLE;
BEGIN;
SET LOCAL ROLE authenticated;
:as_dana;
SELECT status FROM twilio.dial(:'q3');
RESET ROLE;
UPDATE twilio.outbox SET state = 'done', finished_at = now()
 WHERE user_id = :'dana' AND call_id = (SELECT call_id FROM twilio.manual_actions WHERE id = :'q3');
COMMIT;
SELECT pg_temp.post(:'voice_url', '{"CallSid": "CA0000000000000000000000000000da21", "CallStatus": "initiated", "From": "+15005550006", "To": "+15005550100", "SequenceNumber": "0"}') AS before_the_sid;
SELECT effect FROM twilio.webhook_events WHERE params ->> 'CallSid' = 'CA0000000000000000000000000000da21';
SELECT count(*) AS no_row_for_it FROM twilio.voice_calls WHERE call_sid = 'CA0000000000000000000000000000da21';
UPDATE twilio.voice_calls SET call_sid = 'CA0000000000000000000000000000da21' WHERE action_id = :'q3';
SELECT twilio._apply_held_call_statuses(:'dana', 'CA0000000000000000000000000000da21') AS applied_late;
SELECT pg_temp.post(:'voice_url', '{"CallSid": "CA0000000000000000000000000000da21", "CallStatus": "no-answer", "From": "+15005550006", "To": "+15005550100", "SequenceNumber": "1"}') AS no_answer;
SELECT effect FROM twilio.webhook_events WHERE params ->> 'CallSid' = 'CA0000000000000000000000000000da21' ORDER BY id;
SELECT title, status, outcome, claimed_at FROM twilio.manual_actions WHERE id = :'q3';
SELECT leg, status, answered_at, ended_at IS NOT NULL AS ended FROM twilio.voice_calls WHERE action_id = :'q3';
-- the user completed the action during the call: the call's end leaves it as the user left it
SET ROLE authenticated;
:as_dana;
SELECT title FROM twilio.next_action();
RESET ROLE;
BEGIN;
SET LOCAL ROLE authenticated;
:as_dana;
SELECT status FROM twilio.dial(:'q3');
RESET ROLE;
UPDATE twilio.outbox SET state = 'done', finished_at = now()
 WHERE user_id = :'dana' AND call_id = (SELECT call_id FROM twilio.manual_actions WHERE id = :'q3');
UPDATE twilio.voice_calls SET call_sid = 'CA0000000000000000000000000000da31' WHERE id = (SELECT call_id FROM twilio.manual_actions WHERE id = :'q3');
COMMIT;
SELECT pg_temp.post(:'voice_url', '{"CallSid": "CA0000000000000000000000000000da31", "CallStatus": "in-progress", "From": "+15005550006", "To": "+15005550100", "SequenceNumber": "0"}') AS answered;
SET ROLE authenticated;
:as_dana;
SELECT count(*) AS handed_back FROM twilio.complete_action(:'q3', 'not_interested', 'said no on the call');
RESET ROLE;
SELECT pg_temp.post(:'voice_url', '{"CallSid": "CA0000000000000000000000000000da31", "CallStatus": "completed", "CallDuration": "12", "From": "+15005550006", "To": "+15005550100", "SequenceNumber": "1"}') AS ended;
SELECT title, status, outcome, notes FROM twilio.manual_actions WHERE id = :'q3';
SELECT effect FROM twilio.webhook_events WHERE params ->> 'CallSid' = 'CA0000000000000000000000000000da31' ORDER BY id;

------------------------------------------------------------------------------------------------------------------
-- Calls that are not ours, other users, the platform account
------------------------------------------------------------------------------------------------------------------
-- a call dana did not place through the dialer is kept as an 'other' leg
SELECT pg_temp.post(:'voice_url', '{"CallSid": "CA0000000000000000000000000000da41", "CallStatus": "ringing", "From": "+15005550299", "To": "+15005550006"}') AS foreign_call;
SELECT leg, status, action_id FROM twilio.voice_calls WHERE call_sid = 'CA0000000000000000000000000000da41';
-- evan's account cannot move dana's call: under his key the SID is simply a call of his own he knows nothing of
SELECT webhook_key AS evan_key FROM twilio.user_settings WHERE user_id = :'evan' \gset
SELECT pg_temp.post('https://relay.example.test/twilio/' || :'evan_key' || '/voice_status', '{"CallSid": "CA0000000000000000000000000000da01", "CallStatus": "failed", "From": "+15005550009", "To": "+15005550100"}', 'regress.bob_token') AS under_evans_key;
SELECT pg_temp.post(:'voice_url', '{"CallSid": "CA0000000000000000000000000000da01", "CallStatus": "failed", "From": "+15005550009", "To": "+15005550100"}', 'regress.bob_token') AS forged_for_dana;
SELECT user_id = :'dana' AS danas, leg, status FROM twilio.voice_calls WHERE call_sid = 'CA0000000000000000000000000000da01'
 ORDER BY 1;
SET ROLE authenticated;
:as_evan;
SELECT count(*) AS evan_sees_danas_calls FROM twilio.voice_calls WHERE action_id IS NOT NULL;
SELECT pg_temp.try(format('SELECT twilio.complete_action(%L, %L)', :'q2', 'other')) AS evan_completes;
RESET ROLE;
-- platform-account calls (key "platform", checked with the platform account's token): the owner is found by the
-- CallSid, by the ParentCallSid of a bridged lead leg, or, before the SID is recorded, by the one agent leg
-- waiting for it; anything else is refused
SET ROLE service_role;
SELECT twilio.set_platform_account(:'bob_sid', :'bob_token', NULL, 'MGb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0', '+15005550008');
RESET ROLE;
INSERT INTO twilio.voice_calls (user_id, call_sid, status, leg, to_number, from_number, lead_phone, account_sid)
VALUES (:'fred', 'CA0000000000000000000000000000da51', 'queued', 'agent', '+15005550120', '+15005550008',
        '+15005550231', :'bob_sid'),
       (:'fred', NULL, 'queued', 'agent', '+15005550121', '+15005550008', '+15005550232', :'bob_sid');
\set platform_url 'https://relay.example.test/twilio/platform/voice_status'
SELECT pg_temp.post(:'platform_url', jsonb_build_object('CallSid', 'CA0000000000000000000000000000da51', 'AccountSid', :'bob_sid', 'CallStatus', 'ringing', 'From', '+15005550008', 'To', '+15005550120'), 'regress.bob_token') AS by_call_sid,
       pg_temp.post(:'platform_url', jsonb_build_object('CallSid', 'CA0000000000000000000000000000da52', 'ParentCallSid', 'CA0000000000000000000000000000da51', 'AccountSid', :'bob_sid', 'CallStatus', 'ringing', 'From', '+15005550008', 'To', '+15005550231'), 'regress.bob_token') AS by_parent;
SELECT pg_temp.post(:'platform_url', jsonb_build_object('CallSid', 'CA0000000000000000000000000000da53', 'AccountSid', :'bob_sid', 'CallStatus', 'initiated', 'From', '+15005550008', 'To', '+15005550121'), 'regress.bob_token') AS awaiting_sid,
       pg_temp.post(:'platform_url', jsonb_build_object('CallSid', 'CA0000000000000000000000000000da54', 'AccountSid', :'bob_sid', 'CallStatus', 'ringing', 'From', '+15005550008', 'To', '+15005550122'), 'regress.bob_token') AS unknown_call,
       pg_temp.post(:'platform_url', jsonb_build_object('CallSid', 'CA0000000000000000000000000000da51', 'AccountSid', :'bob_sid', 'CallStatus', 'completed', 'From', '+15005550008', 'To', '+15005550120'), 'regress.alice_token') AS forged;
-- dana's own-account call is out of the platform token's reach
SELECT pg_temp.post(:'platform_url', jsonb_build_object('CallSid', 'CA0000000000000000000000000000da01', 'AccountSid', :'bob_sid', 'CallStatus', 'failed', 'From', '+15005550008', 'To', '+15005550100'), 'regress.bob_token') AS users_own_call;
SELECT call_sid, leg, status, parent_call_sid FROM twilio.voice_calls WHERE user_id = :'fred' ORDER BY call_sid;
SELECT params ->> 'CallSid' AS call_sid, effect FROM twilio.webhook_events WHERE user_id = :'fred' ORDER BY id;
