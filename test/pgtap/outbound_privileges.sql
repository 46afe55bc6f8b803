-- Privileges and row-level security of the outbound objects of schema `twilio`: opt_outs, conversations,
-- messages, outbox, the view outbox_status, the enqueue functions and the dispatcher's functions.
--
-- Actors: the owner (authenticated, JWT sub = A), another user (authenticated, sub = B), anon and service_role
-- (BYPASSRLS). Fixtures are inserted as superuser; the enqueue functions are called as A (they only write rows:
-- nothing reaches Twilio before the dispatcher picks a committed outbox row up). Everything runs in one
-- transaction that is rolled back, so the dispatcher never sees a row of this file.
--
--   owner A = 00000000-0000-4000-a000-00000000000a   account ACaaaa...   opted out: +15005550199
--   other B = 00000000-0000-4000-a000-00000000000b   account ACbbbb...   opted out: +15005550299
--   A's conversation c...0a (lead d...0a, +15005550101), message e...0a; outbox: pending, done, failed
--   B's conversation c...0b (lead d...0b, +15005550201), message e...0b; outbox: pending x2, in_flight, ambiguous
BEGIN;
SELECT plan(239);

------------------------------------------------------------------------------------------------------------------
-- Fixtures (superuser)
------------------------------------------------------------------------------------------------------------------
INSERT INTO auth.users (id, email) VALUES
    ('00000000-0000-4000-a000-00000000000a', 'owner@example.test'),
    ('00000000-0000-4000-a000-00000000000b', 'other@example.test');
