-- Settings: a user connects their own Twilio account (checked against the local stand-in first), sees only
-- their own row, never the token; failures say which check failed and change nothing.
SET client_min_messages = warning;
\getenv alice_sid ALICE_SID
\getenv alice_token ALICE_TOKEN
\getenv bob_sid BOB_SID
\getenv bob_token BOB_TOKEN
\getenv suspended_sid SUSPENDED_SID
\getenv suspended_token SUSPENDED_TOKEN
\getenv closed_sid CLOSED_SID
\getenv closed_token CLOSED_TOKEN

INSERT INTO auth.users (id, email) VALUES
    ('00000000-0000-0000-0000-0000000000a1', 'alice@example.com'),
    ('00000000-0000-0000-0000-0000000000b0', 'bob@example.com'),
    ('00000000-0000-0000-0000-0000000000c0', 'carol@example.com');

-- Runs a statement and shows its SQLSTATE and message (timings masked) instead of failing the script.
CREATE FUNCTION public.try(statement text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text;
    msg text;
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN state || ': ' || regexp_replace(msg, '[0-9]+ (ms|milliseconds)', 'N ms', 'g');
END
$$;
GRANT EXECUTE ON FUNCTION public.try(text) TO PUBLIC;

-- alice connects her account: services and a number that is on the account
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000000a1"}';
SELECT account_sid, conversations_service_sid, messaging_service_sid, sms_number, status, auth_token_masked,
       verified_at IS NOT NULL AS verified, last_error
  FROM twilio.save_settings(:'alice_sid', :'alice_token', 'ISa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1',
                            'MGa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', '+15005550006');
SELECT state, reason, verified_at IS NOT NULL AS verified, source, can_send FROM twilio.status();
SELECT account_sid, sms_number, status FROM twilio.user_settings;
-- the envelope is not readable by its owner either
SELECT auth_token_envelope FROM twilio.user_settings;
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT * FROM twilio.user_settings;
\echo sqlstate=:LAST_ERROR_SQLSTATE
-- rows are written only through save_settings
INSERT INTO twilio.user_settings (user_id, account_sid, auth_token_envelope)
VALUES ('00000000-0000-0000-0000-0000000000a1', :'alice_sid', '\x00');
\echo sqlstate=:LAST_ERROR_SQLSTATE
UPDATE twilio.user_settings SET sms_number = '+15005550999';
\echo sqlstate=:LAST_ERROR_SQLSTATE

-- bob connects with a number that belongs to his Messaging service, not to the account directly
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000000b0"}';
SELECT account_sid, sms_number, auth_token_masked FROM twilio.save_settings(
    :'bob_sid', :'bob_token', 'ISb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0', 'MGb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0', '+15005550009');
-- bob sees only his own row and cannot touch alice's
SELECT account_sid FROM twilio.user_settings;
UPDATE twilio.user_settings SET status = 'disabled' WHERE user_id = '00000000-0000-0000-0000-0000000000a1';
DELETE FROM twilio.user_settings WHERE user_id = '00000000-0000-0000-0000-0000000000a1';

-- every failed check names the check and saves nothing (alice's row stays as it was)
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000000a1"}';
SELECT try(format('SELECT twilio.save_settings(%L, %L)', :'alice_sid', :'bob_token')) AS wrong_token;
SELECT try(format('SELECT twilio.save_settings(%L, %L)', :'bob_sid', :'alice_token')) AS token_of_other_account;
SELECT try(format('SELECT twilio.save_settings(%L, %L)', :'suspended_sid', :'suspended_token')) AS suspended;
SELECT try(format('SELECT twilio.save_settings(%L, %L)', :'closed_sid', :'closed_token')) AS closed;
SELECT try(format('SELECT twilio.save_settings(%L, %L, %L)', :'alice_sid', :'alice_token',
                  'ISb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0')) AS conversations_service_of_bob;
SELECT try(format('SELECT twilio.save_settings(%L, %L, NULL, %L)', :'alice_sid', :'alice_token',
                  'MGb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0')) AS messaging_service_of_bob;
SELECT try(format('SELECT twilio.save_settings(%L, %L, NULL, %L, %L)', :'alice_sid', :'alice_token',
                  'MGa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', '+15005550009')) AS number_of_bob;
SELECT try(format('SELECT twilio.save_settings(%L, %L, NULL, NULL, %L)', :'alice_sid', :'alice_token',
                  '+15005550007')) AS number_on_service_but_no_service_given;
-- format errors, before any request; a token typed into the SID field is not echoed
SELECT try(format('SELECT twilio.save_settings(%L, %L)', :'alice_token', :'alice_sid')) AS swapped_arguments;
SELECT try(format('SELECT twilio.save_settings(%L, %L)', 'AC123', :'alice_token')) AS short_sid;
SELECT try(format('SELECT twilio.save_settings(%L, %L)', :'alice_sid', 'not-a-token')) AS bad_token;
SELECT try(format('SELECT twilio.save_settings(%L, %L, %L)', :'alice_sid', :'alice_token',
                  'MGa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1')) AS messaging_sid_as_conversations_sid;
SELECT try(format('SELECT twilio.save_settings(%L, %L, NULL, NULL, %L)', :'alice_sid', :'alice_token',
                  '555-0100')) AS not_e164;
SELECT try('SELECT twilio.save_settings(NULL, NULL)') AS nulls;
-- a failed save in full, with its hint
SELECT twilio.save_settings(:'alice_sid', :'bob_token');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT account_sid, conversations_service_sid, sms_number, status, last_error FROM twilio.get_settings();

-- status follows the row: disabled by the user, then active again
UPDATE twilio.user_settings SET status = 'disabled';
SELECT state, reason, can_send FROM twilio.status();
UPDATE twilio.user_settings SET status = 'paused';
\echo sqlstate=:LAST_ERROR_SQLSTATE
UPDATE twilio.user_settings SET status = 'active';
SELECT state, reason, verified_at IS NOT NULL AS verified, can_send FROM twilio.verify_settings();

-- carol has connected nothing
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000000c0"}';
SELECT state, reason, source, can_send FROM twilio.status();
SELECT count(*) AS rows FROM twilio.get_settings();
SELECT twilio.disconnect() AS had_settings;

-- anon has nothing; a session without a user gets a clear error
SET ROLE anon;
SELECT * FROM twilio.status();
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT count(*) FROM twilio.user_settings;
\echo sqlstate=:LAST_ERROR_SQLSTATE
SET ROLE authenticated;
RESET request.jwt.claims;
SELECT * FROM twilio.status();
\echo sqlstate=:LAST_ERROR_SQLSTATE

-- the internal config resolution is not for clients
SELECT * FROM twilio._resolve_config('00000000-0000-0000-0000-0000000000a1');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio._token_mask('x', 'y', '\x00');
\echo sqlstate=:LAST_ERROR_SQLSTATE

-- the platform account: only service_role sets it; users without settings use it only when fallback is on
SELECT try(format('SELECT twilio.set_platform_account(%L, %L)', :'bob_sid', :'bob_token')) AS as_user;
SET ROLE service_role;
SELECT twilio.set_platform_account(:'bob_sid', :'bob_token', NULL, 'MGb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0',
                                   '+15005550008');
SELECT account_sid, fallback_enabled, auth_token_masked FROM twilio.get_platform_account();
SELECT count(*) FROM twilio.platform_account;
\echo sqlstate=:LAST_ERROR_SQLSTATE
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000000c0"}';
SELECT state, source, can_send FROM twilio.status();
SET ROLE service_role;
SELECT twilio.set_platform_fallback(true);
SET ROLE authenticated;
SELECT state, reason, source, can_send FROM twilio.status();
RESET ROLE;
SELECT source, account_sid, sms_number FROM twilio._resolve_config('00000000-0000-0000-0000-0000000000c0');
SELECT source, account_sid, sms_number FROM twilio._resolve_config('00000000-0000-0000-0000-0000000000a1');

-- bob disconnects: he falls back to the platform account, then to nothing when fallback is off
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000000b0"}';
SELECT twilio.disconnect() AS had_settings;
SELECT twilio.disconnect() AS had_settings;
SELECT state, source FROM twilio.status();
SET ROLE service_role;
SELECT twilio.set_platform_fallback(false);
SET ROLE authenticated;
SELECT state, source FROM twilio.status();
RESET ROLE;

-- an envelope copied into another user's row does not decrypt there
INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-0000000000d0', 'dave@example.com');
INSERT INTO twilio.user_settings (user_id, account_sid, auth_token_envelope, verified_at)
SELECT '00000000-0000-0000-0000-0000000000d0', account_sid, auth_token_envelope, now()
  FROM twilio.user_settings WHERE user_id = '00000000-0000-0000-0000-0000000000a1';
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000000d0"}';
SELECT state, reason FROM twilio.status();
SELECT account_sid, auth_token_masked FROM twilio.get_settings();
RESET ROLE;
-- deleting a user deletes their settings
DELETE FROM auth.users WHERE id = '00000000-0000-0000-0000-0000000000d0';
SELECT count(*) FROM twilio.user_settings WHERE user_id = '00000000-0000-0000-0000-0000000000d0';
RESET request.jwt.claims;
