-- Privileges and row-level security of the dialer: dialer_settings, do_not_call, manual_actions (and the calls in
-- voice_calls the dialer writes), and every dialer function.
--
-- Actors: the owner (authenticated, sub = A), another user (authenticated, sub = B), anon and service_role
-- (BYPASSRLS). Fixtures are inserted as superuser; one transaction, rolled back (nothing reaches the dispatcher).
--   A = 00000000-0000-4000-a000-00000000000a: action ac..0a (+15005550101), DNC +15005550109, a call of ac..0a
--   B = 00000000-0000-4000-a000-00000000000b: action ac..0b (+15005550201), DNC +15005550209, a call of ac..0b
BEGIN;
SELECT plan(101);

INSERT INTO auth.users (id, email) VALUES
    ('00000000-0000-4000-a000-00000000000a', 'owner@example.test'),
    ('00000000-0000-4000-a000-00000000000b', 'other@example.test');
-- A sending account for each (the envelope is never opened here: nothing is sent)
INSERT INTO twilio.user_settings (user_id, account_sid, auth_token_envelope, sms_number) VALUES
    ('00000000-0000-4000-a000-00000000000a', 'ACa0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0', '\x00', '+15005550006'),
    ('00000000-0000-4000-a000-00000000000b', 'ACb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0', '\x00', '+15005550008');
INSERT INTO twilio.dialer_settings (user_id, agent_phone, calling_hours_start, calling_hours_end, default_time_zone)
VALUES ('00000000-0000-4000-a000-00000000000a', '+15005550100', '00:00', '24:00', 'UTC'),
       ('00000000-0000-4000-a000-00000000000b', '+15005550200', '00:00', '24:00', 'UTC');
INSERT INTO twilio.do_not_call (user_id, phone, source) VALUES
    ('00000000-0000-4000-a000-00000000000a', '+15005550109', 'call_outcome'),
    ('00000000-0000-4000-a000-00000000000b', '+15005550209', 'manual');
INSERT INTO twilio.manual_actions (user_id, id, kind, title, phone, priority) VALUES
    ('00000000-0000-4000-a000-00000000000a', 'ac000000-0000-4000-a000-00000000000a', 'call', 'A''s', '+15005550101', 1),
    ('00000000-0000-4000-a000-00000000000b', 'ac000000-0000-4000-a000-00000000000b', 'call', 'B''s', '+15005550201', 1);
INSERT INTO twilio.voice_calls (user_id, call_sid, status, leg, action_id, to_number, from_number, lead_phone) VALUES
    ('00000000-0000-4000-a000-00000000000a', 'CA0000000000000000000000000000000a', 'completed', 'agent',
     'ac000000-0000-4000-a000-00000000000a', '+15005550100', '+15005550006', '+15005550101'),
    ('00000000-0000-4000-a000-00000000000b', 'CA0000000000000000000000000000000b', 'completed', 'agent',
     'ac000000-0000-4000-a000-00000000000b', '+15005550200', '+15005550008', '+15005550201');

CREATE TEMP TABLE dialer_tables (ord integer, t name);
INSERT INTO dialer_tables VALUES (1, 'dialer_settings'), (2, 'do_not_call'), (3, 'manual_actions');
GRANT SELECT ON dialer_tables TO anon, authenticated, service_role;
-- Rows of each dialer table (and of voice_calls) by owner, as the current role sees them.
CREATE FUNCTION pg_temp.visible() RETURNS text[] LANGUAGE sql AS $$
    SELECT ARRAY['dialer_settings:' || (SELECT string_agg(right(user_id::text, 1), '' ORDER BY user_id) FROM twilio.dialer_settings),
                 'do_not_call:' || (SELECT string_agg(right(user_id::text, 1), '' ORDER BY user_id) FROM twilio.do_not_call),
                 'manual_actions:' || (SELECT string_agg(right(user_id::text, 1), '' ORDER BY user_id) FROM twilio.manual_actions),
                 'voice_calls:' || (SELECT string_agg(right(user_id::text, 1), '' ORDER BY user_id) FROM twilio.voice_calls)]