INSERT INTO twilio.user_settings (user_id, account_sid, auth_token_envelope, conversations_service_sid,
                                  messaging_service_sid, sms_number, status) VALUES
    ('00000000-0000-4000-a000-00000000000a', 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
     twilio._seal_token('00000000-0000-4000-a000-00000000000a', 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
                        '0123456789abcdef0123456789abcdef'),
     'ISaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '+15005550006', 'active'),
    ('00000000-0000-4000-a000-00000000000b', 'ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
     twilio._seal_token('00000000-0000-4000-a000-00000000000b', 'ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
                        'fedcba9876543210fedcba9876543210'),
     'ISbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 'MGbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', '+15005550007', 'active');
INSERT INTO twilio.opt_outs (user_id, phone, source) VALUES
    ('00000000-0000-4000-a000-00000000000a', '+15005550199', 'manual'),
    ('00000000-0000-4000-a000-00000000000b', '+15005550299', 'keyword');
INSERT INTO twilio.conversations (user_id, id, lead_id, phone, status, account_sid, service_sid, proxy_address)
VALUES
    ('00000000-0000-4000-a000-00000000000a', 'c0000000-0000-4000-a000-00000000000a',
     'd0000000-0000-4000-a000-00000000000a', '+15005550101', 'active', 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
     'ISaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '+15005550006'),
    ('00000000-0000-4000-a000-00000000000b', 'c0000000-0000-4000-a000-00000000000b',
     'd0000000-0000-4000-a000-00000000000b', '+15005550201', 'active', 'ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
     'ISbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', '+15005550007');
INSERT INTO twilio.messages (user_id, id, conversation_id, channel, to_number, from_number, body) VALUES
    ('00000000-0000-4000-a000-00000000000a', 'e0000000-0000-4000-a000-00000000000a',
     'c0000000-0000-4000-a000-00000000000a', 'conversation', '+15005550101', '+15005550006', 'hello from A'),
    ('00000000-0000-4000-a000-00000000000b', 'e0000000-0000-4000-a000-00000000000b',
     'c0000000-0000-4000-a000-00000000000b', 'conversation', '+15005550201', '+15005550007', 'hello from B');
INSERT INTO twilio.outbox (user_id, kind, conversation_id, message_id, state) VALUES
    ('00000000-0000-4000-a000-00000000000a', 'create_conversation', 'c0000000-0000-4000-a000-00000000000a', NULL,
     'done'),
    ('00000000-0000-4000-a000-00000000000a', 'send_conversation_message', 'c0000000-0000-4000-a000-00000000000a',
     'e0000000-0000-4000-a000-00000000000a', 'pending'),
    ('00000000-0000-4000-a000-00000000000a', 'send_sms', NULL, NULL, 'failed'),
    ('00000000-0000-4000-a000-00000000000b', 'create_conversation', 'c0000000-0000-4000-a000-00000000000b', NULL,
     'in_flight'),
    ('00000000-0000-4000-a000-00000000000b', 'send_conversation_message', 'c0000000-0000-4000-a000-00000000000b',
     'e0000000-0000-4000-a000-00000000000b', 'pending'),
    ('00000000-0000-4000-a000-00000000000b', 'send_sms', NULL, NULL, 'pending'),
    ('00000000-0000-4000-a000-00000000000b', 'send_sms', NULL, NULL, 'ambiguous');
-- Snapshot to restore opt-outs that a test legitimately deletes.
CREATE TEMP TABLE saved_opt_outs AS SELECT * FROM twilio.opt_outs;

-- Positive controls: the rows exist, so every "0 rows" below is RLS or privileges at work, not an empty table.
SELECT is((SELECT array_agg(t || ':' || n ORDER BY t)
             FROM (SELECT 'conversations' AS t, count(*) AS n FROM twilio.conversations
                   UNION ALL SELECT 'messages', count(*) FROM twilio.messages
                   UNION ALL SELECT 'opt_outs', count(*) FROM twilio.opt_outs
                   UNION ALL SELECT 'outbox', count(*) FROM twilio.outbox) c),
          ARRAY['conversations:2', 'messages:2', 'opt_outs:2', 'outbox:7'],
          'fixture: superuser sees every fixture row of the four outbound tables');
SELECT results_eq('SELECT backlog, in_flight, ambiguous, sent, failed FROM twilio.outbox_status',
                  'VALUES (3::bigint, 1::bigint, 1::bigint, 1::bigint, 1::bigint)',
                  'fixture: superuser sees everyone''s jobs in outbox_status');

------------------------------------------------------------------------------------------------------------------
-- Catalog: relations, RLS, policies, table privileges
------------------------------------------------------------------------------------------------------------------
SELECT tables_are('twilio', ARRAY['user_settings', 'platform_account', 'opt_outs', 'conversations', 'messages',
                                  'message_media',
                                  'outbox', 'webhook_events', 'voice_calls',
                                  'campaigns', 'campaign_steps', 'enrollments', 'enrollment_sends', 'campaign_stats_daily',
                                  'dialer_settings', 'do_not_call', 'manual_actions'], 'schema twilio has exactly these tables');
SELECT views_are('twilio', ARRAY['outbox_status'], 'schema twilio has exactly the view outbox_status');
SELECT is(ARRAY(SELECT c.relname::text FROM pg_class c
                 WHERE c.relnamespace = 'twilio'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity
                 ORDER BY 1),
          '{}'::text[], 'every table of schema twilio has RLS enabled');
SELECT ok((SELECT 'security_invoker=true' = ANY (c.reloptions) FROM pg_class c
            WHERE c.oid = 'twilio.outbox_status'::regclass),
          'outbox_status is security_invoker (the caller''s RLS applies to it)');

SELECT policies_are('twilio', 'opt_outs', ARRAY['opt_outs_select_own', 'opt_outs_insert_own', 'opt_outs_delete_own_manual'],
                    'opt_outs has exactly the select-own, insert-own-manual and delete-own-manual policies');
SELECT policies_are('twilio', 'conversations', ARRAY['conversations_select_own'],
                    'conversations has exactly the select-own policy');
SELECT policies_are('twilio', 'messages', ARRAY['messages_select_own'], 'messages has exactly the select-own policy');
SELECT policies_are('twilio', 'outbox', ARRAY['outbox_select_own'], 'outbox has exactly the select-own policy');
SELECT policy_roles_are('twilio', t, pol, ARRAY['authenticated'], format('policy %s applies to authenticated only', pol))
  FROM (VALUES (1, 'opt_outs', 'opt_outs_select_own'), (2, 'conversations', 'conversations_select_own'),
               (3, 'messages', 'messages_select_own'), (4, 'outbox', 'outbox_select_own')) v(ord, t, pol)
 ORDER BY ord;
SELECT is(ARRAY(SELECT p.polrelid::regclass::text || ' ' || p.polname || ' ' || p.polcmd::text || ' '
                       || p.polpermissive || ' USING ' || coalesce(pg_get_expr(p.polqual, p.polrelid), '-')
                       || ' CHECK ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '-')
                  FROM pg_policy p
                 WHERE p.polrelid IN ('twilio.opt_outs'::regclass, 'twilio.conversations'::regclass,
                                      'twilio.messages'::regclass, 'twilio.outbox'::regclass)
                 ORDER BY 1),
          ARRAY['twilio.conversations conversations_select_own r true USING (user_id = auth.uid()) CHECK -',
                'twilio.messages messages_select_own r true USING (user_id = auth.uid()) CHECK -',
                'twilio.opt_outs opt_outs_delete_own_manual d true USING ((user_id = auth.uid()) AND (source = ''manual''::text)) CHECK -',
                'twilio.opt_outs opt_outs_insert_own a true USING - CHECK ((user_id = auth.uid()) AND (source = ''manual''::text))',
                'twilio.opt_outs opt_outs_select_own r true USING (user_id = auth.uid()) CHECK -',
                'twilio.outbox outbox_select_own r true USING (user_id = auth.uid()) CHECK -'],
          'outbound policies: own rows only (opt_outs: manual entries may be added and removed; the others: SELECT only)');

-- Table-level privileges of each outbound relation x client role.
SELECT table_privs_are('twilio', t, r, p, format('table privileges of %s on twilio.%s: %s', r, t, p))
  FROM (VALUES (1, 'opt_outs', 'anon', '{}'::name[]),
               (2, 'opt_outs', 'authenticated', '{SELECT,INSERT,DELETE}'::name[]),
               (3, 'opt_outs', 'service_role', '{SELECT,INSERT,DELETE}'::name[]),
               (4, 'conversations', 'anon', '{}'::name[]),
               (5, 'conversations', 'authenticated', '{SELECT}'::name[]),
               (6, 'conversations', 'service_role', '{SELECT}'::name[]),
               (7, 'messages', 'anon', '{}'::name[]),
               (8, 'messages', 'authenticated', '{SELECT}'::name[]),
               (9, 'messages', 'service_role', '{SELECT}'::name[]),
               (10, 'outbox', 'anon', '{}'::name[]),
               (11, 'outbox', 'authenticated', '{SELECT}'::name[]),
               (12, 'outbox', 'service_role', '{SELECT}'::name[]),
               (13, 'outbox_status', 'anon', '{}'::name[]),
               (14, 'outbox_status', 'authenticated', '{SELECT}'::name[]),
               (15, 'outbox_status', 'service_role', '{SELECT}'::name[])) v(ord, t, r, p)
 ORDER BY ord;

-- Catalog-wide, so that a relation added later with a stray GRANT is caught too.
SELECT is(ARRAY(SELECT c.relname || ' ' || r || ' ' || priv
                  FROM pg_class c
                 CROSS JOIN unnest(ARRAY['anon', 'authenticated', 'service_role']) r
                 CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES',
                                         'TRIGGER']) priv
                 WHERE c.relnamespace = 'twilio'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                   AND has_table_privilege(r, c.oid, priv)
                 ORDER BY 1),
          ARRAY['campaign_stats_daily authenticated SELECT', 'campaign_stats_daily service_role SELECT',
                'campaign_steps authenticated SELECT', 'campaign_steps service_role SELECT',
                'campaigns authenticated SELECT', 'campaigns service_role SELECT',
                'conversations authenticated SELECT', 'conversations service_role SELECT',
                'dialer_settings authenticated SELECT', 'dialer_settings service_role SELECT',
                'do_not_call authenticated DELETE', 'do_not_call authenticated INSERT', 'do_not_call authenticated SELECT',
                'do_not_call service_role DELETE', 'do_not_call service_role INSERT', 'do_not_call service_role SELECT',
                'enrollment_sends authenticated SELECT', 'enrollment_sends service_role SELECT',
                'enrollments authenticated SELECT', 'enrollments service_role SELECT',
                'manual_actions authenticated SELECT', 'manual_actions service_role SELECT',
                'message_media authenticated SELECT', 'message_media service_role SELECT',
                'messages authenticated SELECT', 'messages service_role SELECT',
                'opt_outs authenticated DELETE', 'opt_outs authenticated INSERT', 'opt_outs authenticated SELECT',
                'opt_outs service_role DELETE', 'opt_outs service_role INSERT', 'opt_outs service_role SELECT',
                'outbox authenticated SELECT', 'outbox service_role SELECT',
                'outbox_status authenticated SELECT', 'outbox_status service_role SELECT',
                'user_settings authenticated DELETE', 'user_settings service_role DELETE',
                'voice_calls authenticated SELECT', 'voice_calls service_role SELECT',
                'webhook_events authenticated SELECT', 'webhook_events service_role SELECT'],
          'client roles hold exactly these table-level privileges in schema twilio');
SELECT is(ARRAY(SELECT a.attrelid::regclass::text || '.' || a.attname FROM pg_attribute a
                 WHERE a.attrelid IN ('twilio.opt_outs'::regclass, 'twilio.conversations'::regclass,
                                      'twilio.messages'::regclass, 'twilio.outbox'::regclass,
                                      'twilio.outbox_status'::regclass)
                   AND a.attacl IS NOT NULL
                 ORDER BY 1),
          '{}'::text[], 'no column-level grant on any outbound relation');
SELECT is(ARRAY(SELECT c.relname::text FROM pg_class c
                 WHERE c.relnamespace = 'twilio'::regnamespace
                   AND EXISTS (SELECT 1 FROM aclexplode(coalesce(c.relacl, acldefault(
                                   CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) a
                                WHERE a.grantee = 0)
                 ORDER BY 1),
          '{}'::text[], 'PUBLIC holds no privilege on any relation of schema twilio');
SELECT is(ARRAY(SELECT c.relname || ' ' || r || ' ' || priv
                  FROM pg_class c
                 CROSS JOIN unnest(ARRAY['anon', 'authenticated', 'service_role']) r
                 CROSS JOIN unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) priv
                 WHERE c.relnamespace = 'twilio'::regnamespace AND c.relkind = 'S'
                   AND has_sequence_privilege(r, c.oid, priv)
                 ORDER BY 1),
          '{}'::text[], 'no client role may use any sequence of schema twilio (outbox ids)');

------------------------------------------------------------------------------------------------------------------
-- Functions: EXECUTE for every new function x client role
------------------------------------------------------------------------------------------------------------------
SELECT function_privs_are('twilio', f.name, f.args, r.role,
                          CASE WHEN r.role = ANY (f.grantees) THEN '{EXECUTE}'::name[] ELSE '{}'::name[] END,
                          format('%s %s execute twilio.%s(%s)', r.role,
                                 CASE WHEN r.role = ANY (f.grantees) THEN 'can' ELSE 'cannot' END,
                                 f.name, array_to_string(f.args, ', ')))
  FROM (VALUES
        (1, 'get_or_create_conversation_for_lead', '{uuid,text,text}'::name[], '{authenticated}'::name[]),
        (2, 'send_conversation_message', '{uuid,text,text[]}', '{authenticated}'),
        (3, 'send_sms', '{text,text,text[]}', '{authenticated}'),
        (4, 'dispatcher_pid', '{}', '{service_role}')) f(ord, name, args, grantees)
 CROSS JOIN (VALUES (1, 'anon'::name), (2, 'authenticated'), (3, 'service_role')) r(rord, role)
 ORDER BY f.ord, r.rord;

SELECT function_privs_are('twilio', f.name, f.args, r.role, '{}'::name[],
                          format('%s cannot execute internal twilio.%s(%s)', r.role, f.name,
                                 array_to_string(f.args, ', ')))
  FROM (VALUES
        (1, '_sms_segments', '{text}'::name[]),
        (2, '_wake_dispatcher_on_commit', '{}'),
        (3, '_require_sender', '{uuid}'),
        (4, '_require_e164', '{text,text}'),
        (5, '_require_body', '{text}'),
        (6, '_require_not_opted_out', '{uuid,text}'),
        (7, '_claim_outbox', '{integer}'),
        (8, '_finish_outbox', '{jsonb}'),
        (9, '_sweep_outbox', '{integer}'),
        (10, '_next_due_ms', '{}'),
        (11, '_require_media_urls', '{text[]}'),
        (12, '_require_media_sids', '{text[]}'),
        (13, '_require_body_or_media', '{text,boolean}'),
        (14, '_record_outbound_media', '{uuid,uuid,text[],text[]}'),
        (15, '_enqueue_sms', '{uuid,text,text,text[]}'),
        (16, '_enqueue_conversation_message', '{uuid,uuid,text,text[]}')) f(ord, name, args)
 CROSS JOIN (VALUES (1, 'anon'::name), (2, 'authenticated'), (3, 'service_role')) r(rord, role)
 ORDER BY f.ord, r.rord;

SELECT is(ARRAY(SELECT p.proname || ' ' || p.prosecdef || ' ' || coalesce(array_to_string(p.proconfig, ';'), '-')
                  FROM pg_proc p
                 WHERE p.pronamespace = 'twilio'::regnamespace
                   AND p.proname IN ('get_or_create_conversation_for_lead', 'send_conversation_message', 'send_sms')
                 ORDER BY 1),
          ARRAY['get_or_create_conversation_for_lead true search_path=pg_catalog, pg_temp',
                'send_conversation_message true search_path=pg_catalog, pg_temp',
                'send_sms true search_path=pg_catalog, pg_temp'],
          'the enqueue functions are SECURITY DEFINER with a pinned search_path');
SELECT is(ARRAY(SELECT p.proname::text FROM pg_proc p
                 WHERE p.pronamespace = 'twilio'::regnamespace AND p.prosecdef
                   AND p.proname IN ('_sms_segments', '_wake_dispatcher_on_commit', '_require_sender',
                                     '_require_e164', '_require_body', '_require_not_opted_out', '_claim_outbox',
                                     '_finish_outbox', '_sweep_outbox', '_next_due_ms', 'dispatcher_pid')
                 ORDER BY 1),
          '{}'::text[], 'no internal outbound / dispatcher function is SECURITY DEFINER');

------------------------------------------------------------------------------------------------------------------
-- Owner: authenticated, sub = A
------------------------------------------------------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-a000-00000000000a", "role": "authenticated"}';
SET LOCAL ROLE authenticated;

SELECT is(auth.uid(), '00000000-0000-4000-a000-00000000000a'::uuid, 'owner: auth.uid() is A');
-- SELECT: exactly their own rows.
SELECT results_eq('SELECT user_id, phone FROM twilio.opt_outs',
                  $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, '+15005550199'::text)$$,
                  'owner: SELECT opt_outs sees exactly their own row');
SELECT results_eq('SELECT user_id, id FROM twilio.conversations',
                  $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, 'c0000000-0000-4000-a000-00000000000a'::uuid)$$,
                  'owner: SELECT conversations sees exactly their own row');
