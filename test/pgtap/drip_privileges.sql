-- Privileges and row-level security of the drip objects: campaigns, campaign_steps, enrollments,
-- enrollment_sends, campaign_stats_daily, and every drip function.
--
-- Actors: the owner (authenticated, sub = A), another user (authenticated, sub = B), anon and service_role
-- (BYPASSRLS). Fixtures are inserted as superuser; one transaction, rolled back.
--   A = 00000000-0000-4000-a000-00000000000a: campaign ca..0a, step 5a..0a, enrollment ea..0a (+15005550101)
--   B = 00000000-0000-4000-a000-00000000000b: campaign ca..0b, step 5a..0b, enrollment ea..0b (+15005550201)
BEGIN;
SELECT plan(159);

INSERT INTO auth.users (id, email) VALUES
    ('00000000-0000-4000-a000-00000000000a', 'owner@example.test'),
    ('00000000-0000-4000-a000-00000000000b', 'other@example.test');
INSERT INTO twilio.campaigns (user_id, id, name, status) VALUES
    ('00000000-0000-4000-a000-00000000000a', 'ca000000-0000-4000-a000-00000000000a', 'A''s', 'active'),
    ('00000000-0000-4000-a000-00000000000b', 'ca000000-0000-4000-a000-00000000000b', 'B''s', 'active');
INSERT INTO twilio.campaign_steps (user_id, id, campaign_id, position, delay, body_template) VALUES
    ('00000000-0000-4000-a000-00000000000a', '5a000000-0000-4000-a000-00000000000a',
     'ca000000-0000-4000-a000-00000000000a', 1, '1 day', 'Hi {{first_name|there}}'),
    ('00000000-0000-4000-a000-00000000000b', '5a000000-0000-4000-a000-00000000000b',
     'ca000000-0000-4000-a000-00000000000b', 1, '1 day', 'Hello');
INSERT INTO twilio.enrollments (user_id, id, campaign_id, phone, time_zone, next_run_at) VALUES
    ('00000000-0000-4000-a000-00000000000a', 'ea000000-0000-4000-a000-00000000000a',
     'ca000000-0000-4000-a000-00000000000a', '+15005550101', 'UTC', now() + interval '1 day'),
    ('00000000-0000-4000-a000-00000000000b', 'ea000000-0000-4000-a000-00000000000b',
     'ca000000-0000-4000-a000-00000000000b', '+15005550201', 'UTC', now() + interval '1 day');
INSERT INTO twilio.enrollment_sends (user_id, enrollment_id, step_id, campaign_id, position, message_id, phone,
                                     segments, day) VALUES
    ('00000000-0000-4000-a000-00000000000a', 'ea000000-0000-4000-a000-00000000000a',
     '5a000000-0000-4000-a000-00000000000a', 'ca000000-0000-4000-a000-00000000000a', 1, gen_random_uuid(),
     '+15005550101', 1, current_date),
    ('00000000-0000-4000-a000-00000000000b', 'ea000000-0000-4000-a000-00000000000b',
     '5a000000-0000-4000-a000-00000000000b', 'ca000000-0000-4000-a000-00000000000b', 1, gen_random_uuid(),
     '+15005550201', 1, current_date);
INSERT INTO twilio.campaign_stats_daily (user_id, campaign_id, day, step_id, position, sent, segments) VALUES
    ('00000000-0000-4000-a000-00000000000a', 'ca000000-0000-4000-a000-00000000000a', current_date,
     '5a000000-0000-4000-a000-00000000000a', 1, 1, 1),
    ('00000000-0000-4000-a000-00000000000b', 'ca000000-0000-4000-a000-00000000000b', current_date,
     '5a000000-0000-4000-a000-00000000000b', 1, 1, 1);

CREATE TEMP TABLE drip_tables (ord integer, t name);
INSERT INTO drip_tables VALUES (1, 'campaigns'), (2, 'campaign_steps'), (3, 'enrollments'), (4, 'enrollment_sends'),
                               (5, 'campaign_stats_daily');
