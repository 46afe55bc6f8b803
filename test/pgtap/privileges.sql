-- Privileges and row-level security of schema `twilio`: who may read, write and call what.
--
-- Actors: the owner (authenticated, JWT sub = A), another user (authenticated, sub = B), anon and service_role
-- (BYPASSRLS), against both tables and every function of the schema. Fixtures are inserted as superuser (Twilio
-- is not reachable here, so save_settings / verify_settings / set_platform_account are never called); everything
-- runs in one transaction that is rolled back.
--
--   owner A = 00000000-0000-4000-a000-00000000000a   account ACaaaa...
--   other B = 00000000-0000-4000-a000-00000000000b   account ACbbbb...
--   platform account                                 account ACcccc...
BEGIN;
SELECT plan(288);

------------------------------------------------------------------------------------------------------------------
-- Fixtures (superuser)
------------------------------------------------------------------------------------------------------------------
INSERT INTO auth.users (id, email) VALUES
    ('00000000-0000-4000-a000-00000000000a', 'owner@example.test'),
    ('00000000-0000-4000-a000-00000000000b', 'other@example.test');
INSERT INTO twilio.user_settings (user_id, account_sid, auth_token_envelope, sms_number) VALUES
    ('00000000-0000-4000-a000-00000000000a', 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
     twilio._seal_token('00000000-0000-4000-a000-00000000000a', 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
                        '0123456789abcdef0123456789abcdef'), '+15005550006'),
    ('00000000-0000-4000-a000-00000000000b', 'ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
     twilio._seal_token('00000000-0000-4000-a000-00000000000b', 'ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
                        'fedcba9876543210fedcba9876543210'), NULL);
INSERT INTO twilio.platform_account (account_sid, auth_token_envelope, fallback_enabled) VALUES
    ('ACcccccccccccccccccccccccccccccccc',
     twilio._seal_token('platform', 'ACcccccccccccccccccccccccccccccccc', '00112233445566778899aabbccddeeff'), true);
-- Snapshots to restore rows that a test legitimately deletes.
CREATE TEMP TABLE saved_user_settings AS SELECT * FROM twilio.user_settings;

-- Positive controls: the rows exist, so every "0 rows" below is RLS or privileges at work, not an empty table.
SELECT is((SELECT count(*)::int FROM twilio.user_settings), 2, 'fixture: superuser sees both user_settings rows');
SELECT is((SELECT count(*)::int FROM twilio.platform_account), 1, 'fixture: superuser sees the platform row');

------------------------------------------------------------------------------------------------------------------
-- Catalog: RLS, policies, table and column privileges
------------------------------------------------------------------------------------------------------------------
SELECT ok((SELECT relrowsecurity FROM pg_class WHERE oid = 'twilio.user_settings'::regclass),
          'RLS is enabled on twilio.user_settings');
SELECT ok((SELECT relrowsecurity FROM pg_class WHERE oid = 'twilio.platform_account'::regclass),
          'RLS is enabled on twilio.platform_account');
SELECT policies_are('twilio', 'user_settings',
                    ARRAY['user_settings_select_own', 'user_settings_update_own', 'user_settings_delete_own'],
                    'user_settings has exactly the select/update/delete own-row policies (no INSERT policy)');
SELECT policies_are('twilio', 'platform_account', '{}'::name[], 'platform_account has no policy at all');
SELECT is((SELECT array_agg(p.polcmd::text || ':' || pg_get_expr(p.polqual, p.polrelid) ORDER BY p.polname)
             FROM pg_policy p WHERE p.polrelid = 'twilio.user_settings'::regclass),
          ARRAY['d:(user_id = auth.uid())', 'r:(user_id = auth.uid())', 'w:(user_id = auth.uid())'],
          'every user_settings policy is USING (user_id = auth.uid())');
SELECT is((SELECT pg_get_expr(p.polwithcheck, p.polrelid) FROM pg_policy p
            WHERE p.polrelid = 'twilio.user_settings'::regclass AND p.polname = 'user_settings_update_own'),
          '(user_id = auth.uid())', 'the UPDATE policy also checks the new row: WITH CHECK (user_id = auth.uid())');
SELECT policy_roles_are('twilio', 'user_settings', pol, ARRAY['authenticated'],
                        format('policy %s applies to authenticated only', pol))
  FROM unnest(ARRAY['user_settings_delete_own', 'user_settings_select_own', 'user_settings_update_own']) pol
 ORDER BY pol;

