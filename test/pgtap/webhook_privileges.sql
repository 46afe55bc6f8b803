-- Privileges and row-level security of the inbound-webhook objects of schema `twilio`: the tables webhook_events
-- and voice_calls, the entry point handle_webhook and its internal helpers (plus _webhook_urls of the settings).
--
-- Actors: the owner (authenticated, JWT sub = A), another user (authenticated, sub = B), anon, service_role
-- (BYPASSRLS) and a relay role created here the way sql/install/90_privileges.sql tells the operator to
-- (USAGE on the schema, EXECUTE on handle_webhook, nothing else). Its name is not byo_twilio_relay so that it
-- cannot collide with an operator's (or test/sql/80_webhooks.sql's) role of that name in the same cluster.
-- Fixtures are inserted as superuser; handle_webhook is then called as the relay role with requests signed by
-- twilio.compute_signature. Everything runs in one transaction that is rolled back (the role included), so the
-- dispatcher never sees a row of this file.
--
--   owner A = 00000000-0000-4000-a000-00000000000a   account ACaaaa...   token 0123...cdef   number +15005550006
--   other B = 00000000-0000-4000-a000-00000000000b   account ACbbbb...   token fedc...3210   number +15005550007
--   A: event status:SMaaaa...:delivered, call CAaaaa...; B: event voice:CAbbbb...:completed:1, call CAbbbb...
BEGIN;
SELECT plan(167);

CREATE ROLE tap_byo_twilio_relay NOLOGIN;
GRANT USAGE ON SCHEMA twilio TO tap_byo_twilio_relay;
GRANT EXECUTE ON FUNCTION twilio.handle_webhook(text, text, text, text),
                          twilio.handle_webhooks(text[], text[], text[], text[]) TO tap_byo_twilio_relay;

------------------------------------------------------------------------------------------------------------------
-- Fixtures (superuser)
------------------------------------------------------------------------------------------------------------------
INSERT INTO auth.users (id, email) VALUES
    ('00000000-0000-4000-a000-00000000000a', 'owner@example.test'),
    ('00000000-0000-4000-a000-00000000000b', 'other@example.test');
INSERT INTO twilio.user_settings (user_id, account_sid, auth_token_envelope, sms_number, status) VALUES
    ('00000000-0000-4000-a000-00000000000a', 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
     twilio._seal_token('00000000-0000-4000-a000-00000000000a', 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
                        '0123456789abcdef0123456789abcdef'), '+15005550006', 'active'),
    ('00000000-0000-4000-a000-00000000000b', 'ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
     twilio._seal_token('00000000-0000-4000-a000-00000000000b', 'ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
                        'fedcba9876543210fedcba9876543210'), '+15005550007', 'active');
INSERT INTO twilio.webhook_events (user_id, kind, event_type, dedupe_key, url, content_type, body, params, effect)
VALUES
    ('00000000-0000-4000-a000-00000000000a', 'status', 'delivered', 'status:SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:delivered',
     'https://relay.example.test/twilio/status', 'application/x-www-form-urlencoded',
     'MessageSid=SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&MessageStatus=delivered',
     '{"MessageSid": "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "MessageStatus": "delivered"}', 'fixture'),
    ('00000000-0000-4000-a000-00000000000b', 'voice_status', 'completed', 'voice:CAbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb:completed:1',
     'https://relay.example.test/twilio/voice_status', 'application/x-www-form-urlencoded',
     'CallSid=CAbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb&CallStatus=completed&SequenceNumber=1',
     '{"CallSid": "CAbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "CallStatus": "completed", "SequenceNumber": "1"}', 'fixture');
INSERT INTO twilio.voice_calls (user_id, call_sid, status, from_number, to_number, duration_seconds, sequence_number)
VALUES
    ('00000000-0000-4000-a000-00000000000a', 'CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'completed', '+15005550006',
     '+15005550101', 42, 3),
    ('00000000-0000-4000-a000-00000000000b', 'CAbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 'completed', '+15005550007',
     '+15005550201', 7, 1);

-- The writes every client role attempts below (each must be refused by table privileges, before any RLS).
CREATE TEMP TABLE write_attempts (ord int, t text, op text, stmt text);
INSERT INTO write_attempts VALUES
    (1, 'webhook_events', 'INSERT',
     $$INSERT INTO twilio.webhook_events (user_id, kind, dedupe_key, url, body, params)
       VALUES ('00000000-0000-4000-a000-00000000000a', 'sms', 'sms:forged', 'https://x.test/twilio/sms', 'Body=x',
               '{"Body": "x"}')$$),
    (2, 'webhook_events', 'UPDATE', $$UPDATE twilio.webhook_events SET effect = 'tampered'$$),
    (3, 'webhook_events', 'DELETE', 'DELETE FROM twilio.webhook_events'),
    (4, 'webhook_events', 'TRUNCATE', 'TRUNCATE twilio.webhook_events'),
    (5, 'voice_calls', 'INSERT',
     $$INSERT INTO twilio.voice_calls (user_id, call_sid, status)
       VALUES ('00000000-0000-4000-a000-00000000000a', 'CAcccccccccccccccccccccccccccccccc', 'ringing')$$),
    (6, 'voice_calls', 'UPDATE', $$UPDATE twilio.voice_calls SET status = 'failed'$$),
    (7, 'voice_calls', 'DELETE', 'DELETE FROM twilio.voice_calls'),
    (8, 'voice_calls', 'TRUNCATE', 'TRUNCATE twilio.voice_calls');