$$;
GRANT EXECUTE ON FUNCTION pg_temp.visible() TO anon, authenticated, service_role;
SELECT is(pg_temp.visible(), ARRAY['dialer_settings:ab', 'do_not_call:ab', 'manual_actions:ab', 'voice_calls:ab'],
          'fixture: superuser sees A''s and B''s rows of each table');

------------------------------------------------------------------------------------------------------------------
-- Catalog: RLS, policies, table privileges
------------------------------------------------------------------------------------------------------------------
SELECT ok((SELECT c.relrowsecurity FROM pg_class c WHERE c.oid = ('twilio.' || t)::regclass),
          format('twilio.%s has RLS enabled', t)) FROM dialer_tables ORDER BY ord;
SELECT is(ARRAY(SELECT p.polrelid::regclass::text || ' ' || p.polname || ' ' || p.polcmd::text || ' '
                       || array_to_string(ARRAY(SELECT r::regrole::text FROM unnest(p.polroles) r), ',')
                       || ' USING ' || coalesce(pg_get_expr(p.polqual, p.polrelid), '-')
                       || ' CHECK ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '-')
                  FROM pg_policy p
                 WHERE p.polrelid IN ('twilio.dialer_settings'::regclass, 'twilio.do_not_call'::regclass,
                                      'twilio.manual_actions'::regclass)
                 ORDER BY 1),
          ARRAY['twilio.dialer_settings dialer_settings_select_own r authenticated USING (user_id = auth.uid()) CHECK -',
                'twilio.do_not_call do_not_call_delete_own_manual d authenticated USING ((user_id = auth.uid()) AND (source = ''manual''::text)) CHECK -',
                'twilio.do_not_call do_not_call_insert_own a authenticated USING - CHECK ((user_id = auth.uid()) AND (source = ''manual''::text))',
                'twilio.do_not_call do_not_call_select_own r authenticated USING (user_id = auth.uid()) CHECK -',
                'twilio.manual_actions manual_actions_select_own r authenticated USING (user_id = auth.uid()) CHECK -'],
          'dialer policies: own rows only (do_not_call: manual entries may be added and removed; the others: SELECT only)');
SELECT table_privs_are('twilio', v.t, v.role, v.privs, format('table privileges of %s on twilio.%s', v.role, v.t))
  FROM (VALUES (1, 'dialer_settings', 'anon'::name, '{}'::name[]),
               (2, 'dialer_settings', 'authenticated', '{SELECT}'),
               (3, 'dialer_settings', 'service_role', '{SELECT}'),
               (4, 'do_not_call', 'anon', '{}'),
               (5, 'do_not_call', 'authenticated', '{SELECT,INSERT,DELETE}'),
               (6, 'do_not_call', 'service_role', '{SELECT,INSERT,DELETE}'),
               (7, 'manual_actions', 'anon', '{}'),
               (8, 'manual_actions', 'authenticated', '{SELECT}'),
               (9, 'manual_actions', 'service_role', '{SELECT}')) v(ord, t, role, privs)
 ORDER BY v.ord;
SELECT is(ARRAY(SELECT a.attrelid::regclass::text || '.' || a.attname FROM pg_attribute a
                 WHERE a.attrelid IN ('twilio.dialer_settings'::regclass, 'twilio.do_not_call'::regclass,
                                      'twilio.manual_actions'::regclass)
                   AND a.attacl IS NOT NULL),
          '{}'::text[], 'no column-level grant on any dialer table');
SELECT col_is_pk('twilio', t, k, format('%s: primary key leads with user_id', t))
  FROM (VALUES (1, 'dialer_settings', ARRAY['user_id']), (2, 'do_not_call', ARRAY['user_id', 'phone']),
               (3, 'manual_actions', ARRAY['user_id', 'id'])) v(ord, t, k)
 ORDER BY ord;