-- Table-level privileges (column-level SELECT / UPDATE grants do not show here).
SELECT table_privs_are('twilio', t, r, p, format('table privileges of %s on twilio.%s: %s', r, t, p))
  FROM (VALUES (1, 'user_settings', 'anon', '{}'::name[]),
               (2, 'user_settings', 'authenticated', '{DELETE}'::name[]),
               (3, 'user_settings', 'service_role', '{DELETE}'::name[]),
               (4, 'platform_account', 'anon', '{}'::name[]),
               (5, 'platform_account', 'authenticated', '{}'::name[]),
               (6, 'platform_account', 'service_role', '{}'::name[])) v(ord, t, r, p)
 ORDER BY ord;
SELECT any_column_privs_are('twilio', 'platform_account', r, '{}'::name[],
                            format('%s has no privilege on any column of twilio.platform_account', r))
  FROM unnest(ARRAY['anon', 'authenticated', 'service_role']) r
 ORDER BY r;

-- Column privileges of twilio.user_settings, every column x client role.
SELECT column_privs_are('twilio', 'user_settings', c.attname, r.role, expected,
                        format('%s on user_settings.%s: %s', r.role, c.attname, expected))
  FROM (SELECT attname, attnum FROM pg_attribute
         WHERE attrelid = 'twilio.user_settings'::regclass AND attnum > 0 AND NOT attisdropped) c
 CROSS JOIN unnest(ARRAY['anon', 'authenticated', 'service_role']) r(role)
 CROSS JOIN LATERAL (SELECT CASE
                              WHEN r.role = 'anon' OR c.attname = 'auth_token_envelope' THEN '{}'::name[]
                              WHEN c.attname = 'status' THEN '{SELECT,UPDATE}'::name[]
                              WHEN c.attname = 'max_segments_per_second' AND r.role = 'service_role'
                                  THEN '{SELECT,UPDATE}'::name[]
                              ELSE '{SELECT}'::name[]
                            END AS expected) e
 ORDER BY r.role, c.attnum;
SELECT is((SELECT count(*)::int FROM pg_attribute
            WHERE attrelid = 'twilio.user_settings'::regclass AND attnum > 0 AND NOT attisdropped), 13,
          'user_settings has the 13 columns whose privileges were checked above');
SELECT ok(NOT has_column_privilege(r, 'twilio.user_settings', 'auth_token_envelope', 'SELECT'),
          format('%s cannot SELECT user_settings.auth_token_envelope', r))
  FROM unnest(ARRAY['anon', 'authenticated', 'service_role']) r
 ORDER BY r;
SELECT ok(NOT has_column_privilege(r, 'twilio.platform_account', 'auth_token_envelope', 'SELECT'),
          format('%s cannot SELECT platform_account.auth_token_envelope', r))
  FROM unnest(ARRAY['anon', 'authenticated', 'service_role']) r
 ORDER BY r;
SELECT ok(NOT pg_has_role(r, 'pg_read_all_settings', 'MEMBER') AND NOT pg_has_role(r, 'pg_read_all_data', 'MEMBER'),
          format('%s is not a member of pg_read_all_settings / pg_read_all_data', r))
  FROM unnest(ARRAY['anon', 'authenticated', 'service_role']) r
 ORDER BY r;

------------------------------------------------------------------------------------------------------------------
-- Functions: EXECUTE for every function of the schema x client role
------------------------------------------------------------------------------------------------------------------
-- Public API (expected grants: the GRANT block at the end of sql/byo_twilio.sql).
SELECT function_privs_are('twilio', f.name, f.args, r.role,
                          CASE WHEN r.role = ANY (f.grantees) THEN '{EXECUTE}'::name[] ELSE '{}'::name[] END,
                          format('%s %s execute twilio.%s(%s)', r.role,
                                 CASE WHEN r.role = ANY (f.grantees) THEN 'can' ELSE 'cannot' END,
                                 f.name, array_to_string(f.args, ', ')))
  FROM (VALUES
        (1, 'compute_signature', '{text,text,jsonb}'::name[], '{authenticated,service_role}'::name[]),
        (2, 'validate_signature', '{text,text,text,text,text}', '{authenticated,service_role}'),
        (3, 'save_settings', '{text,text,text,text,text}', '{authenticated}'),
        (4, 'get_settings', '{}', '{authenticated}'),
        (5, 'status', '{}', '{authenticated}'),
        (6, 'verify_settings', '{}', '{authenticated}'),
        (7, 'disconnect', '{}', '{authenticated}'),
        (8, 'set_platform_account', '{text,text,text,text,text,boolean}', '{service_role}'),
        (9, 'set_platform_fallback', '{boolean}', '{service_role}'),
        (10, 'get_platform_account', '{}', '{service_role}'),
        (11, 'clear_platform_account', '{}', '{service_role}'),
        (12, 'rotate_encryption_keys', '{}', '{service_role}'),
        (13, 'encryption_status', '{}', '{service_role}'),
        (14, 'token_sealing_key', '{}', '{authenticated,service_role}')) f(ord, name, args, grantees)
 CROSS JOIN (VALUES (1, 'anon'::name), (2, 'authenticated'), (3, 'service_role')) r(rord, role)
 ORDER BY f.ord, r.rord;