GRANT SELECT ON write_attempts TO PUBLIC;

DO $$ BEGIN
    PERFORM set_config('tap.key_a', (SELECT webhook_key FROM twilio.user_settings
                                      WHERE user_id = '00000000-0000-4000-a000-00000000000a'), true);
END $$;

-- Positive controls: the rows exist, so every "0 rows" below is RLS or privileges at work, not an empty table.
SELECT is((SELECT array_agg(t || ':' || n ORDER BY t)
             FROM (SELECT 'voice_calls' AS t, count(*) AS n FROM twilio.voice_calls
                   UNION ALL SELECT 'webhook_events', count(*) FROM twilio.webhook_events) c),
          ARRAY['voice_calls:2', 'webhook_events:2'],
          'fixture: superuser sees every fixture row of webhook_events and voice_calls');
SELECT ok(current_setting('tap.key_a') ~ '^[0-9a-f]{32}$', 'fixture: A has a webhook_key (32 hex digits)');

------------------------------------------------------------------------------------------------------------------
-- Catalog: RLS, policies, table privileges
------------------------------------------------------------------------------------------------------------------
SELECT ok((SELECT relrowsecurity FROM pg_class WHERE oid = format('twilio.%I', t)::regclass),
          format('RLS is enabled on twilio.%s', t))
  FROM unnest(ARRAY['webhook_events', 'voice_calls']) WITH ORDINALITY AS v(t, ord)
 ORDER BY ord;
SELECT policies_are('twilio', 'webhook_events', ARRAY['webhook_events_select_own'],
                    'webhook_events has exactly the select-own policy');
SELECT policies_are('twilio', 'voice_calls', ARRAY['voice_calls_select_own'],
                    'voice_calls has exactly the select-own policy');
SELECT policy_roles_are('twilio', t, pol, ARRAY['authenticated'], format('policy %s applies to authenticated only', pol))
  FROM (VALUES (1, 'webhook_events', 'webhook_events_select_own'),
               (2, 'voice_calls', 'voice_calls_select_own')) v(ord, t, pol)
 ORDER BY ord;
SELECT is(ARRAY(SELECT p.polrelid::regclass::text || ' ' || p.polname || ' ' || p.polcmd::text || ' '
                       || p.polpermissive || ' USING ' || coalesce(pg_get_expr(p.polqual, p.polrelid), '-')
                       || ' CHECK ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '-')
                  FROM pg_policy p
                 WHERE p.polrelid IN ('twilio.webhook_events'::regclass, 'twilio.voice_calls'::regclass)
                 ORDER BY 1),
          ARRAY['twilio.voice_calls voice_calls_select_own r true USING (user_id = auth.uid()) CHECK -',
                'twilio.webhook_events webhook_events_select_own r true USING (user_id = auth.uid()) CHECK -'],
          'webhook policies: SELECT of own rows only, nothing else');

-- Table-level privileges x role (the relay role included: it holds none).
SELECT table_privs_are('twilio', t.t, r.role, r.privs, format('table privileges of %s on twilio.%s: %s', r.role, t.t, r.privs))
  FROM (VALUES (1, 'webhook_events'), (2, 'voice_calls')) t(tord, t)
 CROSS JOIN (VALUES (1, 'anon'::name, '{}'::name[]),
                    (2, 'authenticated', '{SELECT}'),
                    (3, 'service_role', '{SELECT}'),
                    (4, 'tap_byo_twilio_relay', '{}')) r(rord, role, privs)
 ORDER BY t.tord, r.rord;
SELECT is(ARRAY(SELECT a.attrelid::regclass::text || '.' || a.attname FROM pg_attribute a
                 WHERE a.attrelid IN ('twilio.webhook_events'::regclass, 'twilio.voice_calls'::regclass)
                   AND a.attacl IS NOT NULL
                 ORDER BY 1),
          '{}'::text[], 'no column-level grant on webhook_events or voice_calls');
SELECT is(ARRAY(SELECT c.relname::text FROM pg_class c
                 WHERE c.oid IN ('twilio.webhook_events'::regclass, 'twilio.voice_calls'::regclass)
                   AND EXISTS (SELECT 1 FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
                                WHERE a.grantee = 0)
                 ORDER BY 1),
          '{}'::text[], 'PUBLIC holds no privilege on webhook_events or voice_calls');