------------------------------------------------------------------------------------------------------------------
-- Functions x roles
------------------------------------------------------------------------------------------------------------------
SELECT function_privs_are('twilio', f.name, f.args, r.role,
                          CASE WHEN r.role = 'authenticated' THEN '{EXECUTE}'::name[] ELSE '{}'::name[] END,
                          format('%s %s execute twilio.%s', r.role,
                                 CASE WHEN r.role = 'authenticated' THEN 'can' ELSE 'cannot' END, f.name))
  FROM (VALUES
        (1, 'get_dialer_settings', '{}'::name[]),
        (2, 'save_dialer_settings', '{text,"time without time zone","time without time zone",text,boolean}'),
        (3, 'create_action', '{text,text,text,uuid,"timestamp with time zone",integer,text,text}'),
        (4, 'create_actions', '{jsonb}'),
        (5, 'next_action', '{}'),
        (6, 'current_action', '{}'),
        (7, 'complete_action', '{uuid,text,text}'),
        (8, 'skip_action', '{uuid,text}'),
        (9, 'release_action', '{uuid}'),
        (10, 'dial', '{uuid,text,text,text}')) f(ord, name, args)
 CROSS JOIN (VALUES (1, 'anon'::name), (2, 'authenticated'), (3, 'service_role')) r(rord, role)
 ORDER BY f.ord, r.rord;
SELECT is(ARRAY(SELECT p.proname || ' ' || p.prosecdef || ' ' || coalesce(array_to_string(p.proconfig, ';'), '-')
                  FROM pg_proc p
                 WHERE p.pronamespace = 'twilio'::regnamespace
                   AND p.proname IN ('get_dialer_settings', 'save_dialer_settings', 'create_action', 'create_actions',
                                     'next_action', 'current_action', 'complete_action', 'skip_action',
                                     'release_action', 'dial')
                 ORDER BY 1),
          ARRAY['complete_action true search_path=pg_catalog, pg_temp', 'create_action true search_path=pg_catalog, pg_temp',
                'create_actions true search_path=pg_catalog, pg_temp', 'current_action true search_path=pg_catalog, pg_temp',
                'dial true search_path=pg_catalog, pg_temp', 'get_dialer_settings true search_path=pg_catalog, pg_temp',
                'next_action true search_path=pg_catalog, pg_temp', 'release_action true search_path=pg_catalog, pg_temp',
                'save_dialer_settings true search_path=pg_catalog, pg_temp', 'skip_action true search_path=pg_catalog, pg_temp'],
          'the dialer functions are SECURITY DEFINER with a pinned search_path');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace = 'twilio'::regnamespace
                   AND p.proname IN ('_dialer_settings_of', '_create_action', '_require_action', '_action_has_live_call',
                                     '_current_action', '_next_action', '_advance', '_finish_action',
                                     '_require_not_do_not_call', '_within_calling_hours', '_require_calling_hours',
                                     '_dial', '_call_status_rank', '_call_outcome', '_settle_action',
                                     '_apply_call_status', '_apply_held_call_statuses')
                   AND (p.prosecdef OR has_function_privilege('anon', p.oid, 'EXECUTE')
                        OR has_function_privilege('authenticated', p.oid, 'EXECUTE')
                        OR has_function_privilege('service_role', p.oid, 'EXECUTE'))),
          '{}'::text[], 'no client role can execute an internal dialer function, and none is SECURITY DEFINER');
SELECT is((SELECT count(*)::integer FROM pg_proc p
            WHERE p.pronamespace = 'twilio'::regnamespace
              AND p.proname IN ('_dialer_settings_of', '_create_action', '_require_action', '_action_has_live_call',
                                '_current_action', '_next_action', '_advance', '_finish_action',
                                '_require_not_do_not_call', '_within_calling_hours', '_require_calling_hours',
                                '_dial', '_call_status_rank', '_call_outcome', '_settle_action',
                                '_apply_call_status', '_apply_held_call_statuses')),
          17, 'control: the internal dialer functions checked above exist');

------------------------------------------------------------------------------------------------------------------
-- Owner A
------------------------------------------------------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-a000-00000000000a", "role": "authenticated"}';
SET LOCAL ROLE authenticated;
SELECT is(pg_temp.visible(), ARRAY['dialer_settings:a', 'do_not_call:a', 'manual_actions:a', 'voice_calls:a'],
          'owner: sees exactly their own rows of each table');