-- Internal functions: nobody but the owner (superuser) may call them.
SELECT function_privs_are('twilio', f.name, f.args, r.role, '{}'::name[],
                          format('%s cannot execute internal twilio.%s(%s)', r.role, f.name,
                                 array_to_string(f.args, ', ')))
  FROM (VALUES
        (1, '_seal_token', '{text,text,text}'::name[]),
        (2, '_token_mask', '{text,text,bytea}'),
        (3, '_reseal_token', '{text,text,bytea}'),
        (4, '_envelope_key_id', '{bytea}'),
        (5, '_encryption_key_ids', '{}'),
        (6, '_check_credentials', '{text,text,text,text,text}'),
        (7, '_check_sealed_credentials', '{text,text,bytea,text,text,text}'),
        (8, '_touch_updated_at', '{}'),
        (9, '_require_user', '{}'),
        (10, '_mask_or_null', '{text,text,bytea}'),
        (11, '_settings_of', '{uuid}'),
        (12, '_raise_unless_ok', '{jsonb}'),
        (13, '_resolve_config', '{uuid}'),
        (14, '_check_formats', '{text,text,text,text,text}'),
        (15, '_token_input', '{text,text,text}'),
        (16, '_pinned_config', '{uuid,text}'),
        (17, '_own_settings', '{uuid}')) f(ord, name, args)
 CROSS JOIN (VALUES (1, 'anon'::name), (2, 'authenticated'), (3, 'service_role')) r(rord, role)
 ORDER BY f.ord, r.rord;

-- Catalog-wide, so that a function added later without its REVOKE / with a stray GRANT is caught too.
SELECT is(ARRAY(SELECT p.oid::regprocedure::text || ' by ' || r
                  FROM pg_proc p CROSS JOIN unnest(ARRAY['anon', 'authenticated', 'service_role']) r
                 WHERE p.pronamespace = 'twilio'::regnamespace AND p.proname LIKE '\_%'
                   AND has_function_privilege(r, p.oid, 'EXECUTE')
                 ORDER BY 1),
          '{}'::text[], 'no client role can execute any internal (_-prefixed) function of schema twilio');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace = 'twilio'::regnamespace
                   AND EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                                WHERE a.grantee = 0)
                 ORDER BY 1),
          '{}'::text[], 'PUBLIC cannot execute any function of schema twilio');
SELECT is(ARRAY(SELECT DISTINCT p.proname::text FROM pg_proc p
                 WHERE p.pronamespace = 'twilio'::regnamespace AND has_function_privilege(r.role, p.oid, 'EXECUTE')
                 ORDER BY 1),
          r.expected, format('%s can execute exactly these twilio functions', r.role))
  FROM (VALUES (1, 'anon', '{}'::text[]),
               (2, 'authenticated', '{activate_campaign,add_step,analytics,archive_campaign,complete_action,'
                                    'compute_signature,create_action,create_actions,create_campaign,'
                                    'current_action,delete_step,dial,disconnect,enroll,enroll_many,'
                                    'get_dialer_settings,get_or_create_conversation_for_lead,get_settings,'
                                    'media_link,next_action,pause_campaign,pause_enrollment,preview,preview_step,'
                                    'release_action,resume_campaign,resume_enrollment,save_dialer_settings,'
                                    'save_settings,send_conversation_message,send_sms,set_quiet_hours,'
                                    'skip_action,status,token_sealing_key,unenroll,update_campaign,update_step,'
                                    'validate_signature,verify_settings}'),
               (3, 'service_role', '{clear_platform_account,compute_signature,dispatcher_pid,drip_tick,'
                                   'encryption_status,get_platform_account,rotate_encryption_keys,schedule_drips,'
                                   'set_platform_account,set_platform_fallback,token_sealing_key,unschedule_drips,'
                                   'validate_signature}')) r(ord, role, expected)
 ORDER BY r.ord;
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace = 'twilio'::regnamespace AND p.prosecdef
                   AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search\_path=%')
                 ORDER BY 1),
          '{}'::text[], 'every SECURITY DEFINER function of schema twilio pins its search_path');

------------------------------------------------------------------------------------------------------------------
-- The encryption key setting (superuser positive control, then each client role below)
------------------------------------------------------------------------------------------------------------------
SELECT ok(length(current_setting('byo_twilio.encryption_key')) > 0,
          'control: byo_twilio.encryption_key is configured and readable by the superuser');