GRANT SELECT ON drip_tables TO anon, authenticated, service_role;
-- Rows of each drip table by owner, as the current role sees them.
CREATE FUNCTION pg_temp.visible() RETURNS text[] LANGUAGE sql AS $$
    SELECT ARRAY['campaigns:' || (SELECT string_agg(right(user_id::text, 1), '' ORDER BY user_id) FROM twilio.campaigns),
                 'campaign_steps:' || (SELECT string_agg(right(user_id::text, 1), '' ORDER BY user_id) FROM twilio.campaign_steps),
                 'enrollments:' || (SELECT string_agg(right(user_id::text, 1), '' ORDER BY user_id) FROM twilio.enrollments),
                 'enrollment_sends:' || (SELECT string_agg(right(user_id::text, 1), '' ORDER BY user_id) FROM twilio.enrollment_sends),
                 'campaign_stats_daily:' || (SELECT string_agg(right(user_id::text, 1), '' ORDER BY user_id) FROM twilio.campaign_stats_daily)]
$$;
GRANT EXECUTE ON FUNCTION pg_temp.visible() TO anon, authenticated, service_role;
SELECT is(pg_temp.visible(), ARRAY['campaigns:ab', 'campaign_steps:ab', 'enrollments:ab', 'enrollment_sends:ab',
                                   'campaign_stats_daily:ab'], 'fixture: superuser sees A''s and B''s rows of each table');

------------------------------------------------------------------------------------------------------------------
-- Catalog: RLS, policies, table privileges
------------------------------------------------------------------------------------------------------------------
SELECT ok((SELECT c.relrowsecurity FROM pg_class c WHERE c.oid = ('twilio.' || t)::regclass),
          format('twilio.%s has RLS enabled', t)) FROM drip_tables ORDER BY ord;
SELECT policies_are('twilio', t, ARRAY[t || '_select_own'], format('%s has exactly the select-own policy', t))
  FROM drip_tables ORDER BY ord;
SELECT policy_roles_are('twilio', t, t || '_select_own', ARRAY['authenticated'],
                        format('policy %s_select_own applies to authenticated only', t))
  FROM drip_tables ORDER BY ord;
SELECT is((SELECT pg_get_expr(p.polqual, p.polrelid) || ' ' || p.polcmd::text FROM pg_policy p
            WHERE p.polrelid = ('twilio.' || t)::regclass),
          '(user_id = auth.uid()) r', format('%s: SELECT of own rows (user_id = auth.uid()) only', t))
  FROM drip_tables ORDER BY ord;
SELECT table_privs_are('twilio', d.t, r.role, r.privs, format('table privileges of %s on twilio.%s', r.role, d.t))
  FROM drip_tables d
 CROSS JOIN (VALUES (1, 'anon'::name, '{}'::name[]), (2, 'authenticated', '{SELECT}'),
                    (3, 'service_role', '{SELECT}')) r(rord, role, privs)
 ORDER BY d.ord, r.rord;
SELECT col_is_pk('twilio', t, k, format('%s: primary key leads with user_id', t))
  FROM (VALUES (1, 'campaigns', ARRAY['user_id', 'id']), (2, 'campaign_steps', ARRAY['user_id', 'id']),
               (3, 'enrollments', ARRAY['user_id', 'id']),
               (4, 'enrollment_sends', ARRAY['user_id', 'enrollment_id', 'step_id']),
               (5, 'campaign_stats_daily', ARRAY['user_id', 'campaign_id', 'day', 'step_id'])) v(ord, t, k)
 ORDER BY ord;

------------------------------------------------------------------------------------------------------------------
-- Functions x roles
------------------------------------------------------------------------------------------------------------------
SELECT function_privs_are('twilio', f.name, f.args, r.role,
                          CASE WHEN r.role = ANY (f.grantees) THEN '{EXECUTE}'::name[] ELSE '{}'::name[] END,
                          format('%s %s execute twilio.%s', r.role,
                                 CASE WHEN r.role = ANY (f.grantees) THEN 'can' ELSE 'cannot' END, f.name))
  FROM (VALUES
        (1, 'create_campaign', '{text,text,text,boolean}'::name[], '{authenticated}'::name[]),
        (2, 'update_campaign', '{uuid,text,text,text,boolean}', '{authenticated}'),
        (3, 'set_quiet_hours', '{uuid,"time without time zone","time without time zone",integer[]}', '{authenticated}'),
        (4, 'activate_campaign', '{uuid}', '{authenticated}'),
        (5, 'pause_campaign', '{uuid}', '{authenticated}'),
        (6, 'resume_campaign', '{uuid}', '{authenticated}'),
        (7, 'archive_campaign', '{uuid}', '{authenticated}'),
        (8, 'add_step', '{uuid,text,interval,integer,integer,"time without time zone",text}', '{authenticated}'),
        (9, 'update_step', '{uuid,text,interval,integer,"time without time zone",text}', '{authenticated}'),
        (10, 'delete_step', '{uuid}', '{authenticated}'),
        (11, 'preview', '{text,jsonb}', '{authenticated}'),
        (12, 'preview_step', '{uuid,jsonb}', '{authenticated}'),
        (13, 'enroll', '{uuid,uuid,text,text,jsonb}', '{authenticated}'),
        (14, 'enroll_many', '{uuid,jsonb}', '{authenticated}'),
        (15, 'unenroll', '{uuid}', '{authenticated}'),
        (16, 'pause_enrollment', '{uuid}', '{authenticated}'),
        (17, 'resume_enrollment', '{uuid}', '{authenticated}'),
        (18, 'analytics', '{date,date,uuid}', '{authenticated}'),
        (19, 'drip_tick', '{integer}', '{service_role}'),
        (20, 'schedule_drips', '{interval,integer}', '{service_role}'),
        (21, 'unschedule_drips', '{}', '{service_role}')) f(ord, name, args, grantees)
 CROSS JOIN (VALUES (1, 'anon'::name), (2, 'authenticated'), (3, 'service_role')) r(rord, role)
 ORDER BY f.ord, r.rord;