SELECT results_eq('SELECT user_id, id FROM twilio.messages',
                  $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, 'e0000000-0000-4000-a000-00000000000a'::uuid)$$,
                  'owner: SELECT messages sees exactly their own row');
SELECT results_eq('SELECT user_id, state FROM twilio.outbox ORDER BY state',
                  $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, 'done'::text),
                           ('00000000-0000-4000-a000-00000000000a'::uuid, 'failed'::text),
                           ('00000000-0000-4000-a000-00000000000a'::uuid, 'pending'::text)$$,
                  'owner: SELECT outbox sees exactly their own three jobs');
SELECT is((SELECT count(*)::int FROM twilio.opt_outs WHERE user_id = '00000000-0000-4000-a000-00000000000b')
          + (SELECT count(*)::int FROM twilio.conversations WHERE id = 'c0000000-0000-4000-a000-00000000000b')
          + (SELECT count(*)::int FROM twilio.messages WHERE id = 'e0000000-0000-4000-a000-00000000000b')
          + (SELECT count(*)::int FROM twilio.outbox WHERE user_id = '00000000-0000-4000-a000-00000000000b'),
          0, 'owner: none of B''s rows is visible, even asked for by id');
SELECT results_eq('SELECT backlog, in_flight, ambiguous, sent, failed FROM twilio.outbox_status',
                  'VALUES (1::bigint, 0::bigint, 0::bigint, 1::bigint, 1::bigint)',
                  'owner: outbox_status counts only their own jobs');