-- Catalog-wide for the relay role: no relation, view or sequence of the schema is reachable directly.
SELECT is(ARRAY(SELECT c.relname || ' ' || priv
                  FROM pg_class c
                 CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES',
                                         'TRIGGER']) priv
                 WHERE c.relnamespace = 'twilio'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                   AND has_table_privilege('tap_byo_twilio_relay', c.oid, priv)
                 ORDER BY 1),
          '{}'::text[], 'the relay role holds no privilege on any table or view of schema twilio');
SELECT is(ARRAY(SELECT c.relname || ' ' || priv
                  FROM pg_class c CROSS JOIN unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) priv
                 WHERE c.relnamespace = 'twilio'::regnamespace AND c.relkind = 'S'
                   AND has_sequence_privilege('tap_byo_twilio_relay', c.oid, priv)
                 ORDER BY 1),
          '{}'::text[], 'the relay role may use no sequence of schema twilio (webhook_events ids included)');

------------------------------------------------------------------------------------------------------------------
-- Functions: EXECUTE for every webhook function x role
------------------------------------------------------------------------------------------------------------------
-- The relay's two calls: only the relay role may execute them.
SELECT function_privs_are('twilio', f.name, f.args, r.role,
                          CASE WHEN r.role = 'tap_byo_twilio_relay' THEN '{EXECUTE}'::name[] ELSE '{}'::name[] END,
                          format('%s %s execute twilio.%s(%s)', r.role,
                                 CASE WHEN r.role = 'tap_byo_twilio_relay' THEN 'can' ELSE 'cannot' END, f.name,
                                 f.shown))
  FROM (VALUES (1, 'handle_webhook'::name, '{text,text,text,text}'::name[], 'text, text, text, text'),
               (2, 'handle_webhooks', '{text[],text[],text[],text[]}', 'text[], text[], text[], text[]'))
           f(ford, name, args, shown),
       (VALUES (1, 'anon'::name), (2, 'authenticated'), (3, 'service_role'), (4, 'tap_byo_twilio_relay')) r(rord, role)
 ORDER BY f.ford, r.rord;

SELECT function_privs_are('twilio', f.name, f.args, r.role, '{}'::name[],
                          format('%s cannot execute internal twilio.%s(%s)', r.role, f.name,
                                 array_to_string(f.args, ', ')))
  FROM (VALUES
        (1, '_opt_keyword', '{text,text}'::name[]),
        (2, '_route_webhook', '{uuid,text,jsonb,jsonb}'),
        (3, '_status_rank', '{text}'),
        (4, '_apply_message_status', '{uuid,text,text,text}'),
        (5, '_apply_opt_keywords', '{uuid,text,text,text}'),
        (6, '_is_e164', '{text}'),
        (7, '_webhook_urls', '{text}')) f(ord, name, args)
 CROSS JOIN (VALUES (1, 'anon'::name), (2, 'authenticated'), (3, 'service_role'), (4, 'tap_byo_twilio_relay')) r(rord, role)
 ORDER BY f.ord, r.rord;

-- Catalog-wide: nobody but the relay (and superusers) may call handle_webhook; the relay may call nothing else.
SELECT is(ARRAY(SELECT a.grantee::regrole::text FROM pg_proc p
                 CROSS JOIN aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                 WHERE p.oid = 'twilio.handle_webhook(text, text, text, text)'::regprocedure
                   AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0 AND a.grantee <> p.proowner
                 ORDER BY 1),
          ARRAY['tap_byo_twilio_relay'], 'handle_webhook''s ACL grants EXECUTE to the relay role only (besides its owner)');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_proc p
                       CROSS JOIN aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                       WHERE p.oid = 'twilio.handle_webhook(text, text, text, text)'::regprocedure
                         AND a.grantee = 0),
          'PUBLIC cannot execute handle_webhook');
SELECT is(ARRAY(SELECT r.rolname::text FROM pg_roles r
                 WHERE NOT r.rolsuper
                   AND has_function_privilege(r.oid, 'twilio.handle_webhook(text, text, text, text)', 'EXECUTE')
                 ORDER BY 1),
          ARRAY['tap_byo_twilio_relay'], 'of all non-superuser roles, only the relay role can execute handle_webhook');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace = 'twilio'::regnamespace
                   AND has_function_privilege('tap_byo_twilio_relay', p.oid, 'EXECUTE')
                 ORDER BY 1),
          ARRAY['twilio.handle_webhook(text,text,text,text)', 'twilio.handle_webhooks(text[],text[],text[],text[])'],
          'the relay role can execute exactly twilio.handle_webhook(s) and no other function of schema twilio');
SELECT is(ARRAY(SELECT p.proname || ' ' || p.prosecdef || ' ' || coalesce(array_to_string(p.proconfig, ';'), '-')
                  FROM pg_proc p
                 WHERE p.oid = 'twilio.handle_webhook(text, text, text, text)'::regprocedure),
          ARRAY['handle_webhook true search_path=pg_catalog, pg_temp'],
          'handle_webhook is SECURITY DEFINER with a pinned search_path');