SELECT is(ARRAY(SELECT p.proname::text FROM pg_proc p
                 WHERE p.pronamespace = 'twilio'::regnamespace AND p.proname ~ '^_(drip|enroll|require_(campaign|enrollment|time_zone|channel)|check_step|set_campaign_status|enqueue|conversation_for_lead)'
                   AND (has_function_privilege('anon', p.oid, 'EXECUTE') OR has_function_privilege('authenticated', p.oid, 'EXECUTE')
                        OR has_function_privilege('service_role', p.oid, 'EXECUTE'))),
          '{}'::text[], 'no client role can execute an internal drip or enqueue function');

------------------------------------------------------------------------------------------------------------------
-- Owner A
------------------------------------------------------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-a000-00000000000a", "role": "authenticated"}';
SET LOCAL ROLE authenticated;
SELECT is(pg_temp.visible(), ARRAY['campaigns:a', 'campaign_steps:a', 'enrollments:a', 'enrollment_sends:a',
                                   'campaign_stats_daily:a'], 'owner: sees exactly their own rows of each table');
SELECT throws_ok(format('INSERT INTO twilio.%I (user_id) VALUES (auth.uid())', t), '42501', NULL,
                 format('owner: INSERT into %s directly is denied (functions only)', t)) FROM drip_tables ORDER BY ord;
SELECT throws_ok(format('UPDATE twilio.%I SET user_id = user_id', t), '42501', NULL,
                 format('owner: UPDATE of %s directly is denied', t)) FROM drip_tables ORDER BY ord;
SELECT throws_ok(format('DELETE FROM twilio.%I', t), '42501', NULL,
                 format('owner: DELETE from %s directly is denied', t)) FROM drip_tables ORDER BY ord;
SELECT lives_ok($$SELECT twilio.pause_campaign('ca000000-0000-4000-a000-00000000000a')$$,
                'owner: can pause their own campaign');
SELECT is((SELECT status FROM twilio.enrollments), 'paused', 'owner: their enrollment is held with the campaign');
SELECT lives_ok($$SELECT twilio.resume_campaign('ca000000-0000-4000-a000-00000000000a')$$,
                'owner: can resume their own campaign');
SELECT isnt(twilio.enroll('ca000000-0000-4000-a000-00000000000a', NULL, '+15005550102', NULL, '{}'), NULL,
            'owner: can enroll into their own campaign');
SELECT is((SELECT count(*)::integer FROM twilio.analytics(current_date, current_date)), 1,
          'owner: analytics has their one row');

------------------------------------------------------------------------------------------------------------------
-- Other user B: none of A's rows, and no way to reach them through the functions
------------------------------------------------------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-a000-00000000000b", "role": "authenticated"}';
SELECT is(pg_temp.visible(), ARRAY['campaigns:b', 'campaign_steps:b', 'enrollments:b', 'enrollment_sends:b',
                                   'campaign_stats_daily:b'], 'other: sees only their own rows, none of A''s');