------------------------------------------------------------------------------------------------------------------
-- Owner: authenticated, sub = A
------------------------------------------------------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-a000-00000000000a", "role": "authenticated"}';
SET LOCAL ROLE authenticated;

SELECT is(auth.uid(), '00000000-0000-4000-a000-00000000000a'::uuid, 'owner: auth.uid() is A');
SELECT results_eq(
    'SELECT user_id, account_sid, sms_number, status FROM twilio.user_settings',
    $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text,
              '+15005550006'::text, 'active'::text)$$,
    'owner: SELECT sees exactly their own row');
SELECT is((SELECT count(*)::int FROM twilio.user_settings WHERE user_id = '00000000-0000-4000-a000-00000000000b'),
          0, 'owner: SELECT sees none of B''s rows, even by id');
SELECT lives_ok(
    $$SELECT user_id, account_sid, conversations_service_sid, messaging_service_sid, sms_number, status,
             verified_at, last_error, created_at, updated_at FROM twilio.user_settings$$,
    'owner: SELECT of every non-secret column works');
SELECT throws_ok('SELECT auth_token_envelope FROM twilio.user_settings', '42501', NULL,
                 'owner: SELECT auth_token_envelope is denied');
SELECT throws_ok('SELECT * FROM twilio.user_settings', '42501', NULL,
                 'owner: SELECT * is denied (it includes the envelope)');
SELECT throws_ok($$SELECT 1 FROM twilio.user_settings WHERE auth_token_envelope IS NOT NULL$$, '42501', NULL,
                 'owner: filtering on auth_token_envelope is denied too');
SELECT throws_ok(
    $$INSERT INTO twilio.user_settings (user_id, account_sid, auth_token_envelope)
      VALUES ('00000000-0000-4000-a000-00000000000a', 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '\x00')$$,
    '42501', NULL, 'owner: INSERT is denied (rows are written only by save_settings)');
SELECT throws_ok(
    $$INSERT INTO twilio.user_settings (user_id, account_sid, auth_token_envelope)
      VALUES ('00000000-0000-4000-a000-00000000000a', 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '\x00')
      ON CONFLICT (user_id) DO UPDATE SET status = 'active'$$,
    '42501', NULL, 'owner: INSERT ... ON CONFLICT DO UPDATE is denied');
WITH u AS (UPDATE twilio.user_settings SET status = 'disabled'
            WHERE user_id = '00000000-0000-4000-a000-00000000000a' RETURNING user_id)
SELECT is(count(*)::int, 1, 'owner: UPDATE of their own status affects their row') FROM u;
SELECT results_eq('SELECT status FROM twilio.user_settings', $$VALUES ('disabled'::text)$$,
                  'owner: the status change is visible');
-- No WHERE and no RETURNING: only the UPDATE policy (not the SELECT one) limits which rows this reaches.
SELECT lives_ok($$UPDATE twilio.user_settings SET status = 'active'$$,
                'owner: an UPDATE of status without WHERE runs');
RESET ROLE;
SELECT results_eq('SELECT user_id, status FROM twilio.user_settings ORDER BY user_id',
                  $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, 'active'::text),
                           ('00000000-0000-4000-a000-00000000000b'::uuid, 'active'::text)$$,
                  'owner: the UPDATE without WHERE changed only their own row');
UPDATE twilio.user_settings SET status = 'disabled' WHERE user_id = '00000000-0000-4000-a000-00000000000b';
SET LOCAL ROLE authenticated;
SELECT lives_ok($$UPDATE twilio.user_settings SET status = 'active'$$,
                'owner: another UPDATE of status without WHERE runs');
RESET ROLE;
SELECT is((SELECT status FROM twilio.user_settings WHERE user_id = '00000000-0000-4000-a000-00000000000b'),
          'disabled', 'owner: the UPDATE without WHERE did not re-enable B''s row');
UPDATE twilio.user_settings SET status = 'active' WHERE user_id = '00000000-0000-4000-a000-00000000000b';
SET LOCAL ROLE authenticated;
SELECT throws_ok(format('UPDATE twilio.user_settings SET %I = %I WHERE user_id = %L', c, c,
                        '00000000-0000-4000-a000-00000000000a'),
                 '42501', NULL, format('owner: UPDATE of %s on their own row is denied', c))
  FROM unnest(ARRAY['user_id', 'account_sid', 'auth_token_envelope', 'conversations_service_sid',
                    'messaging_service_sid', 'sms_number', 'verified_at', 'last_error', 'created_at',
                    'updated_at']) WITH ORDINALITY AS t(c, ord)
 ORDER BY ord;
SELECT throws_ok('UPDATE twilio.user_settings SET status = status RETURNING *', '42501', NULL,
                 'owner: UPDATE ... RETURNING * is denied (it would return the envelope)');