SELECT is(ARRAY(SELECT p.proname::text FROM pg_proc p
                 WHERE p.pronamespace = 'twilio'::regnamespace AND p.prosecdef
                   AND p.proname IN ('_opt_keyword', '_route_webhook', '_status_rank',
                                     '_apply_message_status', '_apply_opt_keywords', '_is_e164',
                                     '_webhook_urls')
                 ORDER BY 1),
          '{}'::text[], 'no internal webhook function is SECURITY DEFINER');

------------------------------------------------------------------------------------------------------------------
-- Owner: authenticated, sub = A
------------------------------------------------------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-a000-00000000000a", "role": "authenticated"}';
SET LOCAL ROLE authenticated;

SELECT is(auth.uid(), '00000000-0000-4000-a000-00000000000a'::uuid, 'owner: auth.uid() is A');
SELECT results_eq('SELECT user_id, dedupe_key FROM twilio.webhook_events',
                  $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid,
                            'status:SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:delivered'::text)$$,
                  'owner: SELECT webhook_events sees exactly their own event');
SELECT results_eq('SELECT user_id, call_sid FROM twilio.voice_calls',
                  $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, 'CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text)$$,
                  'owner: SELECT voice_calls sees exactly their own call');
SELECT is((SELECT count(*)::int FROM twilio.webhook_events WHERE user_id = '00000000-0000-4000-a000-00000000000b')
          + (SELECT count(*)::int FROM twilio.voice_calls WHERE call_sid = 'CAbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'),
          0, 'owner: none of B''s events or calls is visible, even asked for by id');
SELECT throws_ok(w.stmt, '42501', format('permission denied for table %s', w.t),
                 format('owner: %s on %s is denied', w.op, w.t))
  FROM write_attempts w ORDER BY w.ord;
SELECT throws_ok(v.stmt, '42501', format('permission denied for function %s', v.f),
                 format('owner: %s() is denied', v.f))
  FROM (VALUES (1, 'handle_webhook', $$SELECT * FROM twilio.handle_webhook('https://relay.example.test/twilio/sms',
                                        'c2ln', 'application/x-www-form-urlencoded', 'Body=x')$$),
               (2, '_route_webhook', $$SELECT twilio._route_webhook(
                                        '00000000-0000-4000-a000-00000000000b', 'status', '{}', '[]')$$),
               (3, '_apply_opt_keywords', $$SELECT twilio._apply_opt_keywords(
                                             '00000000-0000-4000-a000-00000000000b', '+15005550299', 'START', NULL)$$),
               (4, '_apply_message_status', $$SELECT twilio._apply_message_status(
                                              '00000000-0000-4000-a000-00000000000b', 'SMx', 'failed', '21610')$$),
               (5, '_webhook_urls', $$SELECT twilio._webhook_urls('0123456789abcdef')$$)) v(ord, f, stmt)
 ORDER BY ord;
-- The webhook URLs in get_settings() carry the owner's own key (NULL while byo_twilio.webhook_base_url is unset).
SELECT ok((SELECT CASE WHEN coalesce(current_setting('byo_twilio.webhook_base_url', true), '') = ''
                       THEN s.webhook_urls IS NULL
                       ELSE (SELECT count(*) = 4 AND bool_and(e.value #>> '{}' LIKE
                                                              '%/twilio/' || current_setting('tap.key_a') || '/' || e.key
                                                              || '#rc=5&rp=ct,rt,5xx&tt=15000')
                               FROM jsonb_each(s.webhook_urls) e) END
             FROM twilio.get_settings() s),
          'owner: get_settings().webhook_urls name their own webhook key (or are NULL with no base URL set)');
RESET ROLE;

------------------------------------------------------------------------------------------------------------------
-- Other user: authenticated, sub = B
------------------------------------------------------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-a000-00000000000b", "role": "authenticated"}';
SET LOCAL ROLE authenticated;

SELECT is(auth.uid(), '00000000-0000-4000-a000-00000000000b'::uuid, 'other user: auth.uid() is B');
SELECT results_eq('SELECT user_id, kind FROM twilio.webhook_events',
                  $$VALUES ('00000000-0000-4000-a000-00000000000b'::uuid, 'voice_status'::text)$$,
                  'other user: SELECT webhook_events sees only their own event');
SELECT results_eq('SELECT user_id, call_sid FROM twilio.voice_calls',
                  $$VALUES ('00000000-0000-4000-a000-00000000000b'::uuid, 'CAbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'::text)$$,
                  'other user: SELECT voice_calls sees only their own call');
SELECT is((SELECT count(*)::int FROM twilio.webhook_events WHERE user_id = '00000000-0000-4000-a000-00000000000a')
          + (SELECT count(*)::int FROM twilio.voice_calls WHERE call_sid = 'CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'),
          0, 'other user: none of A''s events or calls is visible, even asked for by id');
SELECT throws_ok(w.stmt, '42501', format('permission denied for table %s', w.t),
                 format('other user: %s on %s is denied', w.op, w.t))
  FROM write_attempts w ORDER BY w.ord;
