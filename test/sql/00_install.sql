-- Installation: refused without Supabase's auth schema and roles, with a message saying how to fix it;
-- works after the shipped compat script.
SET client_min_messages = warning;
CREATE EXTENSION byo_twilio;
\echo sqlstate=:LAST_ERROR_SQLSTATE
\getenv compat_script BYO_COMPAT_SQL
\set ECHO none
\i :compat_script
\i :compat_script
\set ECHO all
-- (the compat script ran twice: it is idempotent)
CREATE EXTENSION byo_twilio;
SELECT extversion FROM pg_extension WHERE extname = 'byo_twilio';
-- auth.uid() follows request.jwt.claims, as on Supabase
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000000a1", "role": "authenticated"}';
SELECT auth.uid(), auth.role();
RESET request.jwt.claims;
SELECT auth.uid() IS NULL AS no_user_without_claims;
-- settings are reserved and the key is hidden
SET byo_twilio.no_such_setting = 1;
\echo sqlstate=:LAST_ERROR_SQLSTATE
SET ROLE authenticated;
-- (the SQLSTATE alone: PostgreSQL 15 and 17 word this refusal differently)
\set VERBOSITY sqlstate
SHOW byo_twilio.encryption_key;
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT current_setting('byo_twilio.encryption_key');
\echo sqlstate=:LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT count(*) AS visible_key_settings FROM pg_settings WHERE name LIKE 'byo_twilio.encryption_key%';
-- nor can a client point Twilio traffic elsewhere
SET byo_twilio.api_base_url = 'http://attacker.example';
\echo sqlstate=:LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT name FROM pg_settings WHERE name LIKE 'byo_twilio.%' ORDER BY name;