SELECT throws_ok('TRUNCATE twilio.user_settings', '42501', NULL, 'owner: TRUNCATE is denied');
-- Functions the owner may and may not call (none of these reach Twilio).
SELECT results_eq('SELECT account_sid, sms_number FROM twilio.get_settings()',
                  $$VALUES ('ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text, '+15005550006'::text)$$,
                  'owner: get_settings() returns their own settings');
SELECT ok((SELECT auth_token_masked NOT LIKE '%0123456789abcdef%' FROM twilio.get_settings()),
          'owner: get_settings() masks the token');
SELECT is((SELECT state FROM twilio.status()), 'connected', 'owner: status() reports their own account');
SELECT lives_ok($$SELECT twilio.compute_signature('tok', 'https://example.test/hook', '{}')$$,
                'owner: compute_signature() is callable');
SELECT throws_ok('SELECT * FROM twilio.get_platform_account()', '42501', NULL,
                 'owner: get_platform_account() is denied');
SELECT throws_ok('SELECT twilio.set_platform_fallback(false)', '42501', NULL,
                 'owner: set_platform_fallback() is denied');
SELECT throws_ok('SELECT * FROM twilio.encryption_status()', '42501', NULL,
                 'owner: encryption_status() is denied');
SELECT throws_ok($$SELECT * FROM twilio._resolve_config('00000000-0000-4000-a000-00000000000b')$$, '42501', NULL,
                 'owner: internal _resolve_config() is denied');
SELECT throws_ok($$SELECT twilio._seal_token('x', 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'y')$$, '42501', NULL,
                 'owner: internal _seal_token() is denied');
SELECT throws_ok($$SELECT twilio._token_mask('00000000-0000-4000-a000-00000000000b',
                                             'ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', '\x00')$$, '42501', NULL,
                 'owner: internal _token_mask() is denied');
-- The encryption key setting.
SELECT is((SELECT count(*)::int FROM pg_settings WHERE name LIKE 'byo\_twilio.encryption\_key%'), 0,
          'authenticated: byo_twilio.encryption_key(_file) is not visible in pg_settings');
SELECT throws_ok($$SELECT current_setting('byo_twilio.encryption_key')$$, '42501', NULL,
                 'authenticated: current_setting(byo_twilio.encryption_key) is denied');
SELECT throws_ok($$SELECT current_setting('byo_twilio.encryption_key', true)$$, '42501', NULL,
                 'authenticated: current_setting(byo_twilio.encryption_key, missing_ok) is denied');
SELECT throws_ok('SHOW byo_twilio.encryption_key', '42501', NULL,
                 'authenticated: SHOW byo_twilio.encryption_key is denied');
SELECT throws_ok($$SELECT current_setting('byo_twilio.encryption_key_file')$$, '42501', NULL,
                 'authenticated: current_setting(byo_twilio.encryption_key_file) is denied');

-- Owner DELETE of their own row; restored as superuser afterwards.
WITH d AS (DELETE FROM twilio.user_settings WHERE user_id = '00000000-0000-4000-a000-00000000000a' RETURNING user_id)
SELECT is(count(*)::int, 1, 'owner: DELETE of their own row works') FROM d;
RESET ROLE;
SELECT is((SELECT count(*)::int FROM twilio.user_settings WHERE user_id = '00000000-0000-4000-a000-00000000000a'), 0,
          'owner DELETE: A''s row is really gone');
SELECT is((SELECT count(*)::int FROM twilio.user_settings WHERE user_id = '00000000-0000-4000-a000-00000000000b'), 1,
          'owner DELETE: B''s row is untouched');
INSERT INTO twilio.user_settings
SELECT * FROM saved_user_settings WHERE user_id = '00000000-0000-4000-a000-00000000000a'
ON CONFLICT (user_id) DO NOTHING;
SELECT is((SELECT status FROM twilio.user_settings WHERE user_id = '00000000-0000-4000-a000-00000000000a'), 'active',
          'owner: A''s row is restored and active');

------------------------------------------------------------------------------------------------------------------
-- Other user: authenticated, sub = B, acting on A's row
------------------------------------------------------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-a000-00000000000b", "role": "authenticated"}';
SET LOCAL ROLE authenticated;

SELECT is(auth.uid(), '00000000-0000-4000-a000-00000000000b'::uuid, 'other user: auth.uid() is B');
SELECT is((SELECT count(*)::int FROM twilio.user_settings WHERE user_id = '00000000-0000-4000-a000-00000000000a'),
          0, 'other user: SELECT sees none of A''s rows');
SELECT results_eq('SELECT user_id, account_sid FROM twilio.user_settings',
                  $$VALUES ('00000000-0000-4000-a000-00000000000b'::uuid, 'ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'::text)$$,
                  'other user: SELECT sees only their own row');
SELECT throws_ok('SELECT auth_token_envelope FROM twilio.user_settings', '42501', NULL,
                 'other user: SELECT auth_token_envelope is denied');
WITH u AS (UPDATE twilio.user_settings SET status = 'disabled'
            WHERE user_id = '00000000-0000-4000-a000-00000000000a' RETURNING user_id)
SELECT is(count(*)::int, 0, 'other user: UPDATE of A''s status affects 0 rows') FROM u;
SELECT throws_ok($$UPDATE twilio.user_settings SET account_sid = 'ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'
                    WHERE user_id = '00000000-0000-4000-a000-00000000000a'$$, '42501', NULL,
                 'other user: UPDATE of A''s account_sid is denied');
SELECT throws_ok($$UPDATE twilio.user_settings SET user_id = '00000000-0000-4000-a000-00000000000b'
                    WHERE user_id = '00000000-0000-4000-a000-00000000000a'$$, '42501', NULL,
                 'other user: UPDATE of A''s user_id (taking over the row) is denied');
WITH d AS (DELETE FROM twilio.user_settings WHERE user_id = '00000000-0000-4000-a000-00000000000a' RETURNING user_id)
SELECT is(count(*)::int, 0, 'other user: DELETE of A''s row affects 0 rows') FROM d;
SELECT throws_ok(
    $$INSERT INTO twilio.user_settings (user_id, account_sid, auth_token_envelope)
      VALUES ('00000000-0000-4000-a000-00000000000a', 'ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', '\x00')$$,
    '42501', NULL, 'other user: INSERT of a row for A is denied');
SELECT results_eq('SELECT account_sid FROM twilio.get_settings()',
                  $$VALUES ('ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'::text)$$,
                  'other user: get_settings() returns B''s settings, not A''s');
-- Without WHERE / RETURNING the SELECT policy is not applied: the UPDATE and DELETE policies alone must keep B
-- away from A's row.
SELECT lives_ok($$UPDATE twilio.user_settings SET status = 'disabled'$$,
                'other user: an UPDATE of status without WHERE runs');
RESET ROLE;
SELECT results_eq('SELECT user_id, status FROM twilio.user_settings ORDER BY user_id',
                  $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, 'active'::text),
                           ('00000000-0000-4000-a000-00000000000b'::uuid, 'disabled'::text)$$,
                  'other user: the UPDATE without WHERE changed only B''s own row');