SELECT throws_ok($$SELECT * FROM twilio.handle_webhook('https://relay.example.test/twilio/sms', 'c2ln',
                                                       'application/x-www-form-urlencoded', 'Body=x')$$,
                 '42501', 'permission denied for function handle_webhook', 'other user: handle_webhook() is denied');
RESET ROLE;

-- authenticated without a sub claim sees nothing.
SET LOCAL request.jwt.claims = '{"role": "authenticated"}';
SET LOCAL ROLE authenticated;
SELECT is((SELECT count(*)::int FROM twilio.webhook_events) + (SELECT count(*)::int FROM twilio.voice_calls), 0,
          'authenticated without sub: sees no event and no call');
RESET ROLE;

------------------------------------------------------------------------------------------------------------------
-- anon (even carrying A's sub claim): every operation denied
------------------------------------------------------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-a000-00000000000a", "role": "anon"}';
SET LOCAL ROLE anon;

SELECT throws_ok(format('SELECT 1 FROM twilio.%I', t), '42501', format('permission denied for table %s', t),
                 format('anon: SELECT on %s is denied', t))
  FROM unnest(ARRAY['webhook_events', 'voice_calls']) WITH ORDINALITY AS v(t, ord)
 ORDER BY ord;
SELECT throws_ok(w.stmt, '42501', format('permission denied for table %s', w.t),
                 format('anon: %s on %s is denied', w.op, w.t))
  FROM write_attempts w ORDER BY w.ord;
SELECT throws_ok($$SELECT * FROM twilio.handle_webhook('https://relay.example.test/twilio/sms', 'c2ln',
                                                       'application/x-www-form-urlencoded', 'Body=x')$$,
                 '42501', 'permission denied for function handle_webhook', 'anon: handle_webhook() is denied');
SELECT throws_ok($$SELECT twilio._opt_keyword('STOP', NULL)$$, '42501', 'permission denied for function _opt_keyword',
                 'anon: internal _opt_keyword() is denied');
RESET ROLE;

------------------------------------------------------------------------------------------------------------------
-- service_role (BYPASSRLS, no sub): reads everything, writes nothing, cannot post webhooks
------------------------------------------------------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"role": "service_role"}';
SET LOCAL ROLE service_role;

SELECT results_eq('SELECT user_id, kind FROM twilio.webhook_events ORDER BY user_id',
                  $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, 'status'::text),
                           ('00000000-0000-4000-a000-00000000000b'::uuid, 'voice_status'::text)$$,
                  'service_role: SELECT webhook_events sees every user''s events');
SELECT results_eq('SELECT user_id, call_sid FROM twilio.voice_calls ORDER BY user_id',
                  $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, 'CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text),
                           ('00000000-0000-4000-a000-00000000000b'::uuid, 'CAbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'::text)$$,
                  'service_role: SELECT voice_calls sees every user''s calls');
SELECT throws_ok(w.stmt, '42501', format('permission denied for table %s', w.t),
                 format('service_role: %s on %s is denied', w.op, w.t))
  FROM write_attempts w ORDER BY w.ord;
SELECT throws_ok($$SELECT * FROM twilio.handle_webhook('https://relay.example.test/twilio/sms', 'c2ln',
                                                       'application/x-www-form-urlencoded', 'Body=x')$$,
                 '42501', 'permission denied for function handle_webhook', 'service_role: handle_webhook() is denied');
SELECT throws_ok($$SELECT twilio._route_webhook('00000000-0000-4000-a000-00000000000a', 'status', '{}', '[]')$$,
                 '42501', 'permission denied for function _route_webhook',
                 'service_role: internal _route_webhook() is denied');
RESET ROLE;

------------------------------------------------------------------------------------------------------------------
-- The relay role: no table access at all; only handle_webhook
------------------------------------------------------------------------------------------------------------------
SET LOCAL ROLE tap_byo_twilio_relay;

SELECT throws_ok(format('SELECT 1 FROM twilio.%I', t), '42501', format('permission denied for table %s', t),
                 format('relay: SELECT on %s is denied', t))
  FROM unnest(ARRAY['webhook_events', 'voice_calls', 'messages', 'user_settings']) WITH ORDINALITY AS v(t, ord)
 ORDER BY ord;
SELECT throws_ok(w.stmt, '42501', format('permission denied for table %s', w.t),
                 format('relay: %s on %s is denied', w.op, w.t))
  FROM write_attempts w ORDER BY w.ord;
SELECT throws_ok(v.stmt, '42501', format('permission denied for function %s', v.f),
                 format('relay: %s() is denied', v.f))
  FROM (VALUES (1, '_opt_keyword', $$SELECT twilio._opt_keyword('STOP', NULL)$$),
               (2, '_route_webhook', $$SELECT twilio._route_webhook(
                                        '00000000-0000-4000-a000-00000000000a', 'status', '{}', '[]')$$),
               (3, '_apply_message_status', $$SELECT twilio._apply_message_status(
                                              '00000000-0000-4000-a000-00000000000a', 'SMx', 'failed', '21610')$$),
               (4, '_apply_opt_keywords', $$SELECT twilio._apply_opt_keywords(
                                             '00000000-0000-4000-a000-00000000000a', '+15005550299', 'STOP', NULL)$$),
               (5, '_seal_token', $$SELECT twilio._seal_token('x', 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'y')$$),
               (6, 'compute_signature', $$SELECT twilio.compute_signature('t', 'https://x.test', '{}')$$),
               (7, 'send_sms', $$SELECT twilio.send_sms('+15005550102', 'hi')$$)) v(ord, f, stmt)
 ORDER BY ord;
