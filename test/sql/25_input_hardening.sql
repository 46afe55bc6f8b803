-- Hardening of settings input: tokens must be sealed unless the operator allows plaintext, NULLs and odd values
-- get clear errors (never a crash, never envelope bytes), and whitespace is trimmed as the docs say.
SET client_min_messages = warning;
\getenv carol_sid ALICE_SID
\getenv carol_token ALICE_TOKEN
INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-0000000000d4', 'dave@example.com');

-- The sealing key: public, for users and the operator; never key material of the encryption key.
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000000d4"}';
SELECT k ->> 'format' AS format, k ->> 'key_id' AS key_id, length(k ->> 'public_key') AS public_key_chars,
       k ->> 'public_key' <> '' AS has_key
  FROM twilio.token_sealing_key() k;
-- Without the operator's permission a plaintext token is refused before anything is checked or stored.
RESET ROLE;
SET byo_twilio.accept_plaintext_tokens = off;
SET ROLE authenticated;
SELECT try(format('SELECT twilio.save_settings(%L, %L)', :'carol_sid', :'carol_token')) AS plaintext_refused;
SELECT count(*) AS rows_after_refusal FROM twilio.user_settings;
-- Malformed or foreign sealed tokens: a clear error that never echoes the input.
SELECT try(format('SELECT twilio.save_settings(%L, %L)', :'carol_sid', 'bt1:k1:AAAA:BBBB')) AS malformed;
SELECT try(format('SELECT twilio.save_settings(%L, %L)', :'carol_sid', 'bt1:k9:' || repeat('A', 43) || '=:' ||
                  repeat('A', 44))) AS unknown_key;
SELECT try(format('SELECT twilio.save_settings(%L, %L)', :'carol_sid', 'bt1:k1:' || repeat('A', 43) || '=:' ||
                  repeat('A', 44))) AS low_order_key;
SELECT try(format('SELECT twilio.save_settings(%L, %L)', :'carol_sid', 'bt1:k1:' || repeat('B', 43) || '=:' ||
                  repeat('A', 44))) AS does_not_open;
-- With it, a pasted token with tabs and newlines around it is trimmed like spaces.
RESET ROLE;
SET byo_twilio.accept_plaintext_tokens = on;
SET ROLE authenticated;
SELECT account_sid, right(auth_token_masked, 4) AS last4
  FROM twilio.save_settings(E'\t' || :'carol_sid' || E'\n', E'\t ' || :'carol_token' || E'\r\n');
-- No client can turn plaintext tokens on for itself.
SELECT try('SET byo_twilio.accept_plaintext_tokens = on') AS set_by_client;

-- Bodies of only whitespace are empty.
SELECT try(format('SELECT twilio.send_sms(%L, %L)', '+15005550100', E' \t\n ')) AS blank_body;
RESET ROLE;

-- The operator's functions: NULL is a clear error, never a constraint error showing the row (envelope bytes).
SET ROLE service_role;
SELECT try('SELECT twilio.set_platform_fallback(NULL)') AS fallback_null;
SELECT try('UPDATE twilio.user_settings SET max_segments_per_second = 1e-30
             WHERE user_id = ''00000000-0000-0000-0000-0000000000d4''') AS rate_near_zero;
SELECT try('UPDATE twilio.user_settings SET max_segments_per_second = 0.01
             WHERE user_id = ''00000000-0000-0000-0000-0000000000d4''') AS rate_lowest;
RESET ROLE;

-- Internal functions, as a superuser: NULL arguments and altered envelopes are errors, never a crashed backend.
SELECT try(format('SELECT twilio._check_sealed_credentials(%L, %L, NULL, NULL, NULL, NULL)',
                  '00000000-0000-0000-0000-0000000000d4', :'carol_sid')) AS sealed_null;
SELECT try('SELECT twilio._raise_unless_ok(NULL)') AS verdict_null;
SELECT try('SELECT twilio._raise_unless_ok(''{}'')') AS verdict_empty;
SELECT try('SELECT twilio._raise_unless_ok(''{"ok": true}'')') AS verdict_ok;
-- A key id of raw bytes (an altered header) is named as malformed, never printed.
SELECT try(format('SELECT twilio._token_mask(%L, %L, %L::bytea)', 'u', 'AC', '\x0102fffe' || repeat('00', 40)))
    AS altered_key_id;
-- The settings row function is callable (its old name was read as the array type's name).
SELECT account_sid FROM twilio._settings_of('00000000-0000-0000-0000-0000000000d4');
DELETE FROM twilio.user_settings WHERE user_id = '00000000-0000-0000-0000-0000000000d4';
