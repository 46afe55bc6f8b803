-- Twilio failures while saving: each gives a clear error with an SQLSTATE and saves nothing; transfers are
-- bounded by timeouts, honour cancellation, and verify TLS.
SET client_min_messages = warning;
\getenv alice_sid ALICE_SID
\getenv alice_token ALICE_TOKEN
\getenv standin_tls_url STANDIN_TLS_URL
\getenv standin_cert STANDIN_CERT
INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-0000000000e0', 'erin@example.com');

-- Saves erin's settings with the given fixture account (its token from the environment).
CREATE FUNCTION pg_temp.save_as_erin(sid_var text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN public.try(format('SELECT twilio.save_settings(%L, %L)', current_setting('regress.' || sid_var || '_sid'),
                             current_setting('regress.' || sid_var || '_token')));
END
$$;
\getenv v FAULT_500_SID
SET regress.f500_sid = :'v';
\getenv v FAULT_500_TOKEN
SET regress.f500_token = :'v';
\getenv v FAULT_503_SID
SET regress.f503_sid = :'v';
\getenv v FAULT_503_TOKEN
SET regress.f503_token = :'v';
\getenv v FAULT_429_SID
SET regress.f429_sid = :'v';
\getenv v FAULT_429_TOKEN
SET regress.f429_token = :'v';
\getenv v FAULT_GARBAGE_SID
SET regress.garbage_sid = :'v';
\getenv v FAULT_GARBAGE_TOKEN
SET regress.garbage_token = :'v';
\getenv v FAULT_DELAY_SID
SET regress.delay_sid = :'v';
\getenv v FAULT_DELAY_TOKEN
SET regress.delay_token = :'v';
\getenv v FAULT_CLOSE_SID
SET regress.close_sid = :'v';
\getenv v FAULT_CLOSE_TOKEN
SET regress.close_token = :'v';
\unset v
SET regress.alice_sid = :'alice_sid';
SET regress.alice_token = :'alice_token';

SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000000e0"}';
SET byo_twilio.http_timeout_ms = 1000;
SET ROLE authenticated;
SELECT pg_temp.save_as_erin('f500') AS http_500,
       pg_temp.save_as_erin('f503') AS http_503;
SELECT pg_temp.save_as_erin('f429') AS http_429;
SELECT pg_temp.save_as_erin('garbage') AS garbage;
SELECT pg_temp.save_as_erin('delay') AS too_slow;
SELECT pg_temp.save_as_erin('close') AS connection_closed;
SELECT count(*) AS erin_rows FROM twilio.user_settings;
RESET ROLE;

-- nothing listening
SET byo_twilio.api_base_url = 'http://127.0.0.1:9';
SET ROLE authenticated;
-- (libcurl 7 says "Couldn't connect", libcurl 8 "Could not connect")
SELECT replace(pg_temp.save_as_erin('alice'), 'Couldn''t connect', 'Could not connect') AS refused;
RESET ROLE;

-- TLS: a certificate from an unknown CA is refused; trusted once its CA is configured
SET byo_twilio.api_base_url = :'standin_tls_url';
SET byo_twilio.conversations_base_url = :'standin_tls_url';
SET byo_twilio.messaging_base_url = :'standin_tls_url';
SET ROLE authenticated;
SELECT regexp_replace(pg_temp.save_as_erin('alice'), '\(.*\)', '(...)') AS unknown_ca;
SELECT count(*) AS erin_rows FROM twilio.user_settings;
RESET ROLE;
SET byo_twilio.http_ca_file = :'standin_cert';
SET ROLE authenticated;
SELECT pg_temp.save_as_erin('alice') AS trusted_ca;
SELECT account_sid, status FROM twilio.user_settings;
RESET ROLE;
RESET byo_twilio.http_ca_file;
RESET byo_twilio.api_base_url;
RESET byo_twilio.conversations_base_url;
RESET byo_twilio.messaging_base_url;

-- a failed re-save keeps the saved settings as they were
SET ROLE authenticated;
SELECT pg_temp.save_as_erin('f503') AS resave_fails;
SELECT account_sid, status, last_error FROM twilio.get_settings();
RESET ROLE;

-- cancel (here: statement_timeout) stops a transfer mid-way and raises the cancel, not a Twilio error
SET byo_twilio.http_timeout_ms = 10000;
SET statement_timeout = '300ms';
SET ROLE authenticated;
SELECT twilio.save_settings(current_setting('regress.delay_sid'), current_setting('regress.delay_token'));
\echo sqlstate=:LAST_ERROR_SQLSTATE
RESET ROLE;
RESET statement_timeout;
SELECT account_sid FROM twilio.user_settings WHERE user_id = '00000000-0000-0000-0000-0000000000e0';
RESET request.jwt.claims;