RESET ROLE;

------------------------------------------------------------------------------------------------------------------
-- handle_webhook at run time, called as the relay role: an inbound SMS for A posted to A's keyed URL
------------------------------------------------------------------------------------------------------------------
-- Signed as superuser (compute_signature is not the relay's to call), with A's token for the real request and
-- B's for the forgery.
DO $$
DECLARE
    url text := 'https://relay.example.test/twilio/' || current_setting('tap.key_a') || '/sms';
BEGIN
    PERFORM set_config('tap.sms_url', url, true);
    PERFORM set_config('tap.sms_body', 'MessageSid=SM00000000000000000000000000000a01'
                       '&AccountSid=ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&From=%2B15005550400&To=%2B15005550006'
                       '&Body=Hello+there&SmsStatus=received&NumSegments=1', true);
    PERFORM set_config('tap.sms_sig', twilio.compute_signature('0123456789abcdef0123456789abcdef', url,
        '{"MessageSid": "SM00000000000000000000000000000a01", "AccountSid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
          "From": "+15005550400", "To": "+15005550006", "Body": "Hello there", "SmsStatus": "received",
          "NumSegments": "1"}'), true);
    PERFORM set_config('tap.forged_body', 'MessageSid=SM00000000000000000000000000000a02'
                       '&AccountSid=ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&From=%2B15005550400&To=%2B15005550006'
                       '&Body=forged&SmsStatus=received', true);
    PERFORM set_config('tap.forged_sig', twilio.compute_signature('fedcba9876543210fedcba9876543210', url,
        '{"MessageSid": "SM00000000000000000000000000000a02", "AccountSid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
          "From": "+15005550400", "To": "+15005550006", "Body": "forged", "SmsStatus": "received"}'), true);
END
$$;
-- Control: the request really is validly signed for A's token and not for B's.
SELECT ok(twilio.validate_signature('0123456789abcdef0123456789abcdef', current_setting('tap.sms_sig'),
                                    current_setting('tap.sms_url'), current_setting('tap.sms_body')),
          'control: the inbound SMS is signed with A''s token');
SELECT ok(NOT twilio.validate_signature('0123456789abcdef0123456789abcdef', current_setting('tap.forged_sig'),
                                        current_setting('tap.sms_url'), current_setting('tap.forged_body')),
          'control: the forged SMS does not validate with A''s token');

SET LOCAL ROLE tap_byo_twilio_relay;
SELECT results_eq(
    $$SELECT status, content_type, body FROM twilio.handle_webhook(current_setting('tap.sms_url'),
          current_setting('tap.sms_sig'), 'application/x-www-form-urlencoded', current_setting('tap.sms_body'))$$,
    $$VALUES (200, 'text/xml'::text, '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'::text)$$,
    'relay: a correctly signed inbound SMS for A is accepted (200, empty TwiML)');
RESET ROLE;
SELECT results_eq(
    $$SELECT user_id, kind, dedupe_key, effect FROM twilio.webhook_events WHERE kind = 'sms'$$,
    $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, 'sms'::text,
              'sms:SM00000000000000000000000000000a01'::text, 'inbound message'::text)$$,
    'superuser: exactly one sms event, A''s, was recorded');
SELECT results_eq(
    $$SELECT user_id, channel, direction, from_number, to_number, body, status, twilio_sid, account_sid
        FROM twilio.messages WHERE direction = 'inbound'$$,
    $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, 'sms'::text, 'inbound'::text, '+15005550400'::text,
              '+15005550006'::text, 'Hello there'::text, 'received'::text, 'SM00000000000000000000000000000a01'::text,
              'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text)$$,
    'superuser: exactly one inbound message, A''s, was stored');

-- Twilio retries the same delivery: acknowledged, nothing new.
SET LOCAL ROLE tap_byo_twilio_relay;
SELECT results_eq(
    $$SELECT status, content_type, body FROM twilio.handle_webhook(current_setting('tap.sms_url'),
          current_setting('tap.sms_sig'), 'application/x-www-form-urlencoded', current_setting('tap.sms_body'))$$,
    $$VALUES (200, 'text/xml'::text, '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'::text)$$,
    'relay: the same SMS again (a Twilio retry) is acknowledged (200)');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM twilio.webhook_events
            WHERE user_id = '00000000-0000-4000-a000-00000000000a' AND kind = 'sms'), 1,
          'superuser: after the retry A still has exactly one sms event');