SET LOCAL ROLE authenticated;
SELECT lives_ok('DELETE FROM twilio.user_settings', 'other user: a DELETE without WHERE runs');
RESET ROLE;
SELECT results_eq('SELECT user_id FROM twilio.user_settings',
                  $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid)$$,
                  'other user: the DELETE without WHERE removed only B''s own row');
INSERT INTO twilio.user_settings
SELECT * FROM saved_user_settings WHERE user_id = '00000000-0000-4000-a000-00000000000b'
ON CONFLICT (user_id) DO NOTHING;
SELECT results_eq(
    $$SELECT account_sid, status FROM twilio.user_settings WHERE user_id = '00000000-0000-4000-a000-00000000000a'$$,
    $$VALUES ('ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text, 'active'::text)$$,
    'other user: A''s row survived B''s UPDATEs and DELETEs unchanged');

-- authenticated without a sub claim (e.g. a malformed token) sees nothing.
SET LOCAL request.jwt.claims = '{"role": "authenticated"}';
SET LOCAL ROLE authenticated;
SELECT is((SELECT count(*)::int FROM twilio.user_settings), 0, 'authenticated without sub: SELECT sees no row');
WITH u AS (UPDATE twilio.user_settings SET status = 'disabled' RETURNING user_id)
SELECT is(count(*)::int, 0, 'authenticated without sub: UPDATE affects no row') FROM u;
RESET ROLE;

------------------------------------------------------------------------------------------------------------------
-- anon (even carrying A's sub claim): every operation denied
------------------------------------------------------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-a000-00000000000a", "role": "anon"}';
SET LOCAL ROLE anon;

SELECT throws_ok('SELECT user_id FROM twilio.user_settings', '42501', NULL, 'anon: SELECT user_settings is denied');
SELECT throws_ok('SELECT 1 FROM twilio.user_settings', '42501', NULL, 'anon: SELECT 1 FROM user_settings is denied');
SELECT throws_ok('SELECT auth_token_envelope FROM twilio.user_settings', '42501', NULL,
                 'anon: SELECT auth_token_envelope is denied');
SELECT throws_ok(
    $$INSERT INTO twilio.user_settings (user_id, account_sid, auth_token_envelope)
      VALUES ('00000000-0000-4000-a000-00000000000a', 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '\x00')$$,
    '42501', NULL, 'anon: INSERT into user_settings is denied');
SELECT throws_ok($$UPDATE twilio.user_settings SET status = 'disabled'$$, '42501', NULL,
                 'anon: UPDATE of status is denied');
SELECT throws_ok($$UPDATE twilio.user_settings SET account_sid = account_sid$$, '42501', NULL,
                 'anon: UPDATE of account_sid is denied');
SELECT throws_ok('DELETE FROM twilio.user_settings', '42501', NULL, 'anon: DELETE from user_settings is denied');
SELECT throws_ok('SELECT * FROM twilio.status()', '42501', NULL, 'anon: status() is denied');
SELECT throws_ok('SELECT * FROM twilio.get_settings()', '42501', NULL, 'anon: get_settings() is denied');
SELECT throws_ok('SELECT twilio.disconnect()', '42501', NULL, 'anon: disconnect() is denied');
SELECT throws_ok($$SELECT twilio.compute_signature('tok', 'https://example.test/hook', '{}')$$, '42501', NULL,
                 'anon: compute_signature() is denied');
SELECT throws_ok('SELECT * FROM twilio.get_platform_account()', '42501', NULL,
                 'anon: get_platform_account() is denied');
SELECT is((SELECT count(*)::int FROM pg_settings WHERE name LIKE 'byo\_twilio.encryption\_key%'), 0,
          'anon: byo_twilio.encryption_key(_file) is not visible in pg_settings');
SELECT throws_ok($$SELECT current_setting('byo_twilio.encryption_key')$$, '42501', NULL,
                 'anon: current_setting(byo_twilio.encryption_key) is denied');
RESET ROLE;

------------------------------------------------------------------------------------------------------------------
-- service_role (BYPASSRLS, no sub): all rows, never the envelope
------------------------------------------------------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"role": "service_role"}';
SET LOCAL ROLE service_role;

SELECT results_eq('SELECT user_id, account_sid FROM twilio.user_settings ORDER BY user_id',
                  $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text),
                           ('00000000-0000-4000-a000-00000000000b'::uuid, 'ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'::text)$$,
                  'service_role: SELECT sees every row (BYPASSRLS)');