-- conversations / messages / outbox: no write of any kind, not even to their own rows.
SELECT throws_ok(v.stmt, '42501', format('permission denied for table %s', v.t), format('owner: %s', v.descr))
  FROM (VALUES
        (1, 'conversations', $$INSERT INTO twilio.conversations (user_id, lead_id, phone)
                               VALUES ('00000000-0000-4000-a000-00000000000a', gen_random_uuid(), '+15005550102')$$,
         'INSERT into conversations (own user_id) is denied'),
        (2, 'conversations', $$UPDATE twilio.conversations SET status = 'failed'
                                WHERE user_id = '00000000-0000-4000-a000-00000000000a'$$,
         'UPDATE of their own conversation is denied'),
        (3, 'conversations', $$DELETE FROM twilio.conversations WHERE user_id = '00000000-0000-4000-a000-00000000000a'$$,
         'DELETE of their own conversation is denied'),
        (4, 'messages', $$INSERT INTO twilio.messages (user_id, channel, to_number, body)
                          VALUES ('00000000-0000-4000-a000-00000000000a', 'sms', '+15005550102', 'x')$$,
         'INSERT into messages (own user_id) is denied'),
        (5, 'messages', $$UPDATE twilio.messages SET status = 'delivered'
                           WHERE user_id = '00000000-0000-4000-a000-00000000000a'$$,
         'UPDATE of their own message is denied'),
        (6, 'messages', $$DELETE FROM twilio.messages WHERE user_id = '00000000-0000-4000-a000-00000000000a'$$,
         'DELETE of their own message is denied'),
        (7, 'outbox', $$INSERT INTO twilio.outbox (user_id, kind)
                        VALUES ('00000000-0000-4000-a000-00000000000a', 'send_sms')$$,
         'INSERT into outbox (own user_id) is denied'),
        (8, 'outbox', $$UPDATE twilio.outbox SET state = 'pending', attempts = 0, not_before = now()
                         WHERE user_id = '00000000-0000-4000-a000-00000000000a'$$,
         'UPDATE of their own outbox jobs (e.g. re-queueing) is denied'),
        (9, 'outbox', $$DELETE FROM twilio.outbox WHERE user_id = '00000000-0000-4000-a000-00000000000a'$$,
         'DELETE of their own outbox jobs is denied'),
        (10, 'conversations', 'TRUNCATE twilio.conversations', 'TRUNCATE conversations is denied'),
        (11, 'messages', 'TRUNCATE twilio.messages', 'TRUNCATE messages is denied'),
        (12, 'outbox', 'TRUNCATE twilio.outbox', 'TRUNCATE outbox is denied'),
        (13, 'opt_outs', 'TRUNCATE twilio.opt_outs', 'TRUNCATE opt_outs is denied')) v(ord, t, stmt, descr)
 ORDER BY ord;

-- opt_outs: SELECT / INSERT / DELETE their own rows; no UPDATE; no row for anybody else.
WITH i AS (INSERT INTO twilio.opt_outs (user_id, phone)
           VALUES ('00000000-0000-4000-a000-00000000000a', '+15005550198') RETURNING user_id)
SELECT is(count(*)::int, 1, 'owner: INSERT of an opt-out for themselves works') FROM i;
SELECT results_eq($$SELECT phone, source FROM twilio.opt_outs ORDER BY phone$$,
                  $$VALUES ('+15005550198'::text, 'manual'::text), ('+15005550199'::text, 'manual'::text)$$,
                  'owner: the new opt-out is visible to them (source defaults to manual)');
SELECT throws_ok($$INSERT INTO twilio.opt_outs (user_id, phone)
                   VALUES ('00000000-0000-4000-a000-00000000000b', '+15005550197')$$,
                 '42501', 'new row violates row-level security policy for table "opt_outs"',
                 'owner: INSERT of an opt-out for B is an RLS violation');
SELECT throws_ok($$UPDATE twilio.opt_outs SET source = 'keyword'
                    WHERE user_id = '00000000-0000-4000-a000-00000000000a'$$,
                 '42501', 'permission denied for table opt_outs', 'owner: UPDATE of their own opt-out is denied');
SELECT throws_ok($$UPDATE twilio.opt_outs SET user_id = '00000000-0000-4000-a000-00000000000b'$$,
                 '42501', 'permission denied for table opt_outs',
                 'owner: UPDATE moving their opt-out to B is denied');
SELECT throws_ok($$INSERT INTO twilio.opt_outs (user_id, phone)
                   VALUES ('00000000-0000-4000-a000-00000000000a', '+15005550199')
                   ON CONFLICT (user_id, phone) DO UPDATE SET source = 'keyword'$$,
                 '42501', 'permission denied for table opt_outs',
                 'owner: INSERT ... ON CONFLICT DO UPDATE on opt_outs is denied');
WITH d AS (DELETE FROM twilio.opt_outs WHERE user_id = '00000000-0000-4000-a000-00000000000b' RETURNING phone)
SELECT is(count(*)::int, 0, 'owner: DELETE of B''s opt-outs affects 0 rows') FROM d;
WITH d AS (DELETE FROM twilio.opt_outs WHERE phone = '+15005550198' RETURNING user_id)
SELECT is(count(*)::int, 1, 'owner: DELETE of their own opt-out works') FROM d;
SELECT results_eq('SELECT phone FROM twilio.opt_outs', $$VALUES ('+15005550199'::text)$$,
                  'owner: after the DELETE only the fixture opt-out is left');
SELECT throws_ok($$INSERT INTO twilio.opt_outs (user_id, phone, source)
                   VALUES ('00000000-0000-4000-a000-00000000000a', '+15005550197', 'keyword')$$,
                 '42501', NULL, 'owner: cannot record a STOP opt-out themselves (only manual ones)');
-- No WHERE: the policy alone must keep the DELETE to their own rows.
SELECT lives_ok('DELETE FROM twilio.opt_outs', 'owner: a DELETE of opt_outs without WHERE runs');
RESET ROLE;
SELECT results_eq('SELECT user_id, phone FROM twilio.opt_outs',
                  $$VALUES ('00000000-0000-4000-a000-00000000000b'::uuid, '+15005550299'::text)$$,
                  'owner: the DELETE without WHERE removed only their own opt-out; B''s is untouched');
INSERT INTO twilio.opt_outs SELECT * FROM saved_opt_outs ON CONFLICT DO NOTHING;
SET LOCAL ROLE authenticated;

