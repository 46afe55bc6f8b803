-- Key rotation: several keys by id, re-encryption under the newest, and clear errors when a key is missing or
-- malformed (never a plaintext fallback, never the key in a message).
SET client_min_messages = warning;
\getenv key1 BYO_TEST_KEY1
\getenv key2 BYO_TEST_KEY2
\set both 'k2:' :key2 ',k1:' :key1
\set only_new 'k2:' :key2
\set only_old 'k1:' :key1
-- Waits until this backend has applied a configuration reload.
CREATE FUNCTION pg_temp.reload() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_reload_conf();
    PERFORM pg_sleep(0.5);
END
$$;
-- Keys live in a key file here: ALTER SYSTEM may not set the key itself (its text would keep the keys).
\set keyfile `f=$(mktemp); printf 'k1:%s\n' "$BYO_TEST_KEY1" > "$f"; chmod 644 "$f"; echo "$f"`
\setenv BYO_KEYFILE :keyfile
ALTER SYSTEM SET byo_twilio.encryption_key = 'k1:0000000000000000000000000000000000000000000000000000000000000000';
\echo sqlstate=:LAST_ERROR_SQLSTATE
ALTER SYSTEM SET byo_twilio.encryption_key = '';
ALTER SYSTEM SET byo_twilio.encryption_key_file = :'keyfile';
SELECT pg_temp.reload();
SELECT key_id, is_current, configured, tokens FROM twilio.encryption_status();
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000000a1"}';

-- add k2 as the newest key: old tokens still decrypt with k1
\setenv BYO_KEYS :both
\! printf '%s\n' "$BYO_KEYS" > "$BYO_KEYFILE"
SELECT pg_temp.reload();
SELECT key_id, is_current, configured, tokens FROM twilio.encryption_status();
SELECT state FROM twilio.status();
SET ROLE authenticated;
SELECT twilio.rotate_encryption_keys();
\echo sqlstate=:LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT twilio.rotate_encryption_keys() AS reencrypted;
SELECT twilio.rotate_encryption_keys() AS reencrypted_again;
SELECT key_id, is_current, configured, tokens FROM twilio.encryption_status();

-- retire k1: everything still decrypts
\setenv BYO_KEYS :only_new
\! printf '%s\n' "$BYO_KEYS" > "$BYO_KEYFILE"
SELECT pg_temp.reload();
SELECT state, reason FROM twilio.status();
SELECT key_id, is_current, configured, tokens FROM twilio.encryption_status();

-- only the retired key: tokens cannot be read, and status says so
\setenv BYO_KEYS :only_old
\! printf '%s\n' "$BYO_KEYS" > "$BYO_KEYFILE"
SELECT pg_temp.reload();
SELECT state, reason FROM twilio.status();
SELECT auth_token_masked IS NULL AS unreadable FROM twilio.get_settings();
SELECT twilio._token_mask(user_id::text, account_sid, auth_token_envelope) FROM twilio.user_settings
 WHERE user_id = '00000000-0000-0000-0000-0000000000a1';
\echo sqlstate=:LAST_ERROR_SQLSTATE

-- no key at all: saving is refused before anything is sent or stored
ALTER SYSTEM SET byo_twilio.encryption_key_file = '';
SELECT pg_temp.reload();
SET ROLE authenticated;
SELECT twilio.save_settings('ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', '0123456789abcdef0123456789abcdef');
\echo sqlstate=:LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT twilio.rotate_encryption_keys();
\echo sqlstate=:LAST_ERROR_SQLSTATE

-- a malformed key setting: the error names the entry, not its value
\set bad 'k1:not-hex'
\setenv BYO_KEYS :bad
\! printf '%s\n' "$BYO_KEYS" > "$BYO_KEYFILE"
ALTER SYSTEM SET byo_twilio.encryption_key_file = :'keyfile';
SELECT pg_temp.reload();
SELECT twilio._seal_token('x', 'y', 'z');
\echo sqlstate=:LAST_ERROR_SQLSTATE

-- a key file that cannot be read
\setenv BYO_KEYS :only_new
\! printf '%s\n' "$BYO_KEYS" > "$BYO_KEYFILE"
SELECT pg_temp.reload();
SELECT state FROM twilio.status();
ALTER SYSTEM SET byo_twilio.encryption_key_file = '/nonexistent/byo_twilio.key';
SELECT pg_temp.reload();
SELECT state FROM twilio.status();
SELECT twilio._seal_token('x', 'y', 'z');
\echo sqlstate=:LAST_ERROR_SQLSTATE


-- back to the cluster's own key (k1 in postgresql.conf) for the suites that follow: rotate to k1 first
\set back 'k1:' :key1 ',k2:' :key2
\setenv BYO_KEYS :back
\! printf '%s\n' "$BYO_KEYS" > "$BYO_KEYFILE"
ALTER SYSTEM SET byo_twilio.encryption_key_file = :'keyfile';
SELECT pg_temp.reload();
SELECT twilio.rotate_encryption_keys() > 0 AS reencrypted_under_k1;
ALTER SYSTEM RESET byo_twilio.encryption_key;
ALTER SYSTEM RESET byo_twilio.encryption_key_file;
SELECT pg_temp.reload();
SELECT state FROM twilio.status();
RESET request.jwt.claims;