SELECT throws_ok('SELECT auth_token_envelope FROM twilio.user_settings', '42501', NULL,
                 'service_role: SELECT auth_token_envelope is denied');
SELECT throws_ok('SELECT * FROM twilio.user_settings', '42501', NULL,
                 'service_role: SELECT * is denied (it includes the envelope)');
SELECT throws_ok(
    $$INSERT INTO twilio.user_settings (user_id, account_sid, auth_token_envelope)
      VALUES ('00000000-0000-4000-a000-00000000000a', 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '\x00')$$,
    '42501', NULL, 'service_role: INSERT into user_settings is denied');
SELECT throws_ok(format('UPDATE twilio.user_settings SET %I = %I', c, c),
                 '42501', NULL, format('service_role: UPDATE of %s is denied', c))
  FROM unnest(ARRAY['user_id', 'account_sid', 'auth_token_envelope', 'conversations_service_sid',
                    'messaging_service_sid', 'sms_number', 'verified_at', 'last_error', 'created_at',
                    'updated_at']) WITH ORDINALITY AS t(c, ord)
 ORDER BY ord;
-- The SQL grants service_role UPDATE (status) and DELETE, which with BYPASSRLS reach every user's row.
WITH u AS (UPDATE twilio.user_settings SET status = 'disabled'
            WHERE user_id = '00000000-0000-4000-a000-00000000000a' RETURNING user_id)
SELECT is(count(*)::int, 1, 'service_role: UPDATE of status reaches any user''s row (granted, BYPASSRLS)') FROM u;
WITH d AS (DELETE FROM twilio.user_settings WHERE user_id = '00000000-0000-4000-a000-00000000000b' RETURNING user_id)
SELECT is(count(*)::int, 1, 'service_role: DELETE reaches any user''s row (granted, BYPASSRLS)') FROM d;
SELECT throws_ok('TRUNCATE twilio.user_settings', '42501', NULL, 'service_role: TRUNCATE is denied');
SELECT throws_ok('SELECT * FROM twilio.get_settings()', '42501', NULL, 'service_role: get_settings() is denied');
SELECT throws_ok('SELECT * FROM twilio.status()', '42501', NULL, 'service_role: status() is denied');
SELECT throws_ok('SELECT twilio.disconnect()', '42501', NULL, 'service_role: disconnect() is denied');
SELECT throws_ok($$SELECT * FROM twilio._resolve_config('00000000-0000-4000-a000-00000000000a')$$, '42501', NULL,
                 'service_role: internal _resolve_config() is denied');