-- Functions the owner may and may not call.
SELECT throws_ok('SELECT twilio.dispatcher_pid()', '42501', 'permission denied for function dispatcher_pid',
                 'owner: dispatcher_pid() is denied');
SELECT throws_ok(v.stmt, '42501', format('permission denied for function %s', v.f),
                 format('owner: internal %s() is denied', v.f))
  FROM (VALUES (1, '_claim_outbox', 'SELECT * FROM twilio._claim_outbox(10)'),
               (2, '_finish_outbox', $$SELECT twilio._finish_outbox('[]')$$),
               (3, '_sweep_outbox', 'SELECT twilio._sweep_outbox(0)'),
               (4, '_next_due_ms', 'SELECT twilio._next_due_ms()'),
               (5, '_require_not_opted_out', $$SELECT twilio._require_not_opted_out(
                                                 '00000000-0000-4000-a000-00000000000b', '+15005550299')$$),
               (6, '_require_sender', $$SELECT * FROM twilio._require_sender('00000000-0000-4000-a000-00000000000b')$$),
               (7, '_sms_segments', $$SELECT * FROM twilio._sms_segments('x')$$)) v(ord, f, stmt)
 ORDER BY ord;
RESET ROLE;

------------------------------------------------------------------------------------------------------------------
-- Other user: authenticated, sub = B, acting on A's rows
------------------------------------------------------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-a000-00000000000b", "role": "authenticated"}';
SET LOCAL ROLE authenticated;

SELECT is(auth.uid(), '00000000-0000-4000-a000-00000000000b'::uuid, 'other user: auth.uid() is B');
SELECT results_eq('SELECT user_id, phone FROM twilio.opt_outs',
                  $$VALUES ('00000000-0000-4000-a000-00000000000b'::uuid, '+15005550299'::text)$$,
                  'other user: SELECT opt_outs sees only their own row');
SELECT results_eq('SELECT user_id, id FROM twilio.conversations',
                  $$VALUES ('00000000-0000-4000-a000-00000000000b'::uuid, 'c0000000-0000-4000-a000-00000000000b'::uuid)$$,
                  'other user: SELECT conversations sees only their own row');
SELECT results_eq('SELECT user_id, id FROM twilio.messages',
                  $$VALUES ('00000000-0000-4000-a000-00000000000b'::uuid, 'e0000000-0000-4000-a000-00000000000b'::uuid)$$,
                  'other user: SELECT messages sees only their own row');
SELECT results_eq('SELECT user_id, state FROM twilio.outbox ORDER BY state',
                  $$VALUES ('00000000-0000-4000-a000-00000000000b'::uuid, 'ambiguous'::text),
                           ('00000000-0000-4000-a000-00000000000b'::uuid, 'in_flight'::text),
                           ('00000000-0000-4000-a000-00000000000b'::uuid, 'pending'::text),
                           ('00000000-0000-4000-a000-00000000000b'::uuid, 'pending'::text)$$,
                  'other user: SELECT outbox sees only their own four jobs');
SELECT is((SELECT count(*)::int FROM twilio.opt_outs WHERE user_id = '00000000-0000-4000-a000-00000000000a')
          + (SELECT count(*)::int FROM twilio.conversations WHERE id = 'c0000000-0000-4000-a000-00000000000a')
          + (SELECT count(*)::int FROM twilio.messages WHERE id = 'e0000000-0000-4000-a000-00000000000a')
          + (SELECT count(*)::int FROM twilio.outbox WHERE user_id = '00000000-0000-4000-a000-00000000000a'),
          0, 'other user: none of A''s rows is visible, even asked for by id');
SELECT results_eq('SELECT backlog, in_flight, ambiguous, sent, failed FROM twilio.outbox_status',
                  'VALUES (2::bigint, 1::bigint, 1::bigint, 0::bigint, 0::bigint)',
                  'other user: outbox_status counts only their own jobs');
SELECT throws_ok(v.stmt, '42501', format('permission denied for table %s', v.t), format('other user: %s', v.descr))
  FROM (VALUES
        (1, 'conversations', $$INSERT INTO twilio.conversations (user_id, lead_id, phone)
                               VALUES ('00000000-0000-4000-a000-00000000000a', gen_random_uuid(), '+15005550102')$$,
         'INSERT of a conversation for A is denied'),
        (2, 'conversations', $$UPDATE twilio.conversations SET phone = '+15005550201'
                                WHERE id = 'c0000000-0000-4000-a000-00000000000a'$$,
         'UPDATE of A''s conversation is denied'),
        (3, 'conversations', $$DELETE FROM twilio.conversations WHERE id = 'c0000000-0000-4000-a000-00000000000a'$$,
         'DELETE of A''s conversation is denied'),
        (4, 'messages', $$INSERT INTO twilio.messages (user_id, channel, to_number, body)
                          VALUES ('00000000-0000-4000-a000-00000000000a', 'sms', '+15005550102', 'x')$$,
         'INSERT of a message for A is denied'),
        (5, 'messages', $$UPDATE twilio.messages SET body = 'changed' WHERE id = 'e0000000-0000-4000-a000-00000000000a'$$,
         'UPDATE of A''s message is denied'),
        (6, 'messages', $$DELETE FROM twilio.messages WHERE id = 'e0000000-0000-4000-a000-00000000000a'$$,
         'DELETE of A''s message is denied'),
        (7, 'outbox', $$INSERT INTO twilio.outbox (user_id, kind)
                        VALUES ('00000000-0000-4000-a000-00000000000a', 'send_sms')$$,
         'INSERT of an outbox job for A is denied'),
        (8, 'outbox', $$UPDATE twilio.outbox SET state = 'failed'
                         WHERE user_id = '00000000-0000-4000-a000-00000000000a'$$,
         'UPDATE of A''s outbox jobs is denied'),
        (9, 'outbox', $$DELETE FROM twilio.outbox WHERE user_id = '00000000-0000-4000-a000-00000000000a'$$,
         'DELETE of A''s outbox jobs is denied'),
        (10, 'opt_outs', $$UPDATE twilio.opt_outs SET phone = '+15005550197'
                            WHERE user_id = '00000000-0000-4000-a000-00000000000a'$$,
         'UPDATE of A''s opt-out is denied')) v(ord, t, stmt, descr)
 ORDER BY ord;
SELECT throws_ok($$INSERT INTO twilio.opt_outs (user_id, phone)
                   VALUES ('00000000-0000-4000-a000-00000000000a', '+15005550197')$$,
                 '42501', 'new row violates row-level security policy for table "opt_outs"',
                 'other user: INSERT of an opt-out for A is an RLS violation');