SELECT is((SELECT count(*)::int FROM twilio.messages
            WHERE user_id = '00000000-0000-4000-a000-00000000000a' AND direction = 'inbound'), 1,
          'superuser: after the retry A still has exactly one inbound message');

-- Rows a webhook can write (events/messages/opt-outs/calls), to check that a refused one wrote none.
CREATE FUNCTION pg_temp.webhook_row_counts() RETURNS text LANGUAGE sql AS $$
    SELECT format('%s/%s/%s/%s', (SELECT count(*) FROM twilio.webhook_events), (SELECT count(*) FROM twilio.messages),
                  (SELECT count(*) FROM twilio.opt_outs), (SELECT count(*) FROM twilio.voice_calls))
$$;
DO $$ BEGIN PERFORM set_config('tap.counts', pg_temp.webhook_row_counts(), true); END $$;

-- A forgery: A's URL, signed with another token. Refused, nothing written anywhere.
SET LOCAL ROLE tap_byo_twilio_relay;
SELECT results_eq(
    $$SELECT status, content_type, body FROM twilio.handle_webhook(current_setting('tap.sms_url'),
          current_setting('tap.forged_sig'), 'application/x-www-form-urlencoded', current_setting('tap.forged_body'))$$,
    $$VALUES (403, 'text/plain'::text, 'forbidden'::text)$$,
    'relay: an SMS to A''s URL signed with another token is refused (403)');
-- The valid signature does not carry over to a changed body either.
SELECT results_eq(
    $$SELECT status FROM twilio.handle_webhook(current_setting('tap.sms_url'), current_setting('tap.sms_sig'),
          'application/x-www-form-urlencoded', replace(current_setting('tap.sms_body'), 'Hello+there', 'Changed'))$$,
    $$VALUES (403)$$,
    'relay: A''s valid signature replayed over a changed body is refused (403)');
SELECT results_eq(
    $$SELECT status FROM twilio.handle_webhook(current_setting('tap.sms_url'), NULL,
          'application/x-www-form-urlencoded', current_setting('tap.sms_body'))$$,
    $$VALUES (400)$$,
    'relay: an unsigned SMS is refused (400)');
RESET ROLE;
SELECT is(pg_temp.webhook_row_counts(), current_setting('tap.counts'),
          'superuser: the refused requests wrote nothing (events, messages, opt-outs, calls unchanged)');
SELECT is((SELECT count(*)::int FROM twilio.webhook_events WHERE params ->> 'MessageSid' = 'SM00000000000000000000000000000a02')
          + (SELECT count(*)::int FROM twilio.messages WHERE twilio_sid = 'SM00000000000000000000000000000a02'),
          0, 'superuser: no trace of the forged SMS');

-- The batch call: each webhook answered as handle_webhook would, in order; the refused ones write nothing, and a
-- retry (twice in one batch) changes nothing.
SET LOCAL ROLE tap_byo_twilio_relay;
SELECT results_eq(
    $$SELECT item, status, content_type FROM twilio.handle_webhooks(
          ARRAY[current_setting('tap.sms_url'), current_setting('tap.sms_url'), current_setting('tap.sms_url'),
                current_setting('tap.sms_url')],
          ARRAY[current_setting('tap.sms_sig'), current_setting('tap.forged_sig'), NULL, current_setting('tap.sms_sig')],
          ARRAY['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded',
                'application/x-www-form-urlencoded', 'application/x-www-form-urlencoded'],
          ARRAY[current_setting('tap.sms_body'), current_setting('tap.forged_body'), current_setting('tap.sms_body'),
                current_setting('tap.sms_body')])$$,
    $$VALUES (1, 200, 'text/xml'::text), (2, 403, 'text/plain'), (3, 400, 'text/plain'), (4, 200, 'text/xml')$$,
    'relay: handle_webhooks answers a retry, a forgery, an unsigned one and the retry again: 200, 403, 400, 200');
SELECT throws_ok(
    $$SELECT * FROM twilio.handle_webhooks(ARRAY['a', 'b'], ARRAY['s'], ARRAY['t'], ARRAY['b'])$$,
    '22023', 'handle_webhooks: the four arrays must have the same length (one element per webhook)',
    'relay: handle_webhooks refuses arrays of different lengths (22023)');
SELECT throws_ok(
    $$SELECT * FROM twilio.handle_webhooks(NULL, ARRAY['s'], ARRAY['t'], ARRAY['b'])$$,
    '22004', NULL, 'relay: handle_webhooks refuses a NULL array (22004)');
SELECT is((SELECT count(*)::int FROM twilio.handle_webhooks('{}', '{}', '{}', '{}')), 0,
          'relay: an empty batch answers nothing and fails nothing');
RESET ROLE;
SELECT is(pg_temp.webhook_row_counts(), current_setting('tap.counts'),
          'superuser: the batch wrote nothing (a retry, and refused webhooks)');