SELECT throws_ok(format('INSERT INTO twilio.%I (user_id) VALUES (auth.uid())', t), '42501', NULL,
                 format('owner: INSERT into %s directly is denied (functions only)', t))
  FROM dialer_tables WHERE t <> 'do_not_call' ORDER BY ord;
SELECT throws_ok(format('UPDATE twilio.%I SET user_id = user_id', t), '42501', NULL,
                 format('owner: UPDATE of %s directly is denied', t)) FROM dialer_tables ORDER BY ord;
SELECT throws_ok(format('DELETE FROM twilio.%I', t), '42501', NULL,
                 format('owner: DELETE from %s directly is denied', t))
  FROM dialer_tables WHERE t <> 'do_not_call' ORDER BY ord;
SELECT lives_ok($$INSERT INTO twilio.do_not_call (user_id, phone) VALUES (auth.uid(), '+15005550108')$$,
                'owner: can add a manual do-not-call entry of their own');
SELECT throws_ok($$INSERT INTO twilio.do_not_call (user_id, phone, source) VALUES (auth.uid(), '+15005550107', 'call_outcome')$$,
                 '42501', NULL, 'owner: cannot forge a call_outcome entry');
SELECT results_eq($$WITH d AS (DELETE FROM twilio.do_not_call RETURNING phone) SELECT phone FROM d$$,
                  $$VALUES ('+15005550108'::text)$$,
                  'owner: deleting everything removes only their manual entry (the call_outcome one stays)');
SELECT is((SELECT agent_phone FROM twilio.get_dialer_settings()), '+15005550100', 'owner: reads their own settings');
SELECT is((SELECT auto_advance FROM twilio.save_dialer_settings(auto_advance => false)), false,
          'owner: saves their own settings');
SELECT is((SELECT title FROM twilio.create_action('call', 'A''s second', '+15005550102')), 'A''s second',
          'owner: creates an action');
SELECT is((SELECT count(*)::integer FROM twilio.create_actions('[{"kind": "follow_up", "title": "A''s third"}]')), 1,
          'owner: creates actions in bulk');
SELECT is((SELECT title FROM twilio.next_action()), 'A''s', 'owner: claims their own next action');
SELECT is((SELECT title FROM twilio.current_action()), 'A''s', 'owner: sees their current action');
SELECT is((SELECT status || ' ' || leg || ' ' || lead_phone FROM twilio.dial('ac000000-0000-4000-a000-00000000000a')),
          'queued agent +15005550101', 'owner: dials their own action');
SELECT is((SELECT count(*)::integer FROM twilio.outbox WHERE kind = 'create_call'), 1,
          'owner: the dial queued one create_call job of theirs');
SELECT throws_ok($$SELECT twilio.dial(lead_phone => '+15005550109')$$, '55000', NULL,
                 'owner: a number on their do-not-call list cannot be dialed');
SELECT is((SELECT count(*)::integer FROM twilio.complete_action('ac000000-0000-4000-a000-00000000000a', 'connected')), 0,
          'owner: completes their own action (auto_advance off: nothing handed back)');
SELECT is((SELECT status FROM twilio.release_action((SELECT id FROM twilio.manual_actions WHERE title = 'A''s second'))),
          'open', 'owner: releases their own action');
SELECT is((SELECT count(*)::integer FROM twilio.skip_action((SELECT id FROM twilio.manual_actions WHERE title = 'A''s second'))),
          0, 'owner: skips their own action');

------------------------------------------------------------------------------------------------------------------
-- Other user B: none of A's rows, and no way to reach them through the functions
------------------------------------------------------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-a000-00000000000b", "role": "authenticated"}';
SELECT is(pg_temp.visible(), ARRAY['dialer_settings:b', 'do_not_call:b', 'manual_actions:b', 'voice_calls:b'],
          'other: sees only their own rows, none of A''s');
SELECT throws_ok(q, 'P0002', NULL, 'other: ' || what)
  FROM (VALUES
    (1, $$SELECT twilio.complete_action('ac000000-0000-4000-a000-00000000000a', 'other')$$, 'cannot complete A''s action'),
    (2, $$SELECT twilio.skip_action('ac000000-0000-4000-a000-00000000000a')$$, 'cannot skip A''s action'),
    (3, $$SELECT twilio.release_action('ac000000-0000-4000-a000-00000000000a')$$, 'cannot release A''s action'),
    (4, $$SELECT twilio.dial('ac000000-0000-4000-a000-00000000000a')$$, 'cannot dial A''s action')) v(ord, q, what)
 ORDER BY ord;
