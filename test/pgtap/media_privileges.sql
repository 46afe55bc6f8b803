-- Privileges and row-level security of message media: the table twilio.message_media (owner-only SELECT, as
-- messages), twilio.media_link (the owner's own media only; never reaches Twilio for anyone else's) and the
-- internal functions behind them. Fixtures as superuser; one transaction, rolled back.
--
--   owner A = 00000000-0000-4000-a000-00000000000a   message e...1a with two media
--   other B = 00000000-0000-4000-a000-00000000000b   message e...1b with one media
BEGIN;
SELECT plan(38);

INSERT INTO auth.users (id, email) VALUES
    ('00000000-0000-4000-a000-00000000000a', 'owner@example.test'),
    ('00000000-0000-4000-a000-00000000000b', 'other@example.test');
INSERT INTO twilio.messages (user_id, id, channel, direction, from_number, body, status, twilio_sid, account_sid,
                             media_count) VALUES
    ('00000000-0000-4000-a000-00000000000a', 'e0000000-0000-4000-a000-00000000001a', 'sms', 'inbound',
     '+15005550101', '', 'received', 'MM0000000000000000000000000000001a', 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 2),
    ('00000000-0000-4000-a000-00000000000b', 'e0000000-0000-4000-a000-00000000001b', 'sms', 'inbound',
     '+15005550201', '', 'received', 'MM0000000000000000000000000000001b', 'ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 1);
INSERT INTO twilio.message_media (user_id, message_id, position, url, media_sid, content_type) VALUES
    ('00000000-0000-4000-a000-00000000000a', 'e0000000-0000-4000-a000-00000000001a', 0,
     'https://api.twilio.com/x/ME0000000000000000000000000000000a', 'ME0000000000000000000000000000000a', 'image/png'),
    ('00000000-0000-4000-a000-00000000000a', 'e0000000-0000-4000-a000-00000000001a', 1,
     'https://api.twilio.com/x/ME0000000000000000000000000000001a', 'ME0000000000000000000000000000001a', 'image/gif'),
    ('00000000-0000-4000-a000-00000000000b', 'e0000000-0000-4000-a000-00000000001b', 0,
     'https://api.twilio.com/x/ME0000000000000000000000000000000b', 'ME0000000000000000000000000000000b', 'image/png');

SELECT is((SELECT count(*)::int FROM twilio.message_media), 3, 'fixture: superuser sees every media row');

-- Catalog
SELECT ok((SELECT relrowsecurity FROM pg_class WHERE oid = 'twilio.message_media'::regclass),
          'RLS is enabled on twilio.message_media');
SELECT policies_are('twilio', 'message_media', ARRAY['message_media_select_own'],
                    'message_media has exactly the select-own policy');
SELECT policy_roles_are('twilio', 'message_media', 'message_media_select_own', ARRAY['authenticated'],
                        'policy message_media_select_own applies to authenticated only');
SELECT is((SELECT pg_get_expr(p.polqual, p.polrelid) FROM pg_policy p
            WHERE p.polrelid = 'twilio.message_media'::regclass),
          '(user_id = auth.uid())', 'message_media_select_own is USING (user_id = auth.uid())');
SELECT table_privs_are('twilio', 'message_media', r, p, format('table privileges of %s on twilio.message_media', r))
  FROM (VALUES (1, 'anon', '{}'::name[]), (2, 'authenticated', '{SELECT}'::name[]),
               (3, 'service_role', '{SELECT}'::name[])) v(ord, r, p)
 ORDER BY ord;
SELECT function_privs_are('twilio', 'media_link', '{uuid,integer}', r, p,
                          format('%s: execute twilio.media_link(uuid, integer) = %s', r, p))
  FROM (VALUES (1, 'anon', '{}'::name[]), (2, 'authenticated', '{EXECUTE}'::name[]),
               (3, 'service_role', '{}'::name[])) v(ord, r, p)
 ORDER BY ord;
SELECT function_privs_are('twilio', f.name, f.args, r.role, '{}'::name[],
                          format('%s cannot execute internal twilio.%s', r.role, f.name))
  FROM (VALUES (1, '_fetch_media_link', '{text,text,bytea,text,text,text}'::name[]),
               (2, '_record_media', '{uuid,uuid,jsonb}'),
               (3, '_int_within', '{text,integer,integer}')) f(ord, name, args)
 CROSS JOIN (VALUES (1, 'anon'::name), (2, 'authenticated'), (3, 'service_role')) r(rord, role)
 ORDER BY f.ord, r.rord;
SELECT is((SELECT p.prosecdef::text || ' ' || array_to_string(p.proconfig, ';') FROM pg_proc p
            WHERE p.oid = 'twilio.media_link(uuid, integer)'::regprocedure),
          'true search_path=pg_catalog, pg_temp', 'media_link is SECURITY DEFINER with a pinned search_path');
SELECT is(ARRAY(SELECT p.proname::text FROM pg_proc p
                 WHERE p.pronamespace = 'twilio'::regnamespace AND p.prosecdef
                   AND p.proname IN ('_fetch_media_link', '_record_media', '_int_within')),
          '{}'::text[], 'no internal media function is SECURITY DEFINER');

-- Owner A
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-a000-00000000000a", "role": "authenticated"}';
SET LOCAL ROLE authenticated;
SELECT results_eq('SELECT message_id, position FROM twilio.message_media ORDER BY position',
                  $$VALUES ('e0000000-0000-4000-a000-00000000001a'::uuid, 0), ('e0000000-0000-4000-a000-00000000001a'::uuid, 1)$$,
                  'owner: SELECT message_media sees exactly their own rows');
SELECT is((SELECT count(*)::int FROM twilio.message_media WHERE message_id = 'e0000000-0000-4000-a000-00000000001b'),
          0, 'owner: B''s media is not visible, even asked for by message id');
SELECT throws_ok(v.stmt, '42501', 'permission denied for table message_media', 'owner: ' || v.descr)
  FROM (VALUES (1, $$INSERT INTO twilio.message_media (user_id, message_id, position, media_sid)
                    VALUES ('00000000-0000-4000-a000-00000000000a', 'e0000000-0000-4000-a000-00000000001a', 5,
                            'ME0000000000000000000000000000005a')$$, 'INSERT into message_media is denied'),
               (2, $$UPDATE twilio.message_media SET url = 'https://attacker.example/x'$$,
                'UPDATE of their own media is denied'),
               (3, 'DELETE FROM twilio.message_media', 'DELETE of their own media is denied'),
               (4, 'TRUNCATE twilio.message_media', 'TRUNCATE message_media is denied')) v(ord, stmt, descr)
 ORDER BY ord;
-- B's media does not exist for A (checked before any Twilio request: none is reachable here)
SELECT throws_ok($$SELECT twilio.media_link('e0000000-0000-4000-a000-00000000001b', 0)$$, 'P0002', NULL,
                 'owner: media_link of B''s message is no_data_found');
SELECT throws_ok($$SELECT twilio.media_link('e0000000-0000-4000-a000-00000000001a', 7)$$, 'P0002', NULL,
                 'owner: media_link at a position with no media is no_data_found');
-- A is not connected here: their own media is refused with a clear error, without a request
SELECT throws_ok($$SELECT twilio.media_link('e0000000-0000-4000-a000-00000000001a', 0)$$, '55000', NULL,
                 'owner: media_link without the message''s account connected is refused (55000)');
SELECT throws_ok($$SELECT twilio._fetch_media_link('owner', 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', ''::bytea,
                                                   'ME0000000000000000000000000000000a', NULL, NULL)$$,
                 '42501', NULL, 'owner: the internal _fetch_media_link is denied');
RESET ROLE;

-- Other user B sees only their own
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-a000-00000000000b", "role": "authenticated"}';
SET LOCAL ROLE authenticated;
SELECT results_eq('SELECT message_id FROM twilio.message_media',
                  $$VALUES ('e0000000-0000-4000-a000-00000000001b'::uuid)$$,
                  'other user: SELECT message_media sees exactly B''s row');
SELECT throws_ok($$SELECT twilio.media_link('e0000000-0000-4000-a000-00000000001a', 0)$$, 'P0002', NULL,
                 'other user: media_link of A''s message is no_data_found');
RESET ROLE;

-- anon: nothing
SET LOCAL ROLE anon;
SELECT throws_ok('SELECT count(*) FROM twilio.message_media', '42501', 'permission denied for table message_media',
                 'anon: SELECT message_media is denied');
SELECT throws_ok($$SELECT twilio.media_link('e0000000-0000-4000-a000-00000000001a', 0)$$, '42501', NULL,
                 'anon: media_link is denied');
RESET ROLE;

-- service_role: reads every row (BYPASSRLS), but media_link is an app user's call
SET LOCAL ROLE service_role;
SELECT is((SELECT count(*)::int FROM twilio.message_media), 3, 'service_role: SELECT message_media sees every row');
SELECT throws_ok($$SELECT twilio.media_link('e0000000-0000-4000-a000-00000000001a', 0)$$, '42501', NULL,
                 'service_role: media_link is denied');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