------------------------------------------------------------------------------------------------------------------
-- Who sees what the relay wrote
------------------------------------------------------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-a000-00000000000a", "role": "authenticated"}';
SET LOCAL ROLE authenticated;
SELECT results_eq($$SELECT kind, dedupe_key, params ->> 'Body' FROM twilio.webhook_events WHERE kind = 'sms'$$,
                  $$VALUES ('sms'::text, 'sms:SM00000000000000000000000000000a01'::text, 'Hello there'::text)$$,
                  'owner: A sees the inbound SMS event');
SELECT results_eq($$SELECT direction, body FROM twilio.messages WHERE direction = 'inbound'$$,
                  $$VALUES ('inbound'::text, 'Hello there'::text)$$, 'owner: A sees the inbound message');
SELECT is((SELECT count(*)::int FROM twilio.webhook_events), 2, 'owner: A now sees exactly two events (fixture + SMS)');
RESET ROLE;

SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-a000-00000000000b", "role": "authenticated"}';
SET LOCAL ROLE authenticated;
SELECT is((SELECT count(*)::int FROM twilio.webhook_events WHERE kind = 'sms'), 0,
          'other user: B sees none of A''s inbound SMS events');
SELECT is((SELECT count(*)::int FROM twilio.messages WHERE direction = 'inbound'), 0,
          'other user: B sees none of A''s inbound messages');
SELECT results_eq('SELECT user_id, kind FROM twilio.webhook_events',
                  $$VALUES ('00000000-0000-4000-a000-00000000000b'::uuid, 'voice_status'::text)$$,
                  'other user: B still sees only their own event');
RESET ROLE;

SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-a000-00000000000a", "role": "anon"}';
SET LOCAL ROLE anon;
SELECT throws_ok('SELECT 1 FROM twilio.webhook_events', '42501', 'permission denied for table webhook_events',
                 'anon: still cannot read webhook_events after the relay wrote to it');
RESET ROLE;

SET LOCAL request.jwt.claims = '{"role": "service_role"}';
SET LOCAL ROLE service_role;
SELECT results_eq('SELECT user_id, kind FROM twilio.webhook_events ORDER BY user_id, id',
                  $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, 'status'::text),
                           ('00000000-0000-4000-a000-00000000000a'::uuid, 'sms'::text),
                           ('00000000-0000-4000-a000-00000000000b'::uuid, 'voice_status'::text)$$,
                  'service_role: sees every event, the relay''s included');
RESET ROLE;

-- A batch of new texts (one sent twice): each stored once, A's, in the order they arrived.
DO $$
DECLARE
    texts text[] := '{a03,a04,a03,a05}';
    words text[] := '{first,second,first,third}';
    bodies text[] := '{}';
    sigs text[] := '{}';
BEGIN
    FOR i IN 1 .. 4 LOOP
        bodies := bodies || format('MessageSid=SM00000000000000000000000000000%s&AccountSid=ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
                                   '&From=%%2B15005550400&To=%%2B15005550006&Body=%s&SmsStatus=received', texts[i], words[i]);
        sigs := sigs || twilio.compute_signature('0123456789abcdef0123456789abcdef', current_setting('tap.sms_url'),
            jsonb_build_object('MessageSid', 'SM00000000000000000000000000000' || texts[i],
                               'AccountSid', 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'From', '+15005550400',
                               'To', '+15005550006', 'Body', words[i], 'SmsStatus', 'received'));
    END LOOP;
    PERFORM set_config('tap.batch_bodies', bodies::text, true);
    PERFORM set_config('tap.batch_sigs', sigs::text, true);
END
$$;
SET LOCAL ROLE tap_byo_twilio_relay;
SELECT results_eq(
    $$SELECT item, status FROM twilio.handle_webhooks(array_fill(current_setting('tap.sms_url'), ARRAY[4]),
          current_setting('tap.batch_sigs')::text[], array_fill('application/x-www-form-urlencoded'::text, ARRAY[4]),
          current_setting('tap.batch_bodies')::text[])$$,
    $$VALUES (1, 200), (2, 200), (3, 200), (4, 200)$$,
    'relay: a batch of three new texts, one of them twice, is accepted (200 each)');
RESET ROLE;
SELECT results_eq(
    $$SELECT user_id, body FROM twilio.messages WHERE twilio_sid IN ('SM00000000000000000000000000000a03',
          'SM00000000000000000000000000000a04', 'SM00000000000000000000000000000a05') ORDER BY created_at$$,
    $$VALUES ('00000000-0000-4000-a000-00000000000a'::uuid, 'first'::text),
             ('00000000-0000-4000-a000-00000000000a'::uuid, 'second'),
             ('00000000-0000-4000-a000-00000000000a'::uuid, 'third')$$,
    'superuser: the batch stored each text once, for A, in order of arrival');
SELECT is((SELECT count(*)::int FROM twilio.webhook_events
            WHERE dedupe_key IN ('sms:SM00000000000000000000000000000a03', 'sms:SM00000000000000000000000000000a04',
                                 'sms:SM00000000000000000000000000000a05')), 3,
          'superuser: one event per text of the batch, the repeated one included once');

SELECT * FROM finish();
ROLLBACK;