WITH d AS (DELETE FROM twilio.opt_outs WHERE user_id = '00000000-0000-4000-a000-00000000000a' RETURNING phone)
SELECT is(count(*)::int, 0, 'other user: DELETE of A''s opt-out affects 0 rows') FROM d;
RESET ROLE;
SELECT results_eq('SELECT user_id, phone FROM twilio.opt_outs ORDER BY user_id',
                  $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, '+15005550199'::text),
                           ('00000000-0000-4000-a000-00000000000b'::uuid, '+15005550299'::text)$$,
                  'other user: A''s opt-out survived B''s attempts');

------------------------------------------------------------------------------------------------------------------
-- anon (even carrying A's sub claim): every operation denied
------------------------------------------------------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-a000-00000000000a", "role": "anon"}';
SET LOCAL ROLE anon;

SELECT throws_ok(format(v.stmt, t.t), '42501', format('permission denied for table %s', t.t),
                 format('anon: %s on %s is denied', v.op, t.t))
  FROM (VALUES (1, 'opt_outs', $$(user_id, phone) VALUES ('00000000-0000-4000-a000-00000000000a', '+15005550197')$$,
                'phone = phone'),
               (2, 'conversations', $$(user_id, lead_id, phone)
                                      VALUES ('00000000-0000-4000-a000-00000000000a', gen_random_uuid(), '+15005550102')$$,
                'status = status'),
               (3, 'messages', $$(user_id, channel, body) VALUES ('00000000-0000-4000-a000-00000000000a', 'sms', 'x')$$,
                'status = status'),
               (4, 'outbox', $$(user_id, kind) VALUES ('00000000-0000-4000-a000-00000000000a', 'send_sms')$$,
                'state = state')) t(tord, t, ins, upd)
 CROSS JOIN LATERAL (VALUES (1, 'SELECT', 'SELECT 1 FROM twilio.%I'),
                            (2, 'INSERT', 'INSERT INTO twilio.%I ' || replace(t.ins, '%', '%%')),
                            (3, 'UPDATE', 'UPDATE twilio.%I SET ' || t.upd),
                            (4, 'DELETE', 'DELETE FROM twilio.%I')) v(vord, op, stmt)
 ORDER BY t.tord, v.vord;
SELECT throws_ok('SELECT * FROM twilio.outbox_status', '42501', 'permission denied for view outbox_status',
                 'anon: SELECT outbox_status is denied');
SELECT throws_ok(v.stmt, '42501', format('permission denied for function %s', v.f), format('anon: %s() is denied', v.f))
  FROM (VALUES (1, 'get_or_create_conversation_for_lead',
                $$SELECT twilio.get_or_create_conversation_for_lead(gen_random_uuid(), '+15005550102')$$),
               (2, 'send_conversation_message',
                $$SELECT twilio.send_conversation_message('c0000000-0000-4000-a000-00000000000a', 'hi')$$),
               (3, 'send_sms', $$SELECT twilio.send_sms('+15005550102', 'hi')$$),
               (4, 'dispatcher_pid', 'SELECT twilio.dispatcher_pid()'),
               (5, '_claim_outbox', 'SELECT * FROM twilio._claim_outbox(10)')) v(ord, f, stmt)
 ORDER BY ord;
RESET ROLE;

------------------------------------------------------------------------------------------------------------------
-- service_role (BYPASSRLS, no sub): reads everything; writes only opt_outs (INSERT / DELETE)
------------------------------------------------------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"role": "service_role"}';
SET LOCAL ROLE service_role;

SELECT results_eq('SELECT user_id, phone FROM twilio.opt_outs ORDER BY user_id',
                  $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, '+15005550199'::text),
                           ('00000000-0000-4000-a000-00000000000b'::uuid, '+15005550299'::text)$$,
                  'service_role: SELECT opt_outs sees every user''s rows');
SELECT results_eq('SELECT user_id, id FROM twilio.conversations ORDER BY user_id',
                  $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, 'c0000000-0000-4000-a000-00000000000a'::uuid),
                           ('00000000-0000-4000-a000-00000000000b'::uuid, 'c0000000-0000-4000-a000-00000000000b'::uuid)$$,
                  'service_role: SELECT conversations sees every user''s rows');
SELECT results_eq('SELECT user_id, id FROM twilio.messages ORDER BY user_id',
                  $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, 'e0000000-0000-4000-a000-00000000000a'::uuid),
                           ('00000000-0000-4000-a000-00000000000b'::uuid, 'e0000000-0000-4000-a000-00000000000b'::uuid)$$,
                  'service_role: SELECT messages sees every user''s rows');
SELECT results_eq('SELECT user_id, count(*)::int FROM twilio.outbox GROUP BY user_id ORDER BY user_id',
                  $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, 3), ('00000000-0000-4000-a000-00000000000b'::uuid, 4)$$,
                  'service_role: SELECT outbox sees every user''s jobs');
SELECT results_eq('SELECT backlog, in_flight, ambiguous, sent, failed FROM twilio.outbox_status',
                  'VALUES (3::bigint, 1::bigint, 1::bigint, 1::bigint, 1::bigint)',
                  'service_role: outbox_status counts everyone''s jobs');
WITH i AS (INSERT INTO twilio.opt_outs (user_id, phone, source)
           VALUES ('00000000-0000-4000-a000-00000000000a', '+15005550196', 'keyword') RETURNING user_id)
SELECT is(count(*)::int, 1, 'service_role: INSERT of an opt-out for any user works') FROM i;
WITH d AS (DELETE FROM twilio.opt_outs WHERE phone = '+15005550196' RETURNING user_id)
SELECT is(count(*)::int, 1, 'service_role: DELETE of any user''s opt-out works') FROM d;
SELECT throws_ok(v.stmt, '42501', format('permission denied for table %s', v.t), format('service_role: %s', v.descr))
  FROM (VALUES
        (1, 'opt_outs', $$UPDATE twilio.opt_outs SET source = 'manual'$$, 'UPDATE of opt_outs is denied'),
        (2, 'conversations', $$INSERT INTO twilio.conversations (user_id, lead_id, phone)
                               VALUES ('00000000-0000-4000-a000-00000000000a', gen_random_uuid(), '+15005550102')$$,
         'INSERT into conversations is denied'),
        (3, 'conversations', $$UPDATE twilio.conversations SET status = 'failed'$$,
         'UPDATE of conversations is denied'),
        (4, 'conversations', 'DELETE FROM twilio.conversations', 'DELETE from conversations is denied'),
        (5, 'messages', $$INSERT INTO twilio.messages (user_id, channel, body)
                          VALUES ('00000000-0000-4000-a000-00000000000a', 'sms', 'x')$$,
         'INSERT into messages is denied'),
        (6, 'messages', $$UPDATE twilio.messages SET status = 'failed'$$, 'UPDATE of messages is denied'),
        (7, 'messages', 'DELETE FROM twilio.messages', 'DELETE from messages is denied'),
        (8, 'outbox', $$INSERT INTO twilio.outbox (user_id, kind)
                        VALUES ('00000000-0000-4000-a000-00000000000a', 'send_sms')$$,
         'INSERT into outbox is denied'),
        (9, 'outbox', $$UPDATE twilio.outbox SET state = 'pending'$$, 'UPDATE of outbox is denied'),
        (10, 'outbox', 'DELETE FROM twilio.outbox', 'DELETE from outbox is denied'),
        (11, 'opt_outs', 'TRUNCATE twilio.opt_outs', 'TRUNCATE opt_outs is denied'),
        (12, 'conversations', 'TRUNCATE twilio.conversations', 'TRUNCATE conversations is denied'),
        (13, 'messages', 'TRUNCATE twilio.messages', 'TRUNCATE messages is denied'),
        (14, 'outbox', 'TRUNCATE twilio.outbox', 'TRUNCATE outbox is denied')) v(ord, t, stmt, descr)
 ORDER BY ord;