SELECT throws_ok($$SELECT twilio._reseal_token('platform', 'ACcccccccccccccccccccccccccccccccc', '\x00')$$,
                 '42501', NULL, 'service_role: internal _reseal_token() is denied');
SELECT results_eq('SELECT account_sid, fallback_enabled FROM twilio.get_platform_account()',
                  $$VALUES ('ACcccccccccccccccccccccccccccccccc'::text, true)$$,
                  'service_role: get_platform_account() is callable');
SELECT lives_ok('SELECT * FROM twilio.encryption_status()', 'service_role: encryption_status() is callable');
SELECT is((SELECT count(*)::int FROM pg_settings WHERE name LIKE 'byo\_twilio.encryption\_key%'), 0,
          'service_role: byo_twilio.encryption_key(_file) is not visible in pg_settings');
SELECT throws_ok($$SELECT current_setting('byo_twilio.encryption_key')$$, '42501', NULL,
                 'service_role: current_setting(byo_twilio.encryption_key) is denied');
RESET ROLE;
UPDATE twilio.user_settings SET status = 'active' WHERE user_id = '00000000-0000-4000-a000-00000000000a';
INSERT INTO twilio.user_settings
SELECT * FROM saved_user_settings WHERE user_id = '00000000-0000-4000-a000-00000000000b'
ON CONFLICT (user_id) DO NOTHING;

------------------------------------------------------------------------------------------------------------------
-- platform_account: every operation denied to every client role
------------------------------------------------------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-a000-00000000000a", "role": "authenticated"}';
SET LOCAL ROLE authenticated;
SELECT throws_ok('SELECT 1 FROM twilio.platform_account', '42501', NULL, 'authenticated: SELECT platform_account is denied');
SELECT throws_ok($$INSERT INTO twilio.platform_account (account_sid, auth_token_envelope)
                   VALUES ('ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '\x00')$$, '42501', NULL,
                 'authenticated: INSERT into platform_account is denied');
SELECT throws_ok('UPDATE twilio.platform_account SET fallback_enabled = false', '42501', NULL,
                 'authenticated: UPDATE platform_account is denied');
SELECT throws_ok('DELETE FROM twilio.platform_account', '42501', NULL, 'authenticated: DELETE from platform_account is denied');
RESET ROLE;

SET LOCAL request.jwt.claims = '{"role": "anon"}';
SET LOCAL ROLE anon;
SELECT throws_ok('SELECT 1 FROM twilio.platform_account', '42501', NULL, 'anon: SELECT platform_account is denied');
SELECT throws_ok($$INSERT INTO twilio.platform_account (account_sid, auth_token_envelope)
                   VALUES ('ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '\x00')$$, '42501', NULL,
                 'anon: INSERT into platform_account is denied');
SELECT throws_ok('UPDATE twilio.platform_account SET fallback_enabled = false', '42501', NULL,
                 'anon: UPDATE platform_account is denied');
SELECT throws_ok('DELETE FROM twilio.platform_account', '42501', NULL, 'anon: DELETE from platform_account is denied');
RESET ROLE;

SET LOCAL request.jwt.claims = '{"role": "service_role"}';
SET LOCAL ROLE service_role;
SELECT throws_ok('SELECT 1 FROM twilio.platform_account', '42501', NULL, 'service_role: SELECT platform_account is denied');
SELECT throws_ok('SELECT auth_token_envelope FROM twilio.platform_account', '42501', NULL,
                 'service_role: SELECT platform_account.auth_token_envelope is denied');
SELECT throws_ok($$INSERT INTO twilio.platform_account (account_sid, auth_token_envelope)
                   VALUES ('ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '\x00')$$, '42501', NULL,
                 'service_role: INSERT into platform_account is denied');
SELECT throws_ok('UPDATE twilio.platform_account SET fallback_enabled = false', '42501', NULL,
                 'service_role: UPDATE platform_account is denied');
SELECT throws_ok('DELETE FROM twilio.platform_account', '42501', NULL, 'service_role: DELETE from platform_account is denied');
SELECT throws_ok('TRUNCATE twilio.platform_account', '42501', NULL, 'service_role: TRUNCATE platform_account is denied');
RESET ROLE;

SELECT results_eq('SELECT account_sid, fallback_enabled FROM twilio.platform_account',
                  $$VALUES ('ACcccccccccccccccccccccccccccccccc'::text, true)$$,
                  'platform_account is unchanged after every client attempt');
SELECT is((SELECT count(*)::int FROM twilio.user_settings), 2, 'both user_settings rows are present at the end');

SELECT * FROM finish();
ROLLBACK;