SELECT is((SELECT agent_phone FROM twilio.get_dialer_settings()), '+15005550200', 'other: reads their own settings only');
SELECT is((SELECT title FROM twilio.next_action()), 'B''s', 'other: next_action hands out their own action only');
SELECT throws_ok($$INSERT INTO twilio.do_not_call (user_id, phone) VALUES ('00000000-0000-4000-a000-00000000000a', '+15005550106')$$,
                 '42501', NULL, 'other: cannot add to A''s do-not-call list');
SELECT is_empty($$DELETE FROM twilio.do_not_call WHERE user_id = '00000000-0000-4000-a000-00000000000a' RETURNING phone$$,
                'other: deletes nothing of A''s do-not-call list');
SELECT is((SELECT count(*)::integer FROM twilio.voice_calls WHERE action_id = 'ac000000-0000-4000-a000-00000000000a'), 0,
          'other: sees none of A''s calls');
SELECT is((SELECT count(*)::integer FROM twilio.outbox WHERE kind = 'create_call'), 0, 'other: sees none of A''s call jobs');
RESET ROLE;
SELECT is((SELECT string_agg(title || ':' || status || coalesce('/' || outcome, ''), ',' ORDER BY title COLLATE "C")
             FROM twilio.manual_actions WHERE user_id = '00000000-0000-4000-a000-00000000000a'),
          'A''s:done/connected,A''s second:skipped,A''s third:open', 'A''s actions are as A left them');
SELECT is((SELECT count(*)::integer FROM twilio.do_not_call WHERE user_id = '00000000-0000-4000-a000-00000000000a'), 1,
          'A''s do-not-call list is untouched by B');

------------------------------------------------------------------------------------------------------------------
-- anon and service_role
------------------------------------------------------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"role": "anon"}';
SET LOCAL ROLE anon;
SELECT throws_ok(format('SELECT count(*) FROM twilio.%I', t), '42501', NULL, format('anon: cannot read %s', t))
  FROM dialer_tables ORDER BY ord;
SELECT throws_ok(q, '42501', NULL, 'anon: cannot call ' || f)
  FROM (VALUES (1, 'next_action', 'SELECT twilio.next_action()'),
               (2, 'get_dialer_settings', 'SELECT twilio.get_dialer_settings()'),
               (3, 'create_action', $$SELECT twilio.create_action('call', 'x', '+15005550101')$$),
               (4, 'dial', $$SELECT twilio.dial(lead_phone => '+15005550101')$$)) v(ord, f, q)
 ORDER BY ord;
RESET ROLE;
SET LOCAL request.jwt.claims = '{"role": "service_role"}';
SET LOCAL ROLE service_role;
SELECT is(pg_temp.visible(), ARRAY['dialer_settings:ab', 'do_not_call:ab', 'manual_actions:aaab', 'voice_calls:aab'],
          'service_role: reads everyone''s rows (BYPASSRLS)');
SELECT throws_ok(format('DELETE FROM twilio.%I', t), '42501', NULL, format('service_role: cannot write %s directly', t))
  FROM dialer_tables WHERE t <> 'do_not_call' ORDER BY ord;
SELECT lives_ok($$DELETE FROM twilio.do_not_call WHERE source = 'call_outcome'$$,
                'service_role: may remove a do-not-call entry a call''s outcome added');
SELECT throws_ok(q, '42501', NULL, 'service_role: cannot act as a user through ' || f)
  FROM (VALUES (1, 'next_action', 'SELECT twilio.next_action()'),
               (2, 'complete_action', $$SELECT twilio.complete_action('ac000000-0000-4000-a000-00000000000b', 'other')$$),
               (3, 'dial', $$SELECT twilio.dial(lead_phone => '+15005550101')$$)) v(ord, f, q)
 ORDER BY ord;
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