SELECT lives_ok('SELECT twilio.dispatcher_pid()', 'service_role: dispatcher_pid() is callable');
SELECT throws_ok(v.stmt, '42501', format('permission denied for function %s', v.f),
                 format('service_role: %s() is denied', v.f))
  FROM (VALUES (1, 'get_or_create_conversation_for_lead',
                $$SELECT twilio.get_or_create_conversation_for_lead(gen_random_uuid(), '+15005550102')$$),
               (2, 'send_conversation_message',
                $$SELECT twilio.send_conversation_message('c0000000-0000-4000-a000-00000000000a', 'hi')$$),
               (3, 'send_sms', $$SELECT twilio.send_sms('+15005550102', 'hi')$$),
               (4, '_claim_outbox', 'SELECT * FROM twilio._claim_outbox(10)'),
               (5, '_finish_outbox', $$SELECT twilio._finish_outbox('[]')$$),
               (6, '_sweep_outbox', 'SELECT twilio._sweep_outbox(0)')) v(ord, f, stmt)
 ORDER BY ord;
RESET ROLE;
SELECT results_eq('SELECT user_id, state FROM twilio.outbox ORDER BY user_id, id',
                  $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, 'done'::text),
                           ('00000000-0000-4000-a000-00000000000a'::uuid, 'pending'::text),
                           ('00000000-0000-4000-a000-00000000000a'::uuid, 'failed'::text),
                           ('00000000-0000-4000-a000-00000000000b'::uuid, 'in_flight'::text),
                           ('00000000-0000-4000-a000-00000000000b'::uuid, 'pending'::text),
                           ('00000000-0000-4000-a000-00000000000b'::uuid, 'pending'::text),
                           ('00000000-0000-4000-a000-00000000000b'::uuid, 'ambiguous'::text)$$,
                  'the outbox is unchanged after every client attempt to write it');

------------------------------------------------------------------------------------------------------------------
-- The enqueue functions, called as the owner A
------------------------------------------------------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-a000-00000000000a", "role": "authenticated"}';
SET LOCAL ROLE authenticated;

-- Refusals, each for its own reason (55000 has several causes, so the message is checked too).
SELECT throws_ok($$SELECT twilio.send_sms('+15005550199', 'hello')$$, '55000',
                 'the recipient +15005550199 has opted out of your messages',
                 'owner: send_sms to a number they opted out of is refused (55000)');
SELECT throws_ok($$SELECT twilio.send_sms('+15005550102', '')$$, '22023', 'message body is empty',
                 'owner: send_sms with an empty body is refused (22023)');
SELECT throws_ok($$SELECT twilio.send_sms('+15005550102', '   ')$$, '22023', 'message body is empty',
                 'owner: send_sms with a blank body is refused (22023)');
SELECT throws_ok($$SELECT twilio.send_sms('5005550102', 'hello')$$, '22023',
                 'to_number must be an E.164 phone number: ''+'', country code and number, digits only',
                 'owner: send_sms to a number that is not E.164 is refused (22023)');
SELECT throws_ok($$SELECT twilio.send_sms('+15005550102', repeat('x', 1601))$$, '22001',
                 'message body has 1601 characters; Twilio accepts at most 1600',
                 'owner: send_sms with a 1601-character body is refused (22001)');
SELECT throws_ok($$SELECT twilio.send_conversation_message('c0000000-0000-4000-a000-00000000000b', 'hello')$$,
                 'P0002', 'conversation c0000000-0000-4000-a000-00000000000b not found',
                 'owner: send_conversation_message on B''s conversation is refused as not found (P0002)');

-- Successful calls: rows written in the caller's transaction, owned by A.
SELECT ok(set_config('tap.sms_id', twilio.send_sms('+15005550299', 'hello B''s opted-out number')::text, true)
          IS NOT NULL, 'owner: send_sms to a number only B opted out of works (opt-outs are per user)');
SELECT lives_ok($$SELECT twilio.send_sms('+15005550102', repeat('x', 1600))$$,
                'owner: send_sms with a 1600-character body works');
SELECT ok(set_config('tap.conv_id', twilio.get_or_create_conversation_for_lead(
                         'd0000000-0000-4000-a000-0000000000a2', '+15005550102', 'Lead two')::text, true)
          IS NOT NULL, 'owner: get_or_create_conversation_for_lead creates a conversation');
SELECT is(twilio.get_or_create_conversation_for_lead('d0000000-0000-4000-a000-0000000000a2', '+15005550102'),
          current_setting('tap.conv_id')::uuid, 'owner: get_or_create_conversation_for_lead again returns the same id');
SELECT isnt(twilio.get_or_create_conversation_for_lead('d0000000-0000-4000-a000-00000000000b', '+15005550201'),
            'c0000000-0000-4000-a000-00000000000b'::uuid,
            'owner: get_or_create_conversation_for_lead with B''s lead_id makes A''s own conversation, not B''s');
SELECT ok(set_config('tap.conv_msg_id', twilio.send_conversation_message(current_setting('tap.conv_id')::uuid,
                                                                         'hello lead two')::text, true)
          IS NOT NULL, 'owner: send_conversation_message on their own conversation works');

SELECT results_eq(
    $$SELECT user_id, channel, direction, to_number, from_number, status, segments, encoding, account_sid
        FROM twilio.messages WHERE id = current_setting('tap.sms_id')::uuid$$,
    $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, 'sms'::text, 'outbound'::text, '+15005550299'::text,
              '+15005550006'::text, 'queued'::text, 1, 'GSM-7'::text, 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text)$$,
    'owner: the SMS message is visible to A, queued, from A''s number and account');
SELECT results_eq(
    $$SELECT user_id, kind, state, conversation_id FROM twilio.outbox
       WHERE message_id = current_setting('tap.sms_id')::uuid$$,
    $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, 'send_sms'::text, 'pending'::text, NULL::uuid)$$,
    'owner: send_sms queued exactly one pending send_sms job, visible to A');