SELECT throws_ok(q, 'P0002', NULL, 'other: ' || what)
  FROM (VALUES
    (1, $$SELECT twilio.enroll('ca000000-0000-4000-a000-00000000000a', NULL, '+15005550109', NULL, '{}')$$, 'cannot enroll into A''s campaign'),
    (2, $$SELECT * FROM twilio.enroll_many('ca000000-0000-4000-a000-00000000000a', '[]')$$, 'cannot batch-enroll into A''s campaign'),
    (3, $$SELECT twilio.update_campaign('ca000000-0000-4000-a000-00000000000a', 'mine')$$, 'cannot rename A''s campaign'),
    (4, $$SELECT twilio.set_quiet_hours('ca000000-0000-4000-a000-00000000000a', '21:00', '08:00')$$, 'cannot set A''s quiet hours'),
    (5, $$SELECT twilio.pause_campaign('ca000000-0000-4000-a000-00000000000a')$$, 'cannot pause A''s campaign'),
    (6, $$SELECT twilio.archive_campaign('ca000000-0000-4000-a000-00000000000a')$$, 'cannot archive A''s campaign'),
    (7, $$SELECT twilio.add_step('ca000000-0000-4000-a000-00000000000a', 'x')$$, 'cannot add a step to A''s campaign'),
    (8, $$SELECT twilio.update_step('5a000000-0000-4000-a000-00000000000a', 'x')$$, 'cannot edit A''s step'),
    (9, $$SELECT * FROM twilio.preview_step('5a000000-0000-4000-a000-00000000000a', '{}')$$, 'cannot preview A''s step'),
    (10, $$SELECT twilio.pause_enrollment('ea000000-0000-4000-a000-00000000000a')$$, 'cannot pause A''s enrollment'),
    (11, $$SELECT twilio.resume_enrollment('ea000000-0000-4000-a000-00000000000a')$$, 'cannot resume A''s enrollment'),
    (12, $$SELECT twilio.unenroll('ea000000-0000-4000-a000-00000000000a')$$, 'cannot unenroll A''s contact')) v(ord, q, what)
 ORDER BY ord;
SELECT is(twilio.delete_step('5a000000-0000-4000-a000-00000000000a'), false, 'other: deleting A''s step finds nothing');
SELECT is((SELECT array_agg(campaign_name) FROM twilio.analytics(current_date, current_date)), ARRAY['B''s'],
          'other: analytics shows only their own campaign');
SELECT is((SELECT count(*)::integer FROM twilio.analytics(current_date, current_date,
                                                          'ca000000-0000-4000-a000-00000000000a')), 0,
          'other: analytics of A''s campaign is empty');
RESET ROLE;
SELECT is((SELECT string_agg(status || coalesce('/' || pause_reason, ''), ',' ORDER BY phone) FROM twilio.enrollments
            WHERE user_id = '00000000-0000-4000-a000-00000000000a'), 'active,active',
          'A''s enrollments are untouched by B''s attempts');
SELECT is((SELECT count(*)::integer FROM twilio.campaign_steps WHERE user_id = '00000000-0000-4000-a000-00000000000a'),
          1, 'A''s step is still there');

------------------------------------------------------------------------------------------------------------------
-- anon and service_role
------------------------------------------------------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"role": "anon"}';
SET LOCAL ROLE anon;
SELECT throws_ok(format('SELECT count(*) FROM twilio.%I', t), '42501', NULL, format('anon: cannot read %s', t))
  FROM drip_tables ORDER BY ord;
SELECT throws_ok($$SELECT twilio.enroll('ca000000-0000-4000-a000-00000000000a', NULL, '+15005550109', NULL, '{}')$$,
                 '42501', NULL, 'anon: cannot call enroll');
SELECT throws_ok($$SELECT twilio.drip_tick(1)$$, '42501', NULL, 'anon: cannot run the tick');
RESET ROLE;
SET LOCAL request.jwt.claims = '{"role": "service_role"}';
SET LOCAL ROLE service_role;
SELECT is(pg_temp.visible(), ARRAY['campaigns:ab', 'campaign_steps:ab', 'enrollments:aab', 'enrollment_sends:ab',
                                   'campaign_stats_daily:ab'], 'service_role: reads everyone''s rows (BYPASSRLS)');
SELECT throws_ok(format('DELETE FROM twilio.%I', t), '42501', NULL, format('service_role: cannot write %s directly', t))
  FROM drip_tables ORDER BY ord;
SELECT throws_ok($$SELECT twilio.enroll('ca000000-0000-4000-a000-00000000000a', NULL, '+15005550109', NULL, '{}')$$,
                 '42501', NULL, 'service_role: cannot act as a user through enroll');
SELECT throws_ok($$SELECT twilio.schedule_drips('0 seconds')$$, '22023', NULL,
                 'service_role: may schedule the tick (a bad interval is refused with 22023)');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