SELECT results_eq(
    $$SELECT user_id, lead_id, phone, friendly_name, status, service_sid, proxy_address FROM twilio.conversations
       WHERE id = current_setting('tap.conv_id')::uuid$$,
    $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, 'd0000000-0000-4000-a000-0000000000a2'::uuid,
              '+15005550102'::text, 'Lead two'::text, 'pending'::text, 'ISaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text,
              '+15005550006'::text)$$,
    'owner: the new conversation is visible to A, pending, on A''s service and number');
SELECT results_eq(
    $$SELECT kind, message_id IS NULL FROM twilio.outbox
       WHERE conversation_id = current_setting('tap.conv_id')::uuid ORDER BY id$$,
    $$VALUES ('create_conversation'::text, true), ('send_conversation_message'::text, false)$$,
    'owner: one create_conversation job (not two: the second call reused it), then the message job');
SELECT results_eq(
    $$SELECT user_id, conversation_id, channel, to_number FROM twilio.messages
       WHERE id = current_setting('tap.conv_msg_id')::uuid$$,
    $$SELECT '00000000-0000-4000-a000-00000000000a'::uuid, current_setting('tap.conv_id')::uuid,
             'conversation'::text, '+15005550102'::text$$,
    'owner: the conversation message is visible to A, in that conversation');
-- Jobs: 3 fixtures + 2 send_sms + 2 create_conversation (lead two, B's lead id) + 1 conversation message.
SELECT results_eq('SELECT backlog, in_flight, ambiguous, sent, failed FROM twilio.outbox_status',
                  'VALUES (6::bigint, 0::bigint, 0::bigint, 1::bigint, 1::bigint)',
                  'owner: outbox_status counts their five new pending jobs');
RESET ROLE;

-- Ownership as stored, seen without RLS.
SELECT is(ARRAY(SELECT DISTINCT o.user_id FROM twilio.outbox o
                 WHERE o.message_id IN (current_setting('tap.sms_id')::uuid, current_setting('tap.conv_msg_id')::uuid)
                    OR o.conversation_id = current_setting('tap.conv_id')::uuid),
          ARRAY['00000000-0000-4000-a000-00000000000a'::uuid],
          'superuser: every outbox job the sends created belongs to A');
SELECT results_eq(
    $$SELECT user_id, id FROM twilio.conversations WHERE lead_id = 'd0000000-0000-4000-a000-00000000000b'
       ORDER BY user_id$$,
    $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, (SELECT id FROM twilio.conversations
                                                          WHERE user_id = '00000000-0000-4000-a000-00000000000a'
                                                            AND lead_id = 'd0000000-0000-4000-a000-00000000000b')),
             ('00000000-0000-4000-a000-00000000000b'::uuid, 'c0000000-0000-4000-a000-00000000000b'::uuid)$$,
    'superuser: B''s conversation for the same lead_id is untouched');

-- B sees none of it.
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-a000-00000000000b", "role": "authenticated"}';
SET LOCAL ROLE authenticated;
SELECT is((SELECT count(*)::int FROM twilio.messages
            WHERE id IN (current_setting('tap.sms_id')::uuid, current_setting('tap.conv_msg_id')::uuid)),
          0, 'other user: A''s new messages are not visible to B');
SELECT is((SELECT count(*)::int FROM twilio.conversations WHERE id = current_setting('tap.conv_id')::uuid), 0,
          'other user: A''s new conversation is not visible to B');
SELECT is((SELECT count(*)::int FROM twilio.outbox
            WHERE message_id IN (current_setting('tap.sms_id')::uuid, current_setting('tap.conv_msg_id')::uuid)
               OR conversation_id = current_setting('tap.conv_id')::uuid),
          0, 'other user: A''s new outbox jobs are not visible to B');
SELECT results_eq('SELECT backlog, in_flight, ambiguous, sent, failed FROM twilio.outbox_status',
                  'VALUES (2::bigint, 1::bigint, 1::bigint, 0::bigint, 0::bigint)',
                  'other user: outbox_status is unchanged by A''s sends');
SELECT throws_ok(format('SELECT twilio.send_conversation_message(%L, %L)', current_setting('tap.conv_id'), 'hi'),
                 'P0002', format('conversation %s not found', current_setting('tap.conv_id')),
                 'other user: send_conversation_message on A''s conversation is refused as not found (P0002)');
RESET ROLE;

-- authenticated without a sub claim cannot enqueue anything.
SET LOCAL request.jwt.claims = '{"role": "authenticated"}';
SET LOCAL ROLE authenticated;
SELECT throws_ok($$SELECT twilio.send_sms('+15005550102', 'hello')$$, '28000',
                 'no authenticated user: auth.uid() is null', 'authenticated without sub: send_sms is refused (28000)');
SELECT is((SELECT count(*)::int FROM twilio.outbox), 0, 'authenticated without sub: sees no outbox job');
RESET ROLE;

------------------------------------------------------------------------------------------------------------------
-- user_settings columns the dispatcher reads: the per-user rate is the operator's, not the user's
------------------------------------------------------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-a000-00000000000a", "role": "authenticated"}';
SET LOCAL ROLE authenticated;
SELECT throws_ok($$UPDATE twilio.user_settings SET max_segments_per_second = 1000
                    WHERE user_id = '00000000-0000-4000-a000-00000000000a'$$, '42501',
                 'permission denied for table user_settings',
                 'owner: UPDATE of their own max_segments_per_second is denied');
SELECT throws_ok($$UPDATE twilio.user_settings SET webhook_key = 'x'
                    WHERE user_id = '00000000-0000-4000-a000-00000000000a'$$, '42501',
                 'permission denied for table user_settings', 'owner: UPDATE of their own webhook_key is denied');
RESET ROLE;
SET LOCAL request.jwt.claims = '{"role": "service_role"}';
SET LOCAL ROLE service_role;
WITH u AS (UPDATE twilio.user_settings SET max_segments_per_second = 5
            WHERE user_id = '00000000-0000-4000-a000-00000000000a' RETURNING user_id)
SELECT is(count(*)::int, 1, 'service_role: UPDATE of a user''s max_segments_per_second works (granted, BYPASSRLS)')
  FROM u;
SELECT throws_ok($$UPDATE twilio.user_settings SET webhook_key = 'x'$$, '42501',
                 'permission denied for table user_settings', 'service_role: UPDATE of webhook_key is denied');
RESET ROLE;
SELECT is((SELECT max_segments_per_second FROM twilio.user_settings
            WHERE user_id = '00000000-0000-4000-a000-00000000000a'), 5::real,
          'service_role: the new max_segments_per_second is stored');

SELECT * FROM finish();
ROLLBACK;
