-- byo_twilio: Bring Your Own Twilio. Install script for schema `twilio` (assembled from sql/install/*.sql).
\echo Use "CREATE EXTENSION byo_twilio" to load this file. \quit

-- Supabase provides auth.users, auth.uid() and the client roles; plain PostgreSQL gets them from our compat
-- script. Refuse to install half-working without them.
DO $$
DECLARE
    missing text[] := '{}';
BEGIN
    IF to_regnamespace('auth') IS NULL THEN missing := array_append(missing, 'schema auth'); END IF;
    IF to_regclass('auth.users') IS NULL THEN missing := array_append(missing, 'table auth.users'); END IF;
    IF to_regprocedure('auth.uid()') IS NULL THEN missing := array_append(missing, 'function auth.uid()'); END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN missing := array_append(missing, 'role anon'); END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        missing := array_append(missing, 'role authenticated');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        missing := array_append(missing, 'role service_role');
    END IF;
    IF cardinality(missing) > 0 THEN
        RAISE EXCEPTION 'byo_twilio needs Supabase''s auth schema and roles; missing: %', array_to_string(missing, ', ')
            USING ERRCODE = 'undefined_object',
                  HINT = 'On plain PostgreSQL, first run: psql -f "$(pg_config --sharedir)/extension/byo_twilio_auth_compat.sql"';
    END IF;
END
$$;

GRANT USAGE ON SCHEMA twilio TO anon, authenticated, service_role;

------------------------------------------------------------------------------------------------------------------
-- C functions (core logic in C++; see src/). Internal ones start with '_' and are never granted to client roles.
------------------------------------------------------------------------------------------------------------------

CREATE FUNCTION twilio.compute_signature(auth_token text, url text, params jsonb) RETURNS text
    AS 'MODULE_PATHNAME', 'byo_compute_signature' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION twilio.compute_signature(text, text, jsonb) IS
    'X-Twilio-Signature for a request to url with these form params (values: string or array of strings)';

CREATE FUNCTION twilio.validate_signature(auth_token text, signature text, url text, body text,
                                          content_type text DEFAULT 'application/x-www-form-urlencoded')
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'byo_validate_signature' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION twilio.validate_signature(text, text, text, text, text) IS
    'True when signature is Twilio''s for this URL and raw body (form or JSON with bodySHA256); constant time';

CREATE FUNCTION twilio._seal_token(owner text, account_sid text, auth_token text) RETURNS bytea
    AS 'MODULE_PATHNAME', 'byo_seal_token' LANGUAGE C VOLATILE STRICT;
CREATE FUNCTION twilio._token_mask(owner text, account_sid text, envelope bytea) RETURNS text
    AS 'MODULE_PATHNAME', 'byo_token_mask' LANGUAGE C STABLE STRICT;
CREATE FUNCTION twilio._reseal_token(owner text, account_sid text, envelope bytea) RETURNS bytea
    AS 'MODULE_PATHNAME', 'byo_reseal_token' LANGUAGE C VOLATILE STRICT;
CREATE FUNCTION twilio._envelope_key_id(envelope bytea) RETURNS text
    AS 'MODULE_PATHNAME', 'byo_envelope_key_id' LANGUAGE C IMMUTABLE STRICT;
CREATE FUNCTION twilio._encryption_key_ids() RETURNS text[]
    AS 'MODULE_PATHNAME', 'byo_encryption_key_ids' LANGUAGE C STABLE;
CREATE FUNCTION twilio._check_formats(account_sid text, auth_token text, conversations_service_sid text,
                                      messaging_service_sid text, sms_number text) RETURNS void
    AS 'MODULE_PATHNAME', 'byo_check_formats' LANGUAGE C IMMUTABLE;
CREATE FUNCTION twilio._check_credentials(account_sid text, auth_token text, conversations_service_sid text,
                                          messaging_service_sid text, sms_number text) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'byo_check_credentials' LANGUAGE C VOLATILE;
CREATE FUNCTION twilio._check_sealed_credentials(owner text, account_sid text, envelope bytea,
                                                 conversations_service_sid text, messaging_service_sid text,
                                                 sms_number text) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'byo_check_sealed_credentials' LANGUAGE C VOLATILE;

CREATE FUNCTION twilio.token_sealing_key() RETURNS jsonb
    AS 'MODULE_PATHNAME', 'byo_token_sealing_key' LANGUAGE C STABLE;
COMMENT ON FUNCTION twilio.token_sealing_key() IS
    'The public key (X25519) to seal an auth token to before save_settings, so no plaintext token reaches SQL';
CREATE FUNCTION twilio._token_input(owner text, account_sid text, auth_token text) RETURNS text
    AS 'MODULE_PATHNAME', 'byo_token_input' LANGUAGE C STABLE;

CREATE FUNCTION twilio._uuid_v7() RETURNS uuid
    AS 'MODULE_PATHNAME', 'byo_uuid_v7' LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION twilio._uuid_v7() IS
    'Time-ordered UUID (RFC 9562 version 7): the default id of messages and conversations, so inserts append to the primary key';
------------------------------------------------------------------------------------------------------------------
-- Tables
------------------------------------------------------------------------------------------------------------------

-- One row per user: their own Twilio account. The token is stored only as an AES-256-GCM envelope bound to
-- (user_id, account_sid); no client role may select that column.
CREATE TABLE twilio.user_settings (
    user_id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    account_sid text NOT NULL CHECK (account_sid ~ '^AC[0-9a-fA-F]{32}$'),
    auth_token_envelope bytea NOT NULL,
    conversations_service_sid text CHECK (conversations_service_sid ~ '^IS[0-9a-fA-F]{32}$'),
    messaging_service_sid text CHECK (messaging_service_sid ~ '^MG[0-9a-fA-F]{32}$'),
    sms_number text CHECK (sms_number ~ '^\+[1-9][0-9]{1,14}$'),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    verified_at timestamptz,
    last_error text,
    -- Names this user in webhook URLs (twilio.get_settings().webhook_urls); not a secret.
    webhook_key text NOT NULL UNIQUE DEFAULT replace(gen_random_uuid()::text, '-', ''),
    -- Per-user sending rate in SMS segments per second (NULL: byo_twilio.max_segments_per_second).
    -- The same range as the setting: a rate near zero would schedule sends past the end of time.
    max_segments_per_second real CHECK (max_segments_per_second >= 0.01::real AND max_segments_per_second <= 100000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE twilio.user_settings IS 'Each user''s own Twilio account; token encrypted, owner-only RLS';

-- The operator's own account: fallback for users without settings, only when fallback_enabled.
CREATE TABLE twilio.platform_account (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    account_sid text NOT NULL CHECK (account_sid ~ '^AC[0-9a-fA-F]{32}$'),
    auth_token_envelope bytea NOT NULL,
    conversations_service_sid text CHECK (conversations_service_sid ~ '^IS[0-9a-fA-F]{32}$'),
    messaging_service_sid text CHECK (messaging_service_sid ~ '^MG[0-9a-fA-F]{32}$'),
    sms_number text CHECK (sms_number ~ '^\+[1-9][0-9]{1,14}$'),
    fallback_enabled boolean NOT NULL DEFAULT false,
    verified_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE twilio.platform_account IS 'The platform (master) account; reachable only through functions';

SELECT pg_catalog.pg_extension_config_dump('twilio.user_settings', '');
SELECT pg_catalog.pg_extension_config_dump('twilio.platform_account', '');

CREATE FUNCTION twilio._touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER user_settings_updated_at BEFORE UPDATE ON twilio.user_settings
    FOR EACH ROW EXECUTE FUNCTION twilio._touch_updated_at();
CREATE TRIGGER platform_account_updated_at BEFORE UPDATE ON twilio.platform_account
    FOR EACH ROW EXECUTE FUNCTION twilio._touch_updated_at();

-- Row-level security: a user sees and changes only their own row. platform_account has no policy: nobody
-- without BYPASSRLS sees a row, and no client role has a privilege on it anyway.
ALTER TABLE twilio.user_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio.platform_account ENABLE ROW LEVEL SECURITY;
CREATE POLICY user_settings_select_own ON twilio.user_settings FOR SELECT TO authenticated
    USING (user_id = auth.uid());
CREATE POLICY user_settings_update_own ON twilio.user_settings FOR UPDATE TO authenticated
    USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
CREATE POLICY user_settings_delete_own ON twilio.user_settings FOR DELETE TO authenticated
    USING (user_id = auth.uid());

-- Column privileges keep the envelope unreadable to every client role (service_role included). Rows are
-- written only through twilio.save_settings, which verifies with Twilio first; a user may switch status.
REVOKE ALL ON twilio.user_settings, twilio.platform_account FROM PUBLIC;
GRANT SELECT (user_id, account_sid, conversations_service_sid, messaging_service_sid, sms_number, status,
              verified_at, last_error, webhook_key, max_segments_per_second, created_at, updated_at)
    ON twilio.user_settings TO authenticated, service_role;
GRANT UPDATE (max_segments_per_second) ON twilio.user_settings TO service_role;
GRANT UPDATE (status) ON twilio.user_settings TO authenticated, service_role;
GRANT DELETE ON twilio.user_settings TO authenticated, service_role;

------------------------------------------------------------------------------------------------------------------
-- SQL API
------------------------------------------------------------------------------------------------------------------

CREATE TYPE twilio.settings_info AS (
    account_sid text,
    conversations_service_sid text,
    messaging_service_sid text,
    sms_number text,
    status text,
    auth_token_masked text,  -- NULL when the stored token cannot be decrypted (see twilio.status())
    verified_at timestamptz,
    last_error text,
    created_at timestamptz,
    updated_at timestamptz,
    webhook_urls jsonb  -- conversations, sms, status, voice_status URLs to paste into the Twilio console
);

CREATE FUNCTION twilio._require_user() RETURNS uuid
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    uid uuid := auth.uid();
BEGIN
    IF uid IS NULL THEN
        RAISE EXCEPTION 'no authenticated user: auth.uid() is null'
            USING ERRCODE = 'invalid_authorization_specification',
                  HINT = 'Call this as the user (a JWT with a sub claim), not as anon or service_role.';
    END IF;
    RETURN uid;
END
$$;

-- Masked token, or NULL when it cannot be decrypted (missing key, tampering).
CREATE FUNCTION twilio._mask_or_null(owner text, account_sid text, envelope bytea) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN twilio._token_mask(owner, account_sid, envelope);
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;

-- The webhook URLs carrying a user's key (NULL until byo_twilio.webhook_base_url is set).
CREATE FUNCTION twilio._webhook_urls(webhook_key text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_object_agg(kind, rtrim(base, '/') || '/twilio/' || webhook_key || '/' || kind)
      FROM (SELECT nullif(current_setting('byo_twilio.webhook_base_url', true), '') AS base) b,
           unnest(ARRAY['conversations', 'sms', 'status', 'voice_status']) AS kind
     WHERE b.base IS NOT NULL
$$;

-- Not named _settings_info: that is the name of settings_info's array type, which a call would be read as.
CREATE FUNCTION twilio._settings_of(uid uuid) RETURNS SETOF twilio.settings_info
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT s.account_sid, s.conversations_service_sid, s.messaging_service_sid, s.sms_number, s.status,
           twilio._mask_or_null(s.user_id::text, s.account_sid, s.auth_token_envelope),
           s.verified_at, s.last_error, s.created_at, s.updated_at, twilio._webhook_urls(s.webhook_key)
      FROM twilio.user_settings s
     WHERE s.user_id = uid
$$;

-- Raises the failure a _check_*credentials verdict describes, with its SQLSTATE.
CREATE FUNCTION twilio._raise_unless_ok(verdict jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF verdict IS NULL OR (verdict ->> 'ok') IS DISTINCT FROM 'true' THEN
        RAISE EXCEPTION '%', coalesce(verdict ->> 'message', 'the check gave no verdict')
            USING ERRCODE = coalesce(verdict ->> 'sqlstate', 'XX000'),
                  DETAIL = format('failed check: %s', verdict ->> 'failed_check'),
                  HINT = 'Nothing was saved.';
    END IF;
END
$$;

-- The sealed token of a setup that passed every check: formats, then the key (sealing), then Twilio, so each
-- failure comes before any request is sent and nothing is stored unless all of them pass.
CREATE FUNCTION twilio._verified_envelope(owner text, sid text, token text, conv text, msg text, num text)
    RETURNS bytea
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    envelope bytea;
BEGIN
    PERFORM twilio._check_formats(sid, token, conv, msg, num);
    envelope := twilio._seal_token(owner, sid, token);
    PERFORM twilio._raise_unless_ok(twilio._check_credentials(sid, token, conv, msg, num));
    RETURN envelope;
END
$$;

CREATE FUNCTION twilio.save_settings(account_sid text, auth_token text, conversations_service_sid text DEFAULT NULL,
                                     messaging_service_sid text DEFAULT NULL, sms_number text DEFAULT NULL)
    RETURNS twilio.settings_info
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    sid text := btrim(account_sid, E' \t\r\n');
    conv text := nullif(btrim(conversations_service_sid, E' \t\r\n'), '');
    msg text := nullif(btrim(messaging_service_sid, E' \t\r\n'), '');
    num text := nullif(btrim(sms_number, E' \t\r\n'), '');
    -- Sealed for this user and account (docs/security.md); plaintext only where the operator allows it.
    token text := twilio._token_input(uid::text, sid, auth_token);
    envelope bytea;
    result twilio.settings_info;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM auth.users u WHERE u.id = uid) THEN
        RAISE EXCEPTION 'user % does not exist in auth.users', uid USING ERRCODE = 'foreign_key_violation';
    END IF;
    envelope := twilio._verified_envelope(uid::text, sid, token, conv, msg, num);
    INSERT INTO twilio.user_settings AS s (user_id, account_sid, auth_token_envelope, conversations_service_sid,
                                          messaging_service_sid, sms_number, status, verified_at, last_error)
    VALUES (uid, sid, envelope, conv, msg, num, 'active', now(), NULL)
    ON CONFLICT (user_id) DO UPDATE
        SET account_sid = EXCLUDED.account_sid, auth_token_envelope = EXCLUDED.auth_token_envelope,
            conversations_service_sid = EXCLUDED.conversations_service_sid,
            messaging_service_sid = EXCLUDED.messaging_service_sid, sms_number = EXCLUDED.sms_number,
            status = 'active', verified_at = EXCLUDED.verified_at, last_error = NULL;
    SELECT * INTO result FROM twilio._settings_of(uid);
    RETURN result;
END
$$;
COMMENT ON FUNCTION twilio.save_settings(text, text, text, text, text) IS
    'Verify the caller''s Twilio account, services and number with Twilio, then save (token encrypted)';

CREATE FUNCTION twilio.get_settings() RETURNS SETOF twilio.settings_info
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM twilio._settings_of(twilio._require_user())
$$;
COMMENT ON FUNCTION twilio.get_settings() IS 'The caller''s settings with the auth token masked (no row: not connected)';

-- Internal: the Twilio account a user's traffic uses (the seed's getTwilioConfigForUser): their own active
-- settings, else the platform account when its fallback is on. Never granted to client roles.
CREATE TYPE twilio._sender_config AS (source text, owner text, account_sid text, auth_token_envelope bytea,
                                      conversations_service_sid text, messaging_service_sid text, sms_number text,
                                      webhook_key text, max_segments_per_second real);
CREATE FUNCTION twilio._resolve_config(uid uuid) RETURNS SETOF twilio._sender_config
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT 'user', s.user_id::text, s.account_sid, s.auth_token_envelope, s.conversations_service_sid,
           s.messaging_service_sid, s.sms_number, s.webhook_key, s.max_segments_per_second
      FROM twilio.user_settings s
     WHERE s.user_id = uid AND s.status = 'active'
    UNION ALL
    SELECT 'platform', 'platform', p.account_sid, p.auth_token_envelope, p.conversations_service_sid,
           p.messaging_service_sid, p.sms_number, 'platform', NULL::real
      FROM twilio.platform_account p
     WHERE p.fallback_enabled AND NOT EXISTS (SELECT 1 FROM twilio.user_settings s WHERE s.user_id = uid)
$$;

CREATE FUNCTION twilio.status()
    RETURNS TABLE (state text, reason text, verified_at timestamptz, source text, can_send boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    uid uuid := twilio._require_user();
    s twilio.user_settings;
    p twilio.platform_account;
BEGIN
    SELECT * INTO s FROM twilio.user_settings u WHERE u.user_id = uid;
    IF NOT FOUND THEN
        SELECT * INTO p FROM twilio.platform_account pa WHERE pa.fallback_enabled;
        IF FOUND THEN
            RETURN QUERY SELECT 'connected', 'using the platform account (you have not connected your own)',
                                p.verified_at, 'platform', true;
        ELSE
            RETURN QUERY SELECT 'not_connected', 'no Twilio account connected', NULL::timestamptz, NULL::text, false;
        END IF;
        RETURN;
    END IF;
    IF s.status = 'disabled' THEN
        RETURN QUERY SELECT 'disabled', 'Twilio settings are disabled', s.verified_at, 'user', false;
    ELSIF twilio._mask_or_null(uid::text, s.account_sid, s.auth_token_envelope) IS NULL THEN
        RETURN QUERY SELECT 'error', 'the stored auth token cannot be decrypted (its key is not configured, '
                                     'or the row was altered); save the settings again', s.verified_at, 'user',
                            false;
    ELSIF s.last_error IS NOT NULL THEN
        RETURN QUERY SELECT 'error', s.last_error, s.verified_at, 'user', false;
    ELSE
        RETURN QUERY SELECT 'connected', 'verified with Twilio', s.verified_at, 'user', true;
    END IF;
END
$$;
COMMENT ON FUNCTION twilio.status() IS 'connected | not_connected | disabled | error, with reason and last verification';

-- Re-checks the stored settings against Twilio and records the outcome (verified_at or last_error).
CREATE FUNCTION twilio.verify_settings()
    RETURNS TABLE (state text, reason text, verified_at timestamptz, source text, can_send boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    uid uuid := twilio._require_user();
    s twilio.user_settings;
    verdict jsonb;
BEGIN
    SELECT * INTO s FROM twilio.user_settings u WHERE u.user_id = uid;
    IF FOUND AND s.status = 'active' THEN
        -- No lock is held during the HTTP calls; the row is updated only if it did not change meanwhile.
        verdict := twilio._check_sealed_credentials(uid::text, s.account_sid, s.auth_token_envelope,
                                                    s.conversations_service_sid, s.messaging_service_sid,
                                                    s.sms_number);
        UPDATE twilio.user_settings u
           SET verified_at = CASE WHEN (verdict ->> 'ok')::boolean THEN now() ELSE u.verified_at END,
               last_error = CASE WHEN (verdict ->> 'ok')::boolean THEN NULL ELSE verdict ->> 'message' END
         WHERE u.user_id = uid AND u.auth_token_envelope = s.auth_token_envelope;
    END IF;
    RETURN QUERY SELECT * FROM twilio.status();
END
$$;

CREATE FUNCTION twilio.disconnect() RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    uid uuid := twilio._require_user();
BEGIN
    DELETE FROM twilio.user_settings u WHERE u.user_id = uid;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION twilio.disconnect() IS 'Forget the caller''s Twilio settings and token; true if there were any';

-- Platform (master) account: service_role or a superuser only.
CREATE FUNCTION twilio.set_platform_account(account_sid text, auth_token text,
                                            conversations_service_sid text DEFAULT NULL,
                                            messaging_service_sid text DEFAULT NULL, sms_number text DEFAULT NULL,
                                            fallback_enabled boolean DEFAULT false) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    sid text := btrim(account_sid, E' \t\r\n');
    conv text := nullif(btrim(conversations_service_sid, E' \t\r\n'), '');
    msg text := nullif(btrim(messaging_service_sid, E' \t\r\n'), '');
    num text := nullif(btrim(sms_number, E' \t\r\n'), '');
    token text := twilio._token_input('platform', sid, auth_token);
    envelope bytea;
BEGIN
    envelope := twilio._verified_envelope('platform', sid, token, conv, msg, num);
    INSERT INTO twilio.platform_account AS p (singleton, account_sid, auth_token_envelope,
                                              conversations_service_sid, messaging_service_sid, sms_number,
                                              fallback_enabled, verified_at)
    VALUES (true, sid, envelope, conv, msg, num, coalesce(fallback_enabled, false), now())
    ON CONFLICT (singleton) DO UPDATE
        SET account_sid = EXCLUDED.account_sid, auth_token_envelope = EXCLUDED.auth_token_envelope,
            conversations_service_sid = EXCLUDED.conversations_service_sid,
            messaging_service_sid = EXCLUDED.messaging_service_sid, sms_number = EXCLUDED.sms_number,
            fallback_enabled = EXCLUDED.fallback_enabled, verified_at = EXCLUDED.verified_at;
END
$$;

CREATE FUNCTION twilio.set_platform_fallback(enabled boolean) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF enabled IS NULL THEN
        RAISE EXCEPTION 'enabled must be true or false, not NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    UPDATE twilio.platform_account SET fallback_enabled = enabled;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no platform account is set' USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Call twilio.set_platform_account(...) first.';
    END IF;
END
$$;

CREATE FUNCTION twilio.get_platform_account()
    RETURNS TABLE (account_sid text, conversations_service_sid text, messaging_service_sid text, sms_number text,
                   fallback_enabled boolean, auth_token_masked text, verified_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT p.account_sid, p.conversations_service_sid, p.messaging_service_sid, p.sms_number, p.fallback_enabled,
           twilio._mask_or_null('platform', p.account_sid, p.auth_token_envelope), p.verified_at
      FROM twilio.platform_account p
$$;

CREATE FUNCTION twilio.clear_platform_account() RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM twilio.platform_account;
    RETURN FOUND;
END
$$;

-- Key rotation: re-encrypt every stored token under the newest key (first in byo_twilio.encryption_key).
CREATE FUNCTION twilio.rotate_encryption_keys() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    newest text := (twilio._encryption_key_ids())[1];
    n integer := 0;
    k integer;
BEGIN
    IF newest IS NULL THEN
        RAISE EXCEPTION 'no encryption key is configured' USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Set byo_twilio.encryption_key (or byo_twilio.encryption_key_file) in postgresql.conf and reload.';
    END IF;
    UPDATE twilio.user_settings s
       SET auth_token_envelope = twilio._reseal_token(s.user_id::text, s.account_sid, s.auth_token_envelope)
     WHERE twilio._envelope_key_id(s.auth_token_envelope) <> newest;
    GET DIAGNOSTICS k = ROW_COUNT;
    n := n + k;
    UPDATE twilio.platform_account p
       SET auth_token_envelope = twilio._reseal_token('platform', p.account_sid, p.auth_token_envelope)
     WHERE twilio._envelope_key_id(p.auth_token_envelope) <> newest;
    GET DIAGNOSTICS k = ROW_COUNT;
    RETURN n + k;
END
$$;

-- Which key ids are configured and how many tokens each encrypts (never key material).
CREATE FUNCTION twilio.encryption_status()
    RETURNS TABLE (key_id text, is_current boolean, configured boolean, tokens bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH configured AS (
        SELECT k.id, k.ord FROM unnest(twilio._encryption_key_ids()) WITH ORDINALITY AS k(id, ord)
    ), used AS (
        SELECT twilio._envelope_key_id(auth_token_envelope) AS id FROM twilio.user_settings
        UNION ALL
        SELECT twilio._envelope_key_id(auth_token_envelope) FROM twilio.platform_account
    )
    SELECT coalesce(c.id, u.id), coalesce(c.ord = 1, false), c.id IS NOT NULL, count(u.id)
      FROM configured c FULL JOIN used u ON u.id = c.id
     GROUP BY coalesce(c.id, u.id), c.ord, c.id
     ORDER BY c.ord NULLS LAST, 1
$$;

------------------------------------------------------------------------------------------------------------------
-- Outbound: conversations, messages, opt-outs and the transactional outbox the dispatcher drains.
-- Rows are written in the caller's transaction: roll back and nothing is sent; commit and the dispatcher wakes.
------------------------------------------------------------------------------------------------------------------

CREATE FUNCTION twilio._sms_segments(body text, OUT segments integer, OUT encoding text)
    AS 'MODULE_PATHNAME', 'byo_sms_segments' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION twilio._wake_dispatcher_on_commit() RETURNS trigger
    AS 'MODULE_PATHNAME', 'byo_wake_dispatcher_on_commit' LANGUAGE C;

-- Numbers a user may no longer text: STOP replies, Twilio's 21610, or added by hand.
CREATE TABLE twilio.opt_outs (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    phone text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{1,14}$'),
    source text NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'keyword', 'twilio_21610')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, phone)
);

CREATE TABLE twilio.conversations (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT twilio._uuid_v7(),  -- time-ordered: inserts append to the index
    lead_id uuid,  -- NULL for a skeleton conversation learnt from a webhook
    phone text CHECK (phone ~ '^\+[1-9][0-9]{1,14}$'),
    friendly_name text,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'failed')),
    twilio_sid text CHECK (twilio_sid ~ '^CH[0-9a-fA-F]{32}$'),
    participant_sid text,
    account_sid text,
    service_sid text,
    proxy_address text,
    error_code integer,
    error_message text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    UNIQUE (user_id, lead_id)
);

CREATE TABLE twilio.messages (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT twilio._uuid_v7(),  -- time-ordered: inserts append to the index
    conversation_id uuid,
    channel text NOT NULL CHECK (channel IN ('conversation', 'sms')),
    direction text NOT NULL DEFAULT 'outbound' CHECK (direction IN ('outbound', 'inbound')),
    to_number text,
    from_number text,
    body text NOT NULL,
    status text NOT NULL DEFAULT 'queued'
        -- Twilio's MessageStatus values, plus 'unknown': sent or not, we could not tell (docs/delivery.md).
        CHECK (status IN ('queued', 'sending', 'accepted', 'scheduled', 'sent', 'delivered', 'partially_delivered',
                          'read', 'undelivered', 'failed', 'canceled', 'receiving', 'received', 'unknown')),
    twilio_sid text,
    error_code integer,
    error_message text,
    segments integer NOT NULL DEFAULT 1,
    encoding text NOT NULL DEFAULT 'GSM-7',
    account_sid text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    FOREIGN KEY (user_id, conversation_id) REFERENCES twilio.conversations (user_id, id) ON DELETE CASCADE
);
CREATE INDEX messages_conversation ON twilio.messages (user_id, conversation_id, created_at);
CREATE UNIQUE INDEX messages_twilio_sid ON twilio.messages (user_id, twilio_sid);
CREATE INDEX conversations_twilio_sid ON twilio.conversations (user_id, twilio_sid);

-- One row per Twilio request to make. Logged (unlike pg_net's queue): committed work survives a crash.
-- state: pending (due at not_before) -> in_flight (claimed, HTTP running) -> done | failed, or ambiguous
-- (Twilio may have acted: reconciled before anything is resent). See docs/delivery.md.
CREATE TABLE twilio.outbox (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    id bigint GENERATED ALWAYS AS IDENTITY,
    kind text NOT NULL CHECK (kind IN ('create_conversation', 'send_conversation_message', 'send_sms', 'create_call')),
    conversation_id uuid,
    message_id uuid,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'in_flight', 'done', 'failed', 'ambiguous')),
    attempts integer NOT NULL DEFAULT 0,
    not_before timestamptz NOT NULL DEFAULT now(),
    claimed_at timestamptz,
    finished_at timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    call_id uuid,  -- create_call: the agent leg's twilio.voice_calls row
    PRIMARY KEY (user_id, id)
);
CREATE INDEX outbox_due ON twilio.outbox (not_before, id) WHERE state IN ('pending', 'ambiguous');
CREATE INDEX outbox_open_in_order ON twilio.outbox (id) WHERE state IN ('pending', 'ambiguous');
-- Only conversation jobs: an index covering every open job lures the planner into walking all of a user's open
-- jobs for a single-row update by primary key (seen in docs/benchmarks.md with stale statistics).
CREATE INDEX outbox_open_per_conversation ON twilio.outbox (user_id, conversation_id, id)
    WHERE state IN ('pending', 'in_flight', 'ambiguous') AND conversation_id IS NOT NULL;
CREATE TRIGGER outbox_wake_dispatcher AFTER INSERT ON twilio.outbox
    FOR EACH STATEMENT EXECUTE FUNCTION twilio._wake_dispatcher_on_commit();

CREATE TRIGGER conversations_updated_at BEFORE UPDATE ON twilio.conversations
    FOR EACH ROW EXECUTE FUNCTION twilio._touch_updated_at();
CREATE TRIGGER messages_updated_at BEFORE UPDATE ON twilio.messages
    FOR EACH ROW EXECUTE FUNCTION twilio._touch_updated_at();

SELECT pg_catalog.pg_extension_config_dump('twilio.opt_outs', '');
SELECT pg_catalog.pg_extension_config_dump('twilio.conversations', '');
SELECT pg_catalog.pg_extension_config_dump('twilio.messages', '');
SELECT pg_catalog.pg_extension_config_dump('twilio.outbox', '');

-- Owner-only visibility. Writes go through the functions below (and the dispatcher), except opt-outs, which a
-- user may also manage by hand.
ALTER TABLE twilio.opt_outs ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio.conversations ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio.messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio.outbox ENABLE ROW LEVEL SECURITY;
CREATE POLICY opt_outs_select_own ON twilio.opt_outs FOR SELECT TO authenticated USING (user_id = auth.uid());
-- A user may add and remove their own manual entries; a recipient's STOP (or Twilio's 21610) is lifted only by
-- the recipient texting START.
CREATE POLICY opt_outs_insert_own ON twilio.opt_outs FOR INSERT TO authenticated
    WITH CHECK (user_id = auth.uid() AND source = 'manual');
CREATE POLICY opt_outs_delete_own_manual ON twilio.opt_outs FOR DELETE TO authenticated
    USING (user_id = auth.uid() AND source = 'manual');
CREATE POLICY conversations_select_own ON twilio.conversations FOR SELECT TO authenticated
    USING (user_id = auth.uid());
CREATE POLICY messages_select_own ON twilio.messages FOR SELECT TO authenticated USING (user_id = auth.uid());
CREATE POLICY outbox_select_own ON twilio.outbox FOR SELECT TO authenticated USING (user_id = auth.uid());

REVOKE ALL ON twilio.opt_outs, twilio.conversations, twilio.messages, twilio.outbox FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON twilio.opt_outs TO authenticated;
GRANT SELECT ON twilio.conversations, twilio.messages, twilio.outbox TO authenticated, service_role;
GRANT SELECT, INSERT, DELETE ON twilio.opt_outs TO service_role;

------------------------------------------------------------------------------------------------------------------
-- Enqueueing (SQL API)
------------------------------------------------------------------------------------------------------------------

-- The caller's sending account, or a clear error: not connected (and no fallback), or disabled.
CREATE FUNCTION twilio._require_sender(uid uuid) RETURNS SETOF twilio._sender_config
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT * FROM twilio._resolve_config(uid);
    IF FOUND THEN
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM twilio.user_settings s WHERE s.user_id = uid AND s.status = 'disabled') THEN
        RAISE EXCEPTION 'your Twilio settings are disabled' USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Set twilio.user_settings.status back to ''active'' to send again.';
    END IF;
    RAISE EXCEPTION 'no Twilio account connected' USING ERRCODE = 'object_not_in_prerequisite_state',
        HINT = 'Connect one with twilio.save_settings(...).';
END
$$;

-- '+' and 2-15 digits, the first not 0 (the table CHECKs spell the same pattern out).
CREATE FUNCTION twilio._is_e164(value text) RETURNS boolean
LANGUAGE sql IMMUTABLE
-- A SQL-standard body is parsed when created (no search_path to pin) and can be inlined by the planner.
RETURN coalesce(value ~ '^\+[1-9][0-9]{1,14}$', false);

CREATE FUNCTION twilio._require_e164(field text, value text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT twilio._is_e164(value) THEN
        RAISE EXCEPTION '% must be an E.164 phone number: ''+'', country code and number, digits only', field
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example +14155550123.';
    END IF;
    RETURN value;
END
$$;

-- Twilio accepts up to 1600 characters per message.
CREATE FUNCTION twilio._require_body(body text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF body IS NULL OR body !~ '\S' THEN  -- only whitespace (tabs and newlines too) is empty
        RAISE EXCEPTION 'message body is empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF char_length(body) > 1600 THEN
        RAISE EXCEPTION 'message body has % characters; Twilio accepts at most 1600', char_length(body)
            USING ERRCODE = 'string_data_right_truncation';
    END IF;
    RETURN body;
END
$$;

CREATE FUNCTION twilio._require_not_opted_out(uid uuid, phone text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM twilio.opt_outs o WHERE o.user_id = uid AND o.phone = _require_not_opted_out.phone) THEN
        RAISE EXCEPTION 'the recipient % has opted out of your messages', phone
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'They must text START to opt back in; see twilio.opt_outs.';
    END IF;
END
$$;

-- (drips) The enqueue bodies take the user as a parameter so that twilio.drip_tick (60_drips.sql), which runs for
-- many users outside any JWT, enqueues exactly as the public functions below do; those pass auth.uid().
CREATE FUNCTION twilio._conversation_for_lead(uid uuid, lead_id uuid, phone text, friendly_name text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    sender record;
    conv twilio.conversations;
BEGIN
    IF lead_id IS NULL THEN
        RAISE EXCEPTION 'lead_id is required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM twilio._require_e164('phone', phone);
    SELECT * INTO sender FROM twilio._require_sender(uid);
    IF sender.conversations_service_sid IS NULL OR sender.sms_number IS NULL THEN
        RAISE EXCEPTION 'your Twilio settings have no Conversations service or SMS number'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Save settings with conversations_service_sid and sms_number.';
    END IF;
    SELECT * INTO conv FROM twilio.conversations c WHERE c.user_id = uid AND c.lead_id = lead_id FOR UPDATE;
    IF FOUND THEN
        IF conv.status = 'failed' THEN  -- try again, from the start
            UPDATE twilio.conversations c SET status = 'pending', error_code = NULL, error_message = NULL,
                   twilio_sid = NULL, participant_sid = NULL
             WHERE c.user_id = uid AND c.id = conv.id;
            INSERT INTO twilio.outbox (user_id, kind, conversation_id) VALUES (uid, 'create_conversation', conv.id);
        END IF;
        RETURN conv.id;
    END IF;
    INSERT INTO twilio.conversations (user_id, lead_id, phone, friendly_name, account_sid, service_sid, proxy_address)
    VALUES (uid, lead_id, phone, coalesce(friendly_name, phone), sender.account_sid,
            sender.conversations_service_sid, sender.sms_number)
    RETURNING * INTO conv;
    INSERT INTO twilio.outbox (user_id, kind, conversation_id) VALUES (uid, 'create_conversation', conv.id);
    RETURN conv.id;
END
$$;
CREATE FUNCTION twilio.get_or_create_conversation_for_lead(lead_id uuid, phone text, friendly_name text DEFAULT NULL)
    RETURNS uuid
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN twilio._conversation_for_lead(twilio._require_user(), lead_id, phone, friendly_name);
COMMENT ON FUNCTION twilio.get_or_create_conversation_for_lead(uuid, text, text) IS
    'The caller''s conversation for a lead: created here at once, and at Twilio by the dispatcher after commit';

CREATE FUNCTION twilio._enqueue_conversation_message(uid uuid, conversation_id uuid, body text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    conv twilio.conversations;
    seg record;
    msg_id uuid;
BEGIN
    PERFORM twilio._require_body(body);
    PERFORM twilio._require_sender(uid);
    SELECT * INTO conv FROM twilio.conversations c WHERE c.user_id = uid AND c.id = conversation_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'conversation % not found', conversation_id USING ERRCODE = 'no_data_found';
    END IF;
    IF conv.status = 'failed' THEN
        RAISE EXCEPTION 'conversation % could not be created at Twilio: %', conversation_id, conv.error_message
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call twilio.get_or_create_conversation_for_lead(...) again to retry.';
    END IF;
    PERFORM twilio._require_not_opted_out(uid, conv.phone);
    seg := twilio._sms_segments(body);
    INSERT INTO twilio.messages (user_id, conversation_id, channel, to_number, from_number, body, segments,
                                 encoding, account_sid)
    VALUES (uid, conv.id, 'conversation', conv.phone, conv.proxy_address, body, seg.segments, seg.encoding,
            conv.account_sid)
    RETURNING id INTO msg_id;
    INSERT INTO twilio.outbox (user_id, kind, conversation_id, message_id)
    VALUES (uid, 'send_conversation_message', conv.id, msg_id);
    RETURN msg_id;
END
$$;

CREATE FUNCTION twilio.send_conversation_message(conversation_id uuid, body text) RETURNS uuid
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN twilio._enqueue_conversation_message(twilio._require_user(), conversation_id, body);

CREATE FUNCTION twilio._enqueue_sms(uid uuid, to_number text, body text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    sender record;
    seg record;
    msg_id uuid;
BEGIN
    PERFORM twilio._require_e164('to_number', to_number);
    PERFORM twilio._require_body(body);
    SELECT * INTO sender FROM twilio._require_sender(uid);
    IF sender.messaging_service_sid IS NULL THEN
        RAISE EXCEPTION 'your Twilio settings have no Messaging service' USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Save settings with messaging_service_sid.';
    END IF;
    PERFORM twilio._require_not_opted_out(uid, to_number);
    seg := twilio._sms_segments(body);
    INSERT INTO twilio.messages (user_id, channel, to_number, from_number, body, segments, encoding, account_sid)
    VALUES (uid, 'sms', to_number, sender.sms_number, body, seg.segments, seg.encoding, sender.account_sid)
    RETURNING id INTO msg_id;
    INSERT INTO twilio.outbox (user_id, kind, message_id) VALUES (uid, 'send_sms', msg_id);
    RETURN msg_id;
END
$$;

CREATE FUNCTION twilio.send_sms(to_number text, body text) RETURNS uuid
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN twilio._enqueue_sms(twilio._require_user(), to_number, body);
------------------------------------------------------------------------------------------------------------------
-- The dispatcher's side of the outbox (internal; run by the background worker as the bootstrap superuser).
-- Each call is its own short transaction; HTTP happens between them with no transaction open.
------------------------------------------------------------------------------------------------------------------

-- Claims up to max_rows due jobs: only the oldest open job of each conversation (messages go out in order, after
-- the conversation exists), rows other workers hold are skipped. Returns what the requests need; for a call, its
-- agent leg (call_to = the agent, call_from = the caller id) and, when a lookup follows an ambiguous create, the
-- SIDs of the user's other recent calls (space-separated), which the lookup must not mistake for this one.
CREATE FUNCTION twilio._claim_outbox(max_rows integer)
    RETURNS TABLE (user_id uuid, id bigint, kind text, prior_state text, attempts integer, claimed_at timestamptz,
                   source text, owner text, account_sid text, auth_token_envelope bytea,
                   conversations_service_sid text, messaging_service_sid text, sms_number text, webhook_key text,
                   max_segments_per_second real, conversation_id uuid, conversation_status text,
                   conversation_sid text, participant_sid text, phone text, friendly_name text, message_id uuid,
                   body text, to_number text, segments integer, created_at text, call_id uuid, call_to text,
                   call_from text, lead_phone text, call_status text, call_sid text, known_call_sids text)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    WITH claimable AS (
        SELECT o.user_id, o.id, o.state
          FROM twilio.outbox o
         WHERE o.state IN ('pending', 'ambiguous') AND o.not_before <= now()
           -- (SMS jobs have no conversation to wait for; skipping the probe for them keeps the plan linear.)
           AND (o.conversation_id IS NULL
                OR NOT EXISTS (SELECT 1 FROM twilio.outbox e
                                WHERE e.user_id = o.user_id AND e.conversation_id = o.conversation_id
                                  AND e.id < o.id AND e.state IN ('pending', 'in_flight', 'ambiguous')))
         ORDER BY o.id
         LIMIT max_rows
           FOR UPDATE OF o SKIP LOCKED
    ), claimed AS (
        UPDATE twilio.outbox o
           SET state = 'in_flight', claimed_at = now(), attempts = o.attempts + 1
          FROM claimable c
         WHERE o.user_id = c.user_id AND o.id = c.id
     RETURNING o.user_id, o.id, o.kind, c.state AS prior_state, o.attempts, o.claimed_at, o.created_at, o.conversation_id,
               o.message_id, o.call_id
    )
    SELECT c.user_id, c.id, c.kind, c.prior_state, c.attempts, c.claimed_at,
           cfg.source, cfg.owner, cfg.account_sid, cfg.auth_token_envelope,
           coalesce(conv.service_sid, cfg.conversations_service_sid), cfg.messaging_service_sid,
           coalesce(conv.proxy_address, cfg.sms_number), cfg.webhook_key, cfg.max_segments_per_second,
           conv.id, conv.status, conv.twilio_sid, conv.participant_sid, conv.phone, conv.friendly_name,
           m.id, m.body, m.to_number, m.segments,
           to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           vc.id, vc.to_number, vc.from_number, vc.lead_phone, vc.status, vc.call_sid,
           CASE WHEN c.kind = 'create_call' AND c.prior_state = 'ambiguous' THEN
               -- ids are time-ordered: the newest calls by the primary key
               (SELECT string_agg(k.call_sid, ' ')
                  FROM (SELECT k.call_sid FROM twilio.voice_calls k
                         WHERE k.user_id = c.user_id AND k.id <> c.call_id AND k.call_sid IS NOT NULL
                         ORDER BY k.id DESC LIMIT 200) k)
           END
      FROM claimed c
      LEFT JOIN twilio.conversations conv ON conv.user_id = c.user_id AND conv.id = c.conversation_id
      LEFT JOIN twilio.messages m ON m.user_id = c.user_id AND m.id = c.message_id
      LEFT JOIN twilio.voice_calls vc ON vc.user_id = c.user_id AND vc.id = c.call_id
      LEFT JOIN LATERAL twilio._resolve_config(c.user_id) cfg ON true
     ORDER BY c.id
$$;

-- Records what the dispatcher learnt, for a batch of jobs (a JSON array, one object per job):
--   {"user_id", "id", "state": pending|done|failed|ambiguous, "retry_in_ms", "unclaim": bool, "error",
--    "message": {"status", "twilio_sid", "error_code", "error_message"},
--    "conversation": {"status", "twilio_sid", "participant_sid", "error_code", "error_message"},
--    "call": {"status", "twilio_sid", "account_sid", "error_code", "error_message"},
--    "opt_out": "+1..."}
-- A call's status only moves forward (twilio._call_status_rank: the first end wins) and its SID is set once; a
-- call whose job failed for good fails its manual action too.
CREATE FUNCTION twilio._finish_outbox(results jsonb) RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r jsonb;
    uid uuid;
    job twilio.outbox;
    placed twilio.voice_calls;
    n integer := 0;
BEGIN
    FOR r IN SELECT * FROM jsonb_array_elements(results) LOOP
        uid := (r ->> 'user_id')::uuid;
        UPDATE twilio.outbox o
           SET state = r ->> 'state',
               not_before = now() + make_interval(secs => coalesce((r ->> 'retry_in_ms')::double precision, 0) / 1000),
               attempts = o.attempts - CASE WHEN (r ->> 'unclaim')::boolean THEN 1 ELSE 0 END,
               finished_at = CASE WHEN r ->> 'state' IN ('done', 'failed') THEN now() END,
               last_error = r ->> 'error'
         WHERE o.user_id = uid AND o.id = (r ->> 'id')::bigint AND o.state = 'in_flight'
        RETURNING * INTO job;
        CONTINUE WHEN NOT FOUND;
        n := n + 1;
        IF r ? 'message' AND job.message_id IS NOT NULL THEN
            UPDATE twilio.messages m
               SET status = coalesce(r #>> '{message,status}', m.status),
                   twilio_sid = coalesce(r #>> '{message,twilio_sid}', m.twilio_sid),
                   error_code = coalesce((r #>> '{message,error_code}')::integer, m.error_code),
                   error_message = coalesce(r #>> '{message,error_message}', m.error_message),
                   sent_at = CASE WHEN r ->> 'state' = 'done' THEN coalesce(m.sent_at, now()) ELSE m.sent_at END
             WHERE m.user_id = uid AND m.id = job.message_id;
            -- A status callback can beat us to it (it arrives before we recorded the SID): apply it now.
            UPDATE twilio.webhook_events e
               SET effect = 'applied late: ' || twilio._apply_message_status(uid, e.params ->> 'MessageSid',
                                                      e.params ->> 'MessageStatus', e.params ->> 'ErrorCode')
             WHERE e.user_id = uid AND e.kind = 'status' AND e.effect = 'status for an unknown message'
               AND e.params ->> 'MessageSid' = r #>> '{message,twilio_sid}';
        END IF;
        IF r ? 'conversation' AND job.conversation_id IS NOT NULL THEN
            UPDATE twilio.conversations c
               SET status = coalesce(r #>> '{conversation,status}', c.status),
                   twilio_sid = coalesce(r #>> '{conversation,twilio_sid}', c.twilio_sid),
                   participant_sid = coalesce(r #>> '{conversation,participant_sid}', c.participant_sid),
                   error_code = coalesce((r #>> '{conversation,error_code}')::integer, c.error_code),
                   error_message = coalesce(r #>> '{conversation,error_message}', c.error_message)
             WHERE c.user_id = uid AND c.id = job.conversation_id;
        END IF;
        IF r ? 'call' AND job.call_id IS NOT NULL THEN
            UPDATE twilio.voice_calls v
               SET status = CASE WHEN twilio._call_status_rank(r #>> '{call,status}')
                                      > coalesce(twilio._call_status_rank(v.status), -1)
                                 THEN r #>> '{call,status}' ELSE v.status END,
                   call_sid = coalesce(v.call_sid, r #>> '{call,twilio_sid}'),
                   account_sid = coalesce(r #>> '{call,account_sid}', v.account_sid),
                   error_code = coalesce((r #>> '{call,error_code}')::integer, v.error_code),
                   error_message = coalesce(r #>> '{call,error_message}', v.error_message),
                   ended_at = CASE WHEN twilio._call_status_rank(r #>> '{call,status}') = 4
                                   THEN coalesce(v.ended_at, now()) ELSE v.ended_at END,
                   updated_at = now()
             WHERE v.user_id = uid AND v.id = job.call_id
            RETURNING * INTO placed;
            IF r ->> 'state' = 'failed' AND placed.action_id IS NOT NULL THEN
                UPDATE twilio.manual_actions a
                   SET status = 'failed', outcome = 'failed', completed_at = now()
                 WHERE a.user_id = uid AND a.id = placed.action_id AND a.call_id = placed.id
                   AND a.status NOT IN ('done', 'skipped');
            END IF;
            -- Status callbacks that beat us to the SID (held by _apply_call_status), applied now in their order.
            IF placed.call_sid IS NOT NULL AND placed.call_sid = r #>> '{call,twilio_sid}' THEN
                PERFORM twilio._apply_held_call_statuses(uid, placed.call_sid);
            END IF;
        END IF;
        IF r ? 'opt_out' THEN
            INSERT INTO twilio.opt_outs (user_id, phone, source) VALUES (uid, r ->> 'opt_out', 'twilio_21610')
            ON CONFLICT DO NOTHING;
        END IF;
    END LOOP;
    RETURN n;
END
$$;

-- At dispatcher start: jobs a crash left in flight may have reached Twilio, so they are reconciled (looked up),
-- not resent; the lookup waits until reconcile_delay_ms after the claim, so that a request Twilio was still
-- working on when we died has landed before we conclude it never arrived.
CREATE FUNCTION twilio._sweep_outbox(reconcile_delay_ms integer) RETURNS integer
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    WITH swept AS (
        UPDATE twilio.outbox
           SET state = 'ambiguous', last_error = 'in flight when the dispatcher stopped',
               not_before = greatest(now(), coalesce(claimed_at, now()) + make_interval(secs => reconcile_delay_ms / 1000.0))
         WHERE state = 'in_flight' RETURNING 1)
    SELECT count(*)::integer FROM swept
$$;

-- Milliseconds until the next job is due (0 when one is due now), or NULL when nothing waits.
CREATE FUNCTION twilio._next_due_ms() RETURNS double precision
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN min(not_before) IS NOT NULL  -- greatest() would turn "nothing waits" (NULL) into 0
                THEN greatest(0, extract(epoch FROM min(not_before) - clock_timestamp()) * 1000) END
      FROM twilio.outbox WHERE state IN ('pending', 'ambiguous')
$$;

-- Observability: the outbox by state, with the oldest waiting job's age. Under RLS a user sees their own jobs;
-- service_role and superusers see everyone's.
CREATE VIEW twilio.outbox_status WITH (security_invoker = true) AS
    SELECT count(*) FILTER (WHERE state = 'pending') AS backlog,
           count(*) FILTER (WHERE state = 'in_flight') AS in_flight,
           count(*) FILTER (WHERE state = 'ambiguous') AS ambiguous,
           count(*) FILTER (WHERE state = 'done') AS sent,
           count(*) FILTER (WHERE state = 'failed') AS failed,
           now() - min(created_at) FILTER (WHERE state IN ('pending', 'ambiguous')) AS oldest_waiting_age
      FROM twilio.outbox;
GRANT SELECT ON twilio.outbox_status TO authenticated, service_role;

CREATE FUNCTION twilio.dispatcher_pid() RETURNS integer
    AS 'MODULE_PATHNAME', 'byo_dispatcher_pid' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION twilio.dispatcher_pid() IS 'The dispatcher worker''s process id, or NULL when it is not running';
------------------------------------------------------------------------------------------------------------------
-- Inbound: Twilio's webhooks, forwarded by the relay to twilio.handle_webhook (one call each). The tenant is found,
-- the signature checked with that tenant's own token, the event kept raw (idempotently) and routed.
------------------------------------------------------------------------------------------------------------------

-- Every accepted webhook, raw, once: (user_id, dedupe_key) makes Twilio's retries idempotent.
CREATE TABLE twilio.webhook_events (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    id bigint GENERATED ALWAYS AS IDENTITY,
    kind text NOT NULL CHECK (kind IN ('conversations', 'sms', 'status', 'voice_status')),
    event_type text,
    dedupe_key text NOT NULL,
    url text NOT NULL,
    content_type text,
    body text NOT NULL,
    params jsonb NOT NULL,
    effect text,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    UNIQUE (user_id, dedupe_key)
);

-- Calls, one row per leg (docs/dialer.md). twilio.dial writes the agent leg at once, before Twilio has it
-- (call_sid NULL, status 'queued'); the dispatcher fills in the SID; status callbacks move each leg forward and
-- bring the lead leg (the <Dial> child, parent_call_sid set). Callbacks of calls we did not place land as 'other'.
CREATE TABLE twilio.voice_calls (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    call_sid text CHECK (call_sid ~ '^CA[0-9a-fA-F]{32}$'),
    status text NOT NULL,
    from_number text,
    to_number text,
    duration_seconds integer,
    sequence_number integer,
    updated_at timestamptz NOT NULL DEFAULT now(),
    id uuid NOT NULL DEFAULT twilio._uuid_v7(),  -- time-ordered: inserts append to the index
    leg text NOT NULL DEFAULT 'other' CHECK (leg IN ('agent', 'lead', 'other')),
    parent_call_sid text CHECK (parent_call_sid ~ '^CA[0-9a-fA-F]{32}$'),
    action_id uuid,        -- the manual action this call works on (twilio.manual_actions), if any
    lead_phone text,       -- agent leg: the number the bridge dials
    account_sid text,      -- the account the call was placed with
    answered_by text,      -- Twilio's AnsweredBy (machine detection), when sent
    sip_response_code integer,
    error_code integer,
    error_message text,
    created_at timestamptz NOT NULL DEFAULT now(),
    answered_at timestamptz,
    ended_at timestamptz,
    PRIMARY KEY (user_id, id),
    UNIQUE (user_id, call_sid)
);

SELECT pg_catalog.pg_extension_config_dump('twilio.webhook_events', '');
SELECT pg_catalog.pg_extension_config_dump('twilio.voice_calls', '');
ALTER TABLE twilio.webhook_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio.voice_calls ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhook_events_select_own ON twilio.webhook_events FOR SELECT TO authenticated
    USING (user_id = auth.uid());
CREATE POLICY voice_calls_select_own ON twilio.voice_calls FOR SELECT TO authenticated USING (user_id = auth.uid());
REVOKE ALL ON twilio.webhook_events, twilio.voice_calls FROM PUBLIC;
GRANT SELECT ON twilio.webhook_events, twilio.voice_calls TO authenticated, service_role;

-- Statuses only move forward: a late "sent" after "delivered" is logged but does not regress the message
-- (src/core/message_status.cpp, shared with handle_webhook).
CREATE FUNCTION twilio._status_rank(status text) RETURNS integer
    AS 'MODULE_PATHNAME', 'byo_status_rank' LANGUAGE C IMMUTABLE STRICT;
-- Applies a delivery status to one of the user's messages (by Twilio SID); 21610 adds an opt-out; returns what
-- it did (src/pg/message_status.cpp).
CREATE FUNCTION twilio._apply_message_status(uid uuid, sid text, new_status text, new_error_code text) RETURNS text
    AS 'MODULE_PATHNAME', 'byo_apply_message_status' LANGUAGE C VOLATILE;

-- STOP-family keywords (or Twilio's Advanced Opt-Out) add an opt-out; START-family removes it; HELP is noted.
CREATE FUNCTION twilio._opt_keyword(body text, opt_out_type text) RETURNS text
    AS 'MODULE_PATHNAME', 'byo_opt_keyword' LANGUAGE C IMMUTABLE;
CREATE FUNCTION twilio._apply_opt_keywords(uid uuid, phone text, body text, opt_out_type text) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    kind text := twilio._opt_keyword(body, opt_out_type);
BEGIN
    IF kind IS NULL OR NOT twilio._is_e164(phone) THEN
        RETURN NULL;
    END IF;
    IF kind = 'STOP' THEN
        INSERT INTO twilio.opt_outs (user_id, phone, source) VALUES (uid, phone, 'keyword') ON CONFLICT DO NOTHING;
        RETURN 'opted out';
    ELSIF kind = 'START' THEN
        DELETE FROM twilio.opt_outs o
         WHERE o.user_id = uid AND o.phone = _apply_opt_keywords.phone AND o.source <> 'manual';
        RETURN 'opted back in';
    ELSIF kind = 'HELP' THEN
        RETURN 'asked for help';
    END IF;
    RETURN NULL;
END
$$;

-- Each fallback step of handle_webhook's tenant lookup (src/pg/webhook_tenant.cpp) is an index scan, however many
-- users there are.
CREATE INDEX user_settings_conversations_service_sid ON twilio.user_settings (conversations_service_sid);
CREATE INDEX user_settings_messaging_service_sid ON twilio.user_settings (messaging_service_sid);
CREATE INDEX user_settings_sms_number ON twilio.user_settings (sms_number);
CREATE INDEX user_settings_account_sid ON twilio.user_settings (account_sid);
-- Status callbacks of platform-account traffic name no user: their message is found by SID alone (outbound only,
-- so inbound texts do not pay for this index).
CREATE INDEX messages_outbound_twilio_sid ON twilio.messages (twilio_sid) WHERE direction = 'outbound';

-- Applies one accepted voice or Conversations webhook (handle_webhook records inbound texts and status callbacks
-- itself) to the user's tables and says what it did (kept as the event's effect).
CREATE FUNCTION twilio._route_webhook(uid uuid, kind text, p jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    what_happened text;
    conv twilio.conversations;
BEGIN
    IF kind = 'voice_status' THEN
        what_happened := twilio._apply_call_status(uid, p);  -- 71_dialer_calls.sql
    ELSE
        SELECT * INTO conv FROM twilio.conversations c
         WHERE c.user_id = uid AND c.twilio_sid = p ->> 'ConversationSid' ORDER BY c.created_at LIMIT 1;
        IF NOT FOUND AND p ? 'ConversationSid' AND p ->> 'EventType' IN ('onMessageAdded', 'onConversationAdded',
                                                                          'onParticipantAdded') THEN
            -- A conversation we did not create (or have not heard back about): keep a skeleton of it.
            INSERT INTO twilio.conversations (user_id, status, twilio_sid, friendly_name, service_sid, account_sid)
            VALUES (uid, 'active', p ->> 'ConversationSid', p ->> 'FriendlyName', p ->> 'ChatServiceSid',
                    p ->> 'AccountSid')
            RETURNING * INTO conv;
        END IF;
        CASE p ->> 'EventType'
            WHEN 'onMessageAdded' THEN
                IF (p ->> 'Attributes') LIKE '%byo_message_id%' THEN
                    what_happened := 'our own outbound message';
                ELSE
                    INSERT INTO twilio.messages (user_id, conversation_id, channel, direction, from_number, body,
                                                 status, twilio_sid, account_sid)
                    VALUES (uid, conv.id, 'conversation', 'inbound', p ->> 'Author', coalesce(p ->> 'Body', ''),
                            'received', p ->> 'MessageSid', p ->> 'AccountSid')
                    ON CONFLICT (user_id, twilio_sid) DO NOTHING;
                    what_happened := coalesce(twilio._apply_opt_keywords(uid, p ->> 'Author', p ->> 'Body', NULL),
                                              'inbound conversation message');
                END IF;
            WHEN 'onDeliveryUpdated' THEN
                what_happened := twilio._apply_message_status(uid, p ->> 'MessageSid', p ->> 'Status',
                                                              p ->> 'ErrorCode');
            WHEN 'onParticipantAdded' THEN
                UPDATE twilio.conversations c
                   SET participant_sid = coalesce(c.participant_sid, p ->> 'ParticipantSid'),
                       phone = coalesce(c.phone, CASE WHEN twilio._is_e164(p ->> 'MessagingBinding.Address')
                                                      THEN p ->> 'MessagingBinding.Address' END)
                 WHERE c.user_id = uid AND c.id = conv.id;
                what_happened := 'participant added';
            ELSE
                what_happened := coalesce(p ->> 'EventType', 'event') || ' recorded';
        END CASE;
    END IF;
    RETURN what_happened;
END
$$;

-- The relay's one call per webhook (src/pg/fn_webhook.cpp): parse, tenant and signature (src/pg/webhook_tenant.cpp),
-- then the event recorded once with its effect. An inbound text is recorded there in one statement; other kinds
-- go through _route_webhook. (The request's content type and body are named request_*: the result columns take
-- the plain names.)
CREATE FUNCTION twilio.handle_webhook(url text, signature text, request_content_type text, request_body text)
    RETURNS TABLE (status integer, content_type text, body text)
    AS 'MODULE_PATHNAME', 'byo_handle_webhook'
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION twilio.handle_webhook(text, text, text, text) IS
    'One Twilio webhook, as the relay received it: tenant, signature, idempotent record, routing; returns the answer';

-- The relay's call when webhooks queue up (src/pg/fn_webhook.cpp): each one checked and recorded as handle_webhook
-- would, the plain inbound texts among them in one INSERT, all in one transaction; a row per webhook, `item` its
-- 1-based position in the arrays. If the call fails, none of them stays: the relay sends each again on its own.
CREATE FUNCTION twilio.handle_webhooks(urls text[], signatures text[], request_content_types text[],
                                       request_bodies text[])
    RETURNS TABLE (item integer, status integer, content_type text, body text)
    AS 'MODULE_PATHNAME', 'byo_handle_webhooks'
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION twilio.handle_webhooks(text[], text[], text[], text[]) IS
    'Many Twilio webhooks in one transaction, as handle_webhook would take each; one answer row per webhook';
------------------------------------------------------------------------------------------------------------------
-- Drip campaigns (docs/drips.md): campaigns of timed steps, enrollments of contacts, a record of every step sent
-- and per-day rollups. Users write through the functions below; the tick (61_drip_tick.sql) sends.
------------------------------------------------------------------------------------------------------------------

-- Templates are parsed in C++ (src/core/drip_template.cpp): {{name}} and {{name|fallback}}.
CREATE FUNCTION twilio._drip_render(template text, variables jsonb) RETURNS text
    AS 'MODULE_PATHNAME', 'byo_drip_render' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION twilio._drip_required_variables(template text) RETURNS text[]
    AS 'MODULE_PATHNAME', 'byo_drip_required_variables' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- An IANA zone ("Area/Location", or UTC). Abbreviations (PST) and POSIX strings are refused: they have no DST rules.
CREATE FUNCTION twilio._require_time_zone(tz text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF tz IS NULL OR tz !~ '^([A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)+|UTC)$' THEN
        RAISE EXCEPTION 'time zone % is not an IANA time zone name', coalesce(quote_literal(tz), 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example America/New_York or Europe/Paris.';
    END IF;
    BEGIN
        PERFORM now() AT TIME ZONE tz;
    EXCEPTION WHEN invalid_parameter_value THEN
        RAISE EXCEPTION 'unknown time zone %', quote_literal(tz)
            USING ERRCODE = 'invalid_parameter_value', HINT = 'See pg_timezone_names for the known IANA names.';
    END;
    RETURN tz;
END
$$;

CREATE TABLE twilio.campaigns (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT twilio._uuid_v7(),
    name text NOT NULL CHECK (btrim(name) <> '' AND char_length(name) <= 200),
    status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'paused', 'archived')),
    channel text NOT NULL DEFAULT 'sms' CHECK (channel IN ('sms', 'conversation')),
    -- Used for enrollments made without a time zone.
    time_zone text NOT NULL DEFAULT 'UTC' CHECK (time_zone ~ '^([A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)+|UTC)$'),
    -- Local quiet window [quiet_start, quiet_end), wrapping midnight when start > end; quiet_days (ISO, 1 = Monday)
    -- are quiet all day. A step due then waits for the next allowed local time.
    quiet_start time,
    quiet_end time,
    quiet_days integer[] NOT NULL DEFAULT '{}' CHECK (quiet_days <@ '{1,2,3,4,5,6,7}' AND cardinality(quiet_days) < 7),
    stop_on_reply boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    CONSTRAINT campaigns_quiet_window CHECK ((quiet_start IS NULL AND quiet_end IS NULL)
                                             OR (quiet_start IS NOT NULL AND quiet_end IS NOT NULL
                                                 AND quiet_start <> quiet_end))
);

CREATE TABLE twilio.campaign_steps (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT twilio._uuid_v7(),
    campaign_id uuid NOT NULL,
    position integer NOT NULL CHECK (position BETWEEN 1 AND 1000),
    -- When: a delay after the previous step was sent (after enrolling, for the first step), or a local time of
    -- day on day N after enrolling (day 0 is the day of enrolling).
    delay interval CHECK (delay >= interval '0'),
    on_day integer CHECK (on_day BETWEEN 0 AND 3650),
    at_local_time time,
    body_template text NOT NULL CHECK (btrim(body_template) <> '' AND char_length(body_template) <= 1600),
    -- NULL: the campaign's. 'manual_call' queues a call for the user (twilio.manual_actions) instead of a text.
    channel text CHECK (channel IN ('sms', 'conversation', 'manual_call')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    UNIQUE (user_id, campaign_id, position),
    FOREIGN KEY (user_id, campaign_id) REFERENCES twilio.campaigns (user_id, id) ON DELETE CASCADE,
    CONSTRAINT campaign_steps_timing CHECK ((delay IS NOT NULL AND on_day IS NULL AND at_local_time IS NULL)
                                            OR (delay IS NULL AND on_day IS NOT NULL AND at_local_time IS NOT NULL))
);

-- status: active (next_run_at set) | paused (pause_reason) | completed | stopped (stop_reason).
CREATE TABLE twilio.enrollments (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT twilio._uuid_v7(),
    campaign_id uuid NOT NULL,
    lead_id uuid,
    phone text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{1,14}$'),
    time_zone text NOT NULL CHECK (time_zone ~ '^([A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)+|UTC)$'),
    variables jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(variables) = 'object'),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'completed', 'stopped')),
    pause_reason text CHECK (pause_reason IN ('paused', 'campaign_paused', 'campaign_draft')),
    stop_reason text CHECK (stop_reason IN ('replied', 'opted_out', 'unenrolled', 'failed', 'campaign_archived')),
    last_position integer NOT NULL DEFAULT 0,      -- position of the last step sent; 0 before the first
    anchor_at timestamptz NOT NULL DEFAULT now(),  -- the last send (or enrolling): the next delay counts from it
    next_run_at timestamptz,                       -- when the tick looks at it next
    hold_reason text,  -- why an active enrollment waits past its step's time (quiet hours, no Twilio account)
    last_error text,   -- why it failed (stop_reason failed)
    enrolled_at timestamptz NOT NULL DEFAULT now(),
    last_sent_at timestamptz,
    finished_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    FOREIGN KEY (user_id, campaign_id) REFERENCES twilio.campaigns (user_id, id) ON DELETE CASCADE,
    CONSTRAINT enrollments_state CHECK ((status = 'active') = (next_run_at IS NOT NULL)
                                        AND (status = 'paused') = (pause_reason IS NOT NULL)
                                        AND (status = 'stopped') = (stop_reason IS NOT NULL))
);
-- One ongoing enrollment per campaign and phone; also finds a phone's enrollments when it replies or opts out.
CREATE UNIQUE INDEX enrollments_ongoing ON twilio.enrollments (user_id, phone, campaign_id)
    WHERE status IN ('active', 'paused');
-- The tick reads only due rows: its cost follows them, not the enrolled total.
CREATE INDEX enrollments_due ON twilio.enrollments (next_run_at) WHERE status = 'active';
CREATE INDEX enrollments_campaign ON twilio.enrollments (user_id, campaign_id);

-- Each step sent, once ever per enrollment (the primary key), with its message and how it fared.
-- No foreign keys: only the drip tick writes here, for an enrollment it holds locked, and a key check per row
-- would cost the tick more than any of its other work per message. The enrollment's deletion (with its campaign
-- or its user) removes these rows instead (trigger enrollments_drop_sends).
CREATE TABLE twilio.enrollment_sends (
    user_id uuid NOT NULL,
    enrollment_id uuid NOT NULL,
    step_id uuid NOT NULL,  -- no foreign key: a sent step stays on record when the step is deleted
    campaign_id uuid NOT NULL,
    position integer NOT NULL,
    message_id uuid NOT NULL,
    phone text NOT NULL,
    segments integer NOT NULL,
    day date NOT NULL,  -- UTC day of the send: the analytics row its outcomes count in
    outcome text NOT NULL DEFAULT 'pending' CHECK (outcome IN ('pending', 'delivered', 'failed')),
    replied_at timestamptz,
    opted_out_at timestamptz,
    sent_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, enrollment_id, step_id),
    UNIQUE (user_id, message_id)
);
CREATE INDEX enrollment_sends_phone ON twilio.enrollment_sends (user_id, phone, sent_at);

-- Per day, campaign and step, kept up to date as events land (62_drip_analytics.sql): analytics reads these.
CREATE TABLE twilio.campaign_stats_daily (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    campaign_id uuid NOT NULL,
    day date NOT NULL,
    step_id uuid NOT NULL,
    position integer NOT NULL,
    sent integer NOT NULL DEFAULT 0,
    delivered integer NOT NULL DEFAULT 0,
    failed integer NOT NULL DEFAULT 0,  -- failed or undelivered
    replies integer NOT NULL DEFAULT 0,
    opt_outs integer NOT NULL DEFAULT 0,
    segments bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, campaign_id, day, step_id),
    FOREIGN KEY (user_id, campaign_id) REFERENCES twilio.campaigns (user_id, id) ON DELETE CASCADE
);
CREATE INDEX campaign_stats_daily_day ON twilio.campaign_stats_daily (user_id, day);

CREATE TRIGGER campaigns_updated_at BEFORE UPDATE ON twilio.campaigns
    FOR EACH ROW EXECUTE FUNCTION twilio._touch_updated_at();
CREATE TRIGGER campaign_steps_updated_at BEFORE UPDATE ON twilio.campaign_steps
    FOR EACH ROW EXECUTE FUNCTION twilio._touch_updated_at();
-- What ON DELETE CASCADE from enrollment_sends would do, once per statement.
CREATE FUNCTION twilio._drip_drop_sends() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM twilio.enrollment_sends s USING old_enrollments o
     WHERE s.user_id = o.user_id AND s.enrollment_id = o.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER enrollments_drop_sends AFTER DELETE ON twilio.enrollments
    REFERENCING OLD TABLE AS old_enrollments FOR EACH STATEMENT EXECUTE FUNCTION twilio._drip_drop_sends();
-- The drip tick sets updated_at itself: no trigger call per row it advances.
CREATE TRIGGER enrollments_updated_at BEFORE UPDATE ON twilio.enrollments
    FOR EACH ROW WHEN (OLD.updated_at IS NOT DISTINCT FROM NEW.updated_at)
    EXECUTE FUNCTION twilio._touch_updated_at();

SELECT pg_catalog.pg_extension_config_dump('twilio.campaigns', '');
SELECT pg_catalog.pg_extension_config_dump('twilio.campaign_steps', '');
SELECT pg_catalog.pg_extension_config_dump('twilio.enrollments', '');
SELECT pg_catalog.pg_extension_config_dump('twilio.enrollment_sends', '');
SELECT pg_catalog.pg_extension_config_dump('twilio.campaign_stats_daily', '');

-- Owner-only reads; every write goes through the functions (which check what a CHECK cannot: templates, zones).
ALTER TABLE twilio.campaigns ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio.campaign_steps ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio.enrollments ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio.enrollment_sends ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio.campaign_stats_daily ENABLE ROW LEVEL SECURITY;
CREATE POLICY campaigns_select_own ON twilio.campaigns FOR SELECT TO authenticated USING (user_id = auth.uid());
CREATE POLICY campaign_steps_select_own ON twilio.campaign_steps FOR SELECT TO authenticated
    USING (user_id = auth.uid());
CREATE POLICY enrollments_select_own ON twilio.enrollments FOR SELECT TO authenticated USING (user_id = auth.uid());
CREATE POLICY enrollment_sends_select_own ON twilio.enrollment_sends FOR SELECT TO authenticated
    USING (user_id = auth.uid());
CREATE POLICY campaign_stats_daily_select_own ON twilio.campaign_stats_daily FOR SELECT TO authenticated
    USING (user_id = auth.uid());
REVOKE ALL ON twilio.campaigns, twilio.campaign_steps, twilio.enrollments, twilio.enrollment_sends,
              twilio.campaign_stats_daily FROM PUBLIC;
GRANT SELECT ON twilio.campaigns, twilio.campaign_steps, twilio.enrollments, twilio.enrollment_sends,
                twilio.campaign_stats_daily TO authenticated, service_role;

------------------------------------------------------------------------------------------------------------------
-- When a step may go out
------------------------------------------------------------------------------------------------------------------

-- t + delay as PostgreSQL adds them with TimeZone = tz: months and days move the local calendar (so "1 day" keeps
-- the wall-clock time across a DST change), hours and smaller are elapsed time.
-- A SQL-standard body (bound when created, so no search_path to pin) keeps the per-row cost low in the tick.
CREATE FUNCTION twilio._drip_add(t timestamptz, delay interval, tz text) RETURNS timestamptz
LANGUAGE sql IMMUTABLE
RETURN ((t AT TIME ZONE tz) + make_interval(months => (extract(year FROM delay) * 12 + extract(month FROM delay))::integer,
                                            days => extract(day FROM delay)::integer)) AT TIME ZONE tz
       + (delay - make_interval(months => (extract(year FROM delay) * 12 + extract(month FROM delay))::integer,
                                days => extract(day FROM delay)::integer));

-- The first moment at or after t outside the campaign's quiet hours, on local wall-clock time in tz (so it
-- follows DST changes). A local time a DST change skips maps forward, as PostgreSQL's AT TIME ZONE does.
CREATE FUNCTION twilio._drip_allowed_at(t timestamptz, tz text, quiet_start time, quiet_end time,
                                        quiet_days integer[]) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    local timestamp := t AT TIME ZONE tz;
    moved boolean := false;
BEGIN
    -- Each pass moves past one quiet day or one quiet window: at most 6 quiet days, each with a window.
    FOR i IN 1..16 LOOP
        IF extract(isodow FROM local)::integer = ANY (quiet_days) THEN
            local := local::date + 1;
        ELSIF quiet_start < quiet_end AND local::time >= quiet_start AND local::time < quiet_end THEN
            local := local::date + quiet_end;
        ELSIF quiet_start > quiet_end AND local::time >= quiet_start THEN
            local := local::date + 1 + quiet_end;
        ELSIF quiet_start > quiet_end AND local::time < quiet_end THEN
            local := local::date + quiet_end;
        ELSE
            EXIT;
        END IF;
        moved := true;
    END LOOP;
    RETURN CASE WHEN moved THEN local AT TIME ZONE tz ELSE t END;
END
$$;

-- When the enrollment's next step (the first after last_position) may go out, and whether quiet hours moved it;
-- no row when no step is left.
-- A SQL-standard body, without settings, so that the planner inlines it into the tick's statement instead of
-- starting a function executor for each enrollment.
CREATE FUNCTION twilio._drip_plan(e twilio.enrollments, c twilio.campaigns,
                                  OUT step_id uuid, OUT due_at timestamptz, OUT allowed_at timestamptz)
    RETURNS SETOF record
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT s.id, d.due, twilio._drip_allowed_at(d.due, e.time_zone, c.quiet_start, c.quiet_end, c.quiet_days)
      FROM (SELECT * FROM twilio.campaign_steps s
             WHERE s.user_id = e.user_id AND s.campaign_id = e.campaign_id AND s.position > e.last_position
             ORDER BY s.position LIMIT 1) s
     CROSS JOIN LATERAL (
        SELECT CASE WHEN s.delay IS NOT NULL THEN twilio._drip_add(e.anchor_at, s.delay, e.time_zone)
                    ELSE greatest(e.anchor_at, ((e.enrolled_at AT TIME ZONE e.time_zone)::date + s.on_day
                                                + s.at_local_time) AT TIME ZONE e.time_zone) END AS due) d;
END;

-- Plans the active enrollments of a campaign (or one of them) after enrolling, resuming, or a change of its steps
-- or quiet hours; with no step left, due now, so that the next tick completes them.
CREATE FUNCTION twilio._drip_replan(uid uuid, cid uuid, eid uuid DEFAULT NULL) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    UPDATE twilio.enrollments e
       SET next_run_at = coalesce((SELECT p.allowed_at FROM twilio._drip_plan(e, c) p), now()),
           hold_reason = (SELECT CASE WHEN p.allowed_at > p.due_at THEN 'quiet hours' END
                            FROM twilio._drip_plan(e, c) p)
      FROM twilio.campaigns c
     WHERE e.user_id = uid AND e.campaign_id = cid AND e.status = 'active' AND (eid IS NULL OR e.id = eid)
       AND c.user_id = uid AND c.id = cid
$$;
------------------------------------------------------------------------------------------------------------------
-- Drip campaigns: the SQL API, as the calling user (auth.uid()); every function acts on the caller's rows only.
------------------------------------------------------------------------------------------------------------------

CREATE FUNCTION twilio._require_campaign(uid uuid, cid uuid) RETURNS twilio.campaigns
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c twilio.campaigns;
BEGIN
    SELECT * INTO c FROM twilio.campaigns x WHERE x.user_id = uid AND x.id = cid FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'campaign not found' USING ERRCODE = 'no_data_found';
    END IF;
    RETURN c;
END
$$;

CREATE FUNCTION twilio._require_channel(channel text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF channel IS NULL OR channel NOT IN ('sms', 'conversation') THEN
        RAISE EXCEPTION 'channel must be ''sms'' or ''conversation''' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN channel;
END
$$;

CREATE FUNCTION twilio.create_campaign(name text, channel text DEFAULT 'sms', time_zone text DEFAULT 'UTC',
                                       stop_on_reply boolean DEFAULT true) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    cid uuid;
BEGIN
    IF name IS NULL OR btrim(name) = '' OR char_length(name) > 200 THEN
        RAISE EXCEPTION 'campaign name must have 1 to 200 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO twilio.campaigns (user_id, name, channel, time_zone, stop_on_reply)
    VALUES (uid, btrim(name), twilio._require_channel(channel), twilio._require_time_zone(time_zone),
            coalesce(stop_on_reply, true))
    RETURNING id INTO cid;
    RETURN cid;
END
$$;
COMMENT ON FUNCTION twilio.create_campaign(text, text, text, boolean) IS
    'A new draft campaign of the caller''s; add steps, then activate_campaign';

-- NULL leaves a setting as it is.
CREATE FUNCTION twilio.update_campaign(campaign_id uuid, name text DEFAULT NULL, channel text DEFAULT NULL,
                                       time_zone text DEFAULT NULL, stop_on_reply boolean DEFAULT NULL)
    RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    c twilio.campaigns := twilio._require_campaign(uid, campaign_id);
BEGIN
    IF name IS NOT NULL AND (btrim(name) = '' OR char_length(name) > 200) THEN
        RAISE EXCEPTION 'campaign name must have 1 to 200 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE twilio.campaigns x
       SET name = coalesce(btrim(name), x.name),
           channel = CASE WHEN channel IS NULL THEN x.channel ELSE twilio._require_channel(channel) END,
           time_zone = CASE WHEN time_zone IS NULL THEN x.time_zone ELSE twilio._require_time_zone(time_zone) END,
           stop_on_reply = coalesce(stop_on_reply, x.stop_on_reply)
     WHERE x.user_id = uid AND x.id = c.id;
END
$$;

-- Quiet hours: no texts between quiet_start and quiet_end (local to each contact; NULL for none), nor on
-- quiet_days (ISO day numbers, 1 = Monday).
CREATE FUNCTION twilio.set_quiet_hours(campaign_id uuid, quiet_start time, quiet_end time,
                                       quiet_days integer[] DEFAULT '{}') RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    c twilio.campaigns := twilio._require_campaign(uid, campaign_id);
BEGIN
    IF (quiet_start IS NULL) <> (quiet_end IS NULL) OR quiet_start = quiet_end THEN
        RAISE EXCEPTION 'quiet hours need both a start and a different end (or neither)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT coalesce(quiet_days, '{}') <@ '{1,2,3,4,5,6,7}' OR cardinality(array(SELECT DISTINCT unnest(quiet_days))) > 6 THEN
        RAISE EXCEPTION 'quiet_days must be ISO day numbers (1 = Monday ... 7 = Sunday), leaving at least one day'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE twilio.campaigns x
       SET quiet_start = quiet_start, quiet_end = quiet_end,
           quiet_days = array(SELECT DISTINCT d FROM unnest(coalesce(quiet_days, '{}')) d ORDER BY d)
     WHERE x.user_id = uid AND x.id = c.id;
    PERFORM twilio._drip_replan(uid, c.id);
END
$$;

-- Moves a campaign's enrollments with it: held while it is paused (or a draft), on again when it is active.
CREATE FUNCTION twilio._set_campaign_status(uid uuid, cid uuid, allowed_from text[], new_status text) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c twilio.campaigns := twilio._require_campaign(uid, cid);
BEGIN
    IF NOT c.status = ANY (allowed_from) THEN
        RAISE EXCEPTION 'the campaign is %; only a campaign that is % can become %', c.status,
                        array_to_string(allowed_from, ' or '), new_status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF new_status = 'active' AND NOT EXISTS (SELECT 1 FROM twilio.campaign_steps s
                                              WHERE s.user_id = uid AND s.campaign_id = cid) THEN
        RAISE EXCEPTION 'the campaign has no steps' USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Add one with twilio.add_step(...).';
    END IF;
    UPDATE twilio.campaigns x SET status = new_status WHERE x.user_id = uid AND x.id = cid;
    IF new_status = 'active' THEN
        UPDATE twilio.enrollments e SET status = 'active', pause_reason = NULL, next_run_at = now()
         WHERE e.user_id = uid AND e.campaign_id = cid AND e.status = 'paused'
           AND e.pause_reason IN ('campaign_paused', 'campaign_draft');
        PERFORM twilio._drip_replan(uid, cid);
    ELSIF new_status = 'paused' THEN
        UPDATE twilio.enrollments e SET status = 'paused', pause_reason = 'campaign_paused', next_run_at = NULL
         WHERE e.user_id = uid AND e.campaign_id = cid AND e.status = 'active';
    ELSIF new_status = 'archived' THEN
        UPDATE twilio.enrollments e
           SET status = 'stopped', stop_reason = 'campaign_archived', pause_reason = NULL, next_run_at = NULL,
               hold_reason = NULL, finished_at = now()
         WHERE e.user_id = uid AND e.campaign_id = cid AND e.status IN ('active', 'paused');
    END IF;
END
$$;

CREATE FUNCTION twilio.activate_campaign(campaign_id uuid) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN twilio._set_campaign_status(twilio._require_user(), campaign_id, '{draft}', 'active');
CREATE FUNCTION twilio.pause_campaign(campaign_id uuid) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN twilio._set_campaign_status(twilio._require_user(), campaign_id, '{active}', 'paused');
CREATE FUNCTION twilio.resume_campaign(campaign_id uuid) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN twilio._set_campaign_status(twilio._require_user(), campaign_id, '{paused}', 'active');
CREATE FUNCTION twilio.archive_campaign(campaign_id uuid) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN twilio._set_campaign_status(twilio._require_user(), campaign_id, '{draft,active,paused}', 'archived');

------------------------------------------------------------------------------------------------------------------
-- Steps. Editing a step of an active campaign is allowed: enrollments that already sent it are not affected;
-- the others are re-planned.
------------------------------------------------------------------------------------------------------------------

CREATE FUNCTION twilio._check_step(body text, delay interval, on_day integer, at_local_time time, channel text)
    RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM twilio._require_body(body);
    PERFORM twilio._drip_required_variables(body);  -- raises on a malformed template
    IF (delay IS NULL) = (on_day IS NULL OR at_local_time IS NULL) OR (on_day IS NULL) <> (at_local_time IS NULL) THEN
        RAISE EXCEPTION 'a step needs either a delay, or on_day with at_local_time'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF delay < interval '0' OR on_day NOT BETWEEN 0 AND 3650 THEN
        RAISE EXCEPTION 'a step''s delay must not be negative, and on_day must be 0 to 3650'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF channel NOT IN ('sms', 'conversation', 'manual_call') THEN  -- manual_call: queue a call (docs/dialer.md)
        RAISE EXCEPTION 'a step''s channel must be ''sms'', ''conversation'' or ''manual_call'''
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- position NULL: after the last step.
CREATE FUNCTION twilio.add_step(campaign_id uuid, body text, delay interval DEFAULT NULL,
                                "position" integer DEFAULT NULL, on_day integer DEFAULT NULL,
                                at_local_time time DEFAULT NULL, channel text DEFAULT NULL) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    c twilio.campaigns := twilio._require_campaign(uid, campaign_id);
    pos integer := position;
    sid uuid;
BEGIN
    IF c.status = 'archived' THEN
        RAISE EXCEPTION 'the campaign is archived' USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF delay IS NULL AND on_day IS NULL THEN
        delay := interval '0';
    END IF;
    PERFORM twilio._check_step(body, delay, on_day, at_local_time, channel);
    IF pos IS NULL THEN
        SELECT coalesce(max(s.position), 0) + 1 INTO pos FROM twilio.campaign_steps s
         WHERE s.user_id = uid AND s.campaign_id = c.id;
    ELSIF pos NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'position must be 1 to 1000' USING ERRCODE = 'invalid_parameter_value';
    ELSIF EXISTS (SELECT 1 FROM twilio.campaign_steps s WHERE s.user_id = uid AND s.campaign_id = c.id
                                                         AND s.position = pos) THEN
        RAISE EXCEPTION 'the campaign already has a step at position %', pos USING ERRCODE = 'unique_violation';
    END IF;
    INSERT INTO twilio.campaign_steps (user_id, campaign_id, position, delay, on_day, at_local_time, body_template,
                                       channel)
    VALUES (uid, c.id, pos, delay, on_day, at_local_time, body, channel)
    RETURNING id INTO sid;
    PERFORM twilio._drip_replan(uid, c.id);
    RETURN sid;
END
$$;

-- NULL leaves a field as it is; a delay replaces on_day/at_local_time and the other way round; channel '' goes
-- back to the campaign's.
CREATE FUNCTION twilio.update_step(step_id uuid, body text DEFAULT NULL, delay interval DEFAULT NULL,
                                   on_day integer DEFAULT NULL, at_local_time time DEFAULT NULL,
                                   channel text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    s twilio.campaign_steps;
BEGIN
    SELECT * INTO s FROM twilio.campaign_steps x WHERE x.user_id = uid AND x.id = step_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'step not found' USING ERRCODE = 'no_data_found';
    END IF;
    IF delay IS NOT NULL THEN
        s.delay := delay; s.on_day := NULL; s.at_local_time := NULL;
    ELSIF on_day IS NOT NULL OR at_local_time IS NOT NULL THEN
        s.delay := NULL; s.on_day := coalesce(on_day, s.on_day); s.at_local_time := coalesce(at_local_time, s.at_local_time);
    END IF;
    s.body_template := coalesce(body, s.body_template);
    s.channel := CASE WHEN channel IS NULL THEN s.channel ELSE nullif(channel, '') END;
    PERFORM twilio._check_step(s.body_template, s.delay, s.on_day, s.at_local_time, s.channel);
    UPDATE twilio.campaign_steps x
       SET body_template = s.body_template, delay = s.delay, on_day = s.on_day, at_local_time = s.at_local_time,
           channel = s.channel
     WHERE x.user_id = uid AND x.id = s.id;
    PERFORM twilio._drip_replan(uid, s.campaign_id);
END
$$;

CREATE FUNCTION twilio.delete_step(step_id uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    cid uuid;
BEGIN
    DELETE FROM twilio.campaign_steps x WHERE x.user_id = uid AND x.id = step_id RETURNING x.campaign_id INTO cid;
    IF cid IS NULL THEN
        RETURN false;
    END IF;
    PERFORM twilio._drip_replan(uid, cid);
    RETURN true;
END
$$;

------------------------------------------------------------------------------------------------------------------
-- Preview: what a contact would receive, and what it costs in SMS segments.
------------------------------------------------------------------------------------------------------------------

CREATE FUNCTION twilio.preview(template text, variables jsonb DEFAULT '{}',
                               OUT body text, OUT characters integer, OUT segments integer, OUT encoding text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    seg record;
BEGIN
    PERFORM twilio._require_user();
    IF template IS NULL THEN
        RAISE EXCEPTION 'template is required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    body := twilio._require_body(twilio._drip_render(template, coalesce(variables, '{}')));
    seg := twilio._sms_segments(body);
    characters := char_length(body);
    segments := seg.segments;
    encoding := seg.encoding;
END
$$;

CREATE FUNCTION twilio.preview_step(step_id uuid, variables jsonb DEFAULT '{}',
                                    OUT body text, OUT characters integer, OUT segments integer, OUT encoding text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    tmpl text;
BEGIN
    SELECT s.body_template INTO tmpl FROM twilio.campaign_steps s
     WHERE s.user_id = twilio._require_user() AND s.id = step_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'step not found' USING ERRCODE = 'no_data_found';
    END IF;
    SELECT * INTO body, characters, segments, encoding FROM twilio.preview(tmpl, variables);
END
$$;

------------------------------------------------------------------------------------------------------------------
-- Enrollments
------------------------------------------------------------------------------------------------------------------

-- One enrollment of the caller's, checked as the tick will send it: phone, zone, every step renders with these
-- variables, a lead for Conversations, not opted out. An ongoing enrollment of this phone is returned as it is.
-- outcome: enrolled | already_enrolled | opted_out (then no id; enroll raises instead).
CREATE FUNCTION twilio._enroll(uid uuid, c twilio.campaigns, lead uuid, phone_number text, zone text,
                               vars_in jsonb, OUT enrollment_id uuid, OUT outcome text)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    vars jsonb := coalesce(vars_in, '{}');
    tz text := twilio._require_time_zone(coalesce(zone, c.time_zone));
    s twilio.campaign_steps;
    e twilio.enrollments;
BEGIN
    PERFORM twilio._require_e164('phone', phone_number);
    IF jsonb_typeof(vars) <> 'object' THEN
        RAISE EXCEPTION 'variables must be a JSON object' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'For example {"first_name": "Ada"}.';
    END IF;
    IF c.status = 'archived' THEN
        RAISE EXCEPTION 'the campaign is archived' USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    FOR s IN SELECT * FROM twilio.campaign_steps x WHERE x.user_id = uid AND x.campaign_id = c.id ORDER BY x.position
    LOOP
        PERFORM twilio._drip_render(s.body_template, vars);  -- a missing variable: 22004, naming it
        IF lead IS NULL AND coalesce(s.channel, c.channel) = 'conversation' THEN
            RAISE EXCEPTION 'step % sends a Conversations message: the enrollment needs a lead_id', s.position
                USING ERRCODE = 'null_value_not_allowed';
        END IF;
    END LOOP;
    IF lead IS NULL AND c.channel = 'conversation' THEN
        RAISE EXCEPTION 'a Conversations campaign needs a lead_id per enrollment' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF EXISTS (SELECT 1 FROM twilio.opt_outs o WHERE o.user_id = uid AND o.phone = phone_number) THEN
        outcome := 'opted_out';
        RETURN;
    END IF;
    INSERT INTO twilio.enrollments AS x (user_id, campaign_id, lead_id, phone, time_zone, variables, status,
                                         pause_reason, next_run_at)
    VALUES (uid, c.id, lead, phone_number, tz, vars, CASE WHEN c.status = 'active' THEN 'active' ELSE 'paused' END,
            CASE c.status WHEN 'paused' THEN 'campaign_paused' WHEN 'draft' THEN 'campaign_draft' END,
            CASE WHEN c.status = 'active' THEN now() END)
    ON CONFLICT (user_id, phone, campaign_id) WHERE status IN ('active', 'paused') DO NOTHING
    RETURNING * INTO e;
    IF e.id IS NULL THEN
        SELECT x.id INTO enrollment_id FROM twilio.enrollments x
         WHERE x.user_id = uid AND x.phone = phone_number AND x.campaign_id = c.id AND x.status IN ('active', 'paused');
        outcome := 'already_enrolled';
        RETURN;
    END IF;
    PERFORM twilio._drip_replan(uid, c.id, e.id);
    enrollment_id := e.id;
    outcome := 'enrolled';
END
$$;

CREATE FUNCTION twilio.enroll(campaign_id uuid, lead_id uuid, phone text, time_zone text DEFAULT NULL,
                              variables jsonb DEFAULT '{}') RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    uid uuid := twilio._require_user();
    r record;
BEGIN
    r := twilio._enroll(uid, twilio._require_campaign(uid, campaign_id), lead_id, phone, time_zone, variables);
    IF r.outcome = 'opted_out' THEN
        PERFORM twilio._require_not_opted_out(uid, phone);
    END IF;
    RETURN r.enrollment_id;
END
$$;
COMMENT ON FUNCTION twilio.enroll(uuid, uuid, text, text, jsonb) IS
    'Enroll a contact (idempotent: an ongoing enrollment of this phone in the campaign is returned as it is)';

-- A batch: a JSON array of {"phone", "lead_id", "time_zone", "variables"}. All or nothing: an invalid item
-- raises, naming it; opted-out phones are skipped and reported.
CREATE FUNCTION twilio.enroll_many(campaign_id uuid, contacts jsonb)
    RETURNS TABLE (item integer, phone text, enrollment_id uuid, outcome text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    uid uuid := twilio._require_user();
    c twilio.campaigns := twilio._require_campaign(uid, campaign_id);
    x record;
    r record;
BEGIN
    IF jsonb_typeof(contacts) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'contacts must be a JSON array of objects' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'For example [{"phone": "+14155550123", "variables": {"first_name": "Ada"}}].';
    END IF;
    FOR x IN SELECT t.value AS v, t.ordinality::integer AS n FROM jsonb_array_elements(contacts) WITH ORDINALITY t LOOP
        BEGIN
            IF jsonb_typeof(x.v) <> 'object' THEN
                RAISE EXCEPTION 'not a JSON object' USING ERRCODE = 'invalid_parameter_value';
            END IF;
            r := twilio._enroll(uid, c, (x.v ->> 'lead_id')::uuid, x.v ->> 'phone', x.v ->> 'time_zone',
                                x.v -> 'variables');
        EXCEPTION WHEN OTHERS THEN
            DECLARE
                state text; msg text; hint text;
            BEGIN
                GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
                RAISE EXCEPTION 'contact %: %', x.n, msg USING ERRCODE = state, HINT = coalesce(nullif(hint, ''),
                    'Nothing was enrolled: fix this contact and send the batch again.');
            END;
        END;
        item := x.n; phone := x.v ->> 'phone'; enrollment_id := r.enrollment_id; outcome := r.outcome;
        RETURN NEXT;
    END LOOP;
END
$$;

CREATE FUNCTION twilio._require_enrollment(uid uuid, eid uuid) RETURNS twilio.enrollments
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    e twilio.enrollments;
BEGIN
    SELECT * INTO e FROM twilio.enrollments x WHERE x.user_id = uid AND x.id = eid FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'enrollment not found' USING ERRCODE = 'no_data_found';
    END IF;
    RETURN e;
END
$$;

-- Stops an enrollment for good (stop_reason 'unenrolled'); false if it had already ended.
CREATE FUNCTION twilio.unenroll(enrollment_id uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    uid uuid := twilio._require_user();
    e twilio.enrollments := twilio._require_enrollment(uid, enrollment_id);
BEGIN
    UPDATE twilio.enrollments x
       SET status = 'stopped', stop_reason = 'unenrolled', pause_reason = NULL, next_run_at = NULL,
           hold_reason = NULL, finished_at = now()
     WHERE x.user_id = uid AND x.id = e.id AND x.status IN ('active', 'paused');
    RETURN FOUND;
END
$$;

CREATE FUNCTION twilio.pause_enrollment(enrollment_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    uid uuid := twilio._require_user();
    e twilio.enrollments := twilio._require_enrollment(uid, enrollment_id);
BEGIN
    IF e.status NOT IN ('active', 'paused') THEN
        RAISE EXCEPTION 'the enrollment is %', e.status USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE twilio.enrollments x SET status = 'paused', pause_reason = 'paused', next_run_at = NULL
     WHERE x.user_id = uid AND x.id = e.id;
END
$$;

-- Picks up where it left off (a step whose time has passed goes out at the next tick); in a campaign that is
-- not active, it waits for the campaign.
CREATE FUNCTION twilio.resume_enrollment(enrollment_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    uid uuid := twilio._require_user();
    e twilio.enrollments := twilio._require_enrollment(uid, enrollment_id);
    c twilio.campaigns := twilio._require_campaign(uid, e.campaign_id);
BEGIN
    IF e.status NOT IN ('active', 'paused') THEN
        RAISE EXCEPTION 'the enrollment is %', e.status USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF c.status <> 'active' THEN
        UPDATE twilio.enrollments x
           SET status = 'paused', next_run_at = NULL,
               pause_reason = CASE c.status WHEN 'draft' THEN 'campaign_draft' ELSE 'campaign_paused' END
         WHERE x.user_id = uid AND x.id = e.id;
        RETURN;
    END IF;
    UPDATE twilio.enrollments x SET status = 'active', pause_reason = NULL, next_run_at = now()
     WHERE x.user_id = uid AND x.id = e.id AND x.status = 'paused';
    PERFORM twilio._drip_replan(uid, c.id, e.id);
END
$$;
------------------------------------------------------------------------------------------------------------------
-- The drip tick: one pass that pg_cron runs (twilio.schedule_drips). It claims due enrollments, writes their next
-- step into the outbox exactly as send_sms / send_conversation_message would for that user, records the step as
-- sent and advances, all in the pass's transaction: a step is sent once, whatever overlaps or crashes.
------------------------------------------------------------------------------------------------------------------

-- Renders like _drip_render, but answers NULL where that raises (src/pg/fn_drips_tick.cpp): the set-based pass
-- below must not let one contact's bad variables abort the batch.
CREATE FUNCTION twilio._drip_try_render(template text, variables jsonb) RETURNS text
    AS 'MODULE_PATHNAME', 'byo_drip_try_render' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
-- The same text with its SMS segments and encoding as _sms_segments counts them (all NULL where it does not
-- render): one call per message in the tick.
CREATE FUNCTION twilio._drip_try_render_sms(template text, variables jsonb, OUT body text, OUT segments integer,
                                            OUT encoding text)
    AS 'MODULE_PATHNAME', 'byo_drip_try_render_sms' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- A manual-call step: a call for the user to make, in their queue (twilio.manual_actions), instead of a text. The
-- rendered step is the action's title (its first line, at most 200 characters) and, when longer, its notes. Queued
-- once per enrollment and step (_create_action finds one already queued). A number on the user's do-not-call list
-- gets no call; the campaign goes on with its next step. Returns the action's id (NULL when none was queued).
CREATE FUNCTION twilio._drip_queue_call(e twilio.enrollments, s twilio.campaign_steps, body text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    whole text := regexp_replace(body, '^\s+|\s+$', '', 'g');
    title text := left(btrim(substring(whole FROM '^[^\r\n]*')), 200);
BEGIN
    IF EXISTS (SELECT 1 FROM twilio.do_not_call d WHERE d.user_id = e.user_id AND d.phone = e.phone) THEN
        RETURN NULL;
    END IF;
    RETURN twilio._create_action(e.user_id, 'call', title, e.phone, e.lead_id, now(), 0,
                                 CASE WHEN whole <> title THEN whole END,
                                 e.time_zone, 'drip', e.id, s.position);
END
$$;

-- Sends one due enrollment's next step, or says why not. Raises on anything the step cannot get past.
CREATE FUNCTION twilio._drip_send_step(e twilio.enrollments, c twilio.campaigns, s twilio.campaign_steps)
    RETURNS uuid
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    body text := twilio._drip_render(s.body_template, e.variables);
    msg_id uuid;
    seg integer;
BEGIN
    IF s.channel = 'manual_call' THEN
        RETURN twilio._drip_queue_call(e, s, body);
    END IF;
    IF coalesce(s.channel, c.channel) = 'sms' THEN
        msg_id := twilio._enqueue_sms(e.user_id, e.phone, body);
    ELSE
        msg_id := twilio._enqueue_conversation_message(
            e.user_id, twilio._conversation_for_lead(e.user_id, e.lead_id, e.phone, NULL), body);
    END IF;
    SELECT m.segments INTO seg FROM twilio.messages m WHERE m.user_id = e.user_id AND m.id = msg_id;
    -- The primary key (enrollment, step) refuses a second send of this step, ever.
    INSERT INTO twilio.enrollment_sends (user_id, enrollment_id, step_id, campaign_id, position, message_id, phone,
                                         segments, day)
    VALUES (e.user_id, e.id, s.id, c.id, s.position, msg_id, e.phone, seg, (now() AT TIME ZONE 'UTC')::date);
    INSERT INTO twilio.campaign_stats_daily AS d (user_id, campaign_id, day, step_id, position, sent, segments)
    VALUES (e.user_id, c.id, (now() AT TIME ZONE 'UTC')::date, s.id, s.position, 1, seg)
    ON CONFLICT (user_id, campaign_id, day, step_id)
        DO UPDATE SET sent = d.sent + 1, segments = d.segments + EXCLUDED.segments;
    RETURN msg_id;
END
$$;

-- One claimed enrollment, row by row, in its own subtransaction: completes it, lets it wait for its (moved)
-- plan, stops it (opted out), or sends its next step. Returns which: 'completed', 'waiting', 'stopped', 'sent',
-- 'held' (the sender is missing: not connected, disabled, incomplete; retried in 5 minutes, the reason in
-- hold_reason) or 'failed' (anything else: stopped as failed with the reason in last_error).
CREATE FUNCTION twilio._drip_tick_one(e twilio.enrollments) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c twilio.campaigns;
    s twilio.campaign_steps;
    p record;
    why text;
BEGIN
    SELECT * INTO c FROM twilio.campaigns x WHERE x.user_id = e.user_id AND x.id = e.campaign_id;
    BEGIN
        SELECT * INTO p FROM twilio._drip_plan(e, c);
        IF p.step_id IS NULL THEN
            UPDATE twilio.enrollments x SET status = 'completed', next_run_at = NULL, hold_reason = NULL,
                                             finished_at = now()
             WHERE x.user_id = e.user_id AND x.id = e.id;
            RETURN 'completed';
        END IF;
        IF p.allowed_at > now() THEN  -- the plan moved (a step edited, quiet hours changed): wait for it
            UPDATE twilio.enrollments x
               SET next_run_at = p.allowed_at, hold_reason = CASE WHEN p.allowed_at > p.due_at THEN 'quiet hours' END
             WHERE x.user_id = e.user_id AND x.id = e.id;
            RETURN 'waiting';
        END IF;
        IF EXISTS (SELECT 1 FROM twilio.opt_outs o WHERE o.user_id = e.user_id AND o.phone = e.phone) THEN
            UPDATE twilio.enrollments x
               SET status = 'stopped', stop_reason = 'opted_out', next_run_at = NULL, hold_reason = NULL,
                   finished_at = now()
             WHERE x.user_id = e.user_id AND x.id = e.id;
            RETURN 'stopped';
        END IF;
        SELECT * INTO s FROM twilio.campaign_steps x WHERE x.user_id = e.user_id AND x.id = p.step_id;
        PERFORM twilio._drip_send_step(e, c, s);
        e.last_position := s.position;
        e.anchor_at := now();
        SELECT * INTO p FROM twilio._drip_plan(e, c);
        UPDATE twilio.enrollments x  -- the last step sent: completed now
           SET last_position = s.position, anchor_at = now(), last_sent_at = now(), last_error = NULL,
               status = CASE WHEN p.step_id IS NULL THEN 'completed' ELSE 'active' END,
               next_run_at = p.allowed_at, finished_at = CASE WHEN p.step_id IS NULL THEN now() END,
               hold_reason = CASE WHEN p.allowed_at > p.due_at THEN 'quiet hours' END
         WHERE x.user_id = e.user_id AND x.id = e.id;
        RETURN 'sent';
    EXCEPTION
        WHEN object_not_in_prerequisite_state THEN  -- the sender: not connected, disabled, incomplete
            GET STACKED DIAGNOSTICS why = MESSAGE_TEXT;
            -- The retry is a plan too (the batch sends what is due without planning it again): out of quiet hours.
            UPDATE twilio.enrollments x
               SET next_run_at = twilio._drip_allowed_at(now() + interval '5 minutes', e.time_zone, c.quiet_start,
                                                         c.quiet_end, c.quiet_days),
                   hold_reason = why
             WHERE x.user_id = e.user_id AND x.id = e.id;
            RETURN 'held';
        WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS why = MESSAGE_TEXT;
            UPDATE twilio.enrollments x
               SET status = 'stopped', stop_reason = 'failed', next_run_at = NULL, hold_reason = NULL,
                   last_error = format('%s: %s (SQLSTATE %s)', coalesce('step ' || s.position, 'the next step'), why,
                                        SQLSTATE),
                   finished_at = now()
             WHERE x.user_id = e.user_id AND x.id = e.id;
            RETURN 'failed';
    END;
END
$$;

-- Claims up to max_rows due enrollments, oldest due first (FOR UPDATE SKIP LOCKED: rows another pass holds are
-- skipped, and one it already advanced no longer qualifies when rechecked), with what the batch reads of them.
-- A function, not a subquery, for its ROWS estimate: the statistics of next_run_at always say that almost nothing
-- is due (rows become due between two ANALYZEs), and on that estimate the planner joins the batch's rows to their
-- steps and senders by nested loops, each row against every group.
CREATE FUNCTION twilio._drip_claim(max_rows integer)
    RETURNS TABLE (user_id uuid, id uuid, campaign_id uuid, phone text, time_zone text, variables jsonb,
                   last_position integer, enrolled_at timestamptz)
LANGUAGE sql VOLATILE ROWS 1000 SET search_path = pg_catalog, pg_temp AS $$
    SELECT x.user_id, x.id, x.campaign_id, x.phone, x.time_zone, x.variables, x.last_position, x.enrolled_at
      FROM twilio.enrollments x
     WHERE x.status = 'active' AND x.next_run_at <= now()
     ORDER BY x.next_run_at
     LIMIT max_rows
       FOR UPDATE SKIP LOCKED
$$;

-- The bulk of a pass in one statement: claims up to max_rows due enrollments (_drip_claim), and for every plain SMS
-- step that will go through writes the message and its outbox job (the columns _enqueue_sms writes, with the
-- sender _require_sender picks), the send record and the rollup, and advances the enrollment; completes or stops
-- (opted out) the others that need no sending. What it cannot vouch for (a Conversations step, no usable sender,
-- a step that does not render, a step already on record) it leaves claimed and unchanged, for the row-by-row path.
-- Returns the counts and those rows.
-- A due row's next_run_at is its plan (this pass, enroll, resume and every change of steps or quiet hours set it
-- with _drip_plan), so the step it is due for is not planned again here. The next step is planned once per
-- campaign, position and time zone among the claimed rows (every row of a group is anchored at now()), and per
-- row only for a step at a local time of day (it counts from the day of enrolling).
CREATE FUNCTION twilio._drip_tick_batch(max_rows integer, OUT claimed integer, OUT sent integer,
                                        OUT completed integer, OUT stopped integer,
                                        OUT rest_users uuid[], OUT rest_ids uuid[])
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    WITH due AS MATERIALIZED (
        SELECT * FROM twilio._drip_claim(max_rows)
    ), senders AS MATERIALIZED (  -- once per user in the batch, not per row
        SELECT u.user_id, r.account_sid, r.messaging_service_sid, r.sms_number
          FROM (SELECT DISTINCT d.user_id FROM due d) u
          LEFT JOIN LATERAL (SELECT * FROM twilio._resolve_config(u.user_id) LIMIT 1) r ON true
    ), steps AS MATERIALIZED (  -- once per campaign, position and zone: this step, the next, and its plan
        SELECT g.*, st.id AS sid, st.position, st.body_template, coalesce(st.channel, c.channel) AS channel,
               nx.id AS next_sid, nx.delay IS NULL AS next_on_day, nx.on_day, nx.at_local_time,
               c.quiet_start, c.quiet_end, c.quiet_days, a.next_allowed_at, a.next_due_at
          FROM (SELECT DISTINCT d.user_id, d.campaign_id, d.last_position, d.time_zone FROM due d) g
          JOIN twilio.campaigns c ON c.user_id = g.user_id AND c.id = g.campaign_id
          LEFT JOIN LATERAL (SELECT s.* FROM twilio.campaign_steps s
                              WHERE s.user_id = g.user_id AND s.campaign_id = g.campaign_id
                                AND s.position > g.last_position
                              ORDER BY s.position LIMIT 1) st ON true
          LEFT JOIN LATERAL (SELECT s.* FROM twilio.campaign_steps s
                              WHERE s.user_id = g.user_id AND s.campaign_id = g.campaign_id
                                AND s.position > st.position
                              ORDER BY s.position LIMIT 1) nx ON true
          LEFT JOIN LATERAL (SELECT t.due AS next_due_at,
                                    twilio._drip_allowed_at(t.due, g.time_zone, c.quiet_start, c.quiet_end,
                                                            c.quiet_days) AS next_allowed_at
                               FROM (SELECT twilio._drip_add(now(), nx.delay, g.time_zone) AS due) t
                              WHERE nx.delay IS NOT NULL) a ON true
    ), classified AS MATERIALIZED (  -- once: each later part reads it
        SELECT d.user_id, d.id, d.campaign_id, d.phone, d.time_zone, d.enrolled_at, st.sid, st.position,
               st.next_sid, st.next_on_day, st.on_day, st.at_local_time, st.quiet_start, st.quiet_end,
               st.quiet_days, st.next_due_at, st.next_allowed_at, n.account_sid, n.sms_number, r.r,
               CASE WHEN st.sid IS NULL THEN 'completed'
                    WHEN EXISTS (SELECT 1 FROM twilio.opt_outs o
                                  WHERE o.user_id = d.user_id AND o.phone = d.phone) THEN 'stopped'
                    WHEN st.channel = 'sms' AND n.messaging_service_sid IS NOT NULL
                         AND (r.r).body ~ '\S' AND char_length((r.r).body) <= 1600  -- what _require_body accepts
                         AND NOT EXISTS (SELECT 1 FROM twilio.enrollment_sends es
                                          WHERE es.user_id = d.user_id AND es.enrollment_id = d.id
                                            AND es.step_id = st.sid) THEN 'send'
                    ELSE 'rest' END AS outcome
          FROM due d
          JOIN steps st ON st.user_id = d.user_id AND st.campaign_id = d.campaign_id
                       AND st.last_position = d.last_position AND st.time_zone = d.time_zone
          LEFT JOIN senders n ON n.user_id = d.user_id
         CROSS JOIN LATERAL (SELECT twilio._drip_try_render_sms(CASE WHEN st.channel = 'sms' THEN st.body_template END,
                                                                d.variables) AS r) r
    ), sending AS MATERIALIZED (  -- with the next step's plan: at a local time of day, counted from enrolling
        SELECT k.*, twilio._uuid_v7() AS msg_id, (now() AT TIME ZONE 'UTC')::date AS day,
               CASE WHEN k.next_on_day THEN twilio._drip_allowed_at(o.due, k.time_zone, k.quiet_start,
                                                                    k.quiet_end, k.quiet_days)
                    ELSE k.next_allowed_at END AS next_at,
               CASE WHEN k.next_on_day THEN o.due ELSE k.next_due_at END AS next_due
          FROM classified k
          LEFT JOIN LATERAL (SELECT greatest(now(), ((k.enrolled_at AT TIME ZONE k.time_zone)::date + k.on_day
                                                     + k.at_local_time) AT TIME ZONE k.time_zone) AS due
                              WHERE k.next_on_day AND k.next_sid IS NOT NULL) o ON true
         WHERE k.outcome = 'send'
    ), messages AS (
        INSERT INTO twilio.messages (user_id, id, channel, to_number, from_number, body, segments, encoding,
                                     account_sid)
        SELECT w.user_id, w.msg_id, 'sms', w.phone, w.sms_number, (w.r).body, (w.r).segments, (w.r).encoding,
               w.account_sid
          FROM sending w
    ), jobs AS (
        INSERT INTO twilio.outbox (user_id, kind, message_id)
        SELECT w.user_id, 'send_sms', w.msg_id FROM sending w ORDER BY w.msg_id
    ), sends AS (  -- the primary key (enrollment, step) refuses a second send of a step, ever
        INSERT INTO twilio.enrollment_sends (user_id, enrollment_id, step_id, campaign_id, position, message_id,
                                             phone, segments, day)
        SELECT w.user_id, w.id, w.sid, w.campaign_id, w.position, w.msg_id, w.phone, (w.r).segments, w.day
          FROM sending w
    ), rollups AS (
        INSERT INTO twilio.campaign_stats_daily AS d (user_id, campaign_id, day, step_id, position, sent, segments)
        SELECT w.user_id, w.campaign_id, w.day, w.sid, w.position, count(*), sum((w.r).segments)
          FROM sending w GROUP BY w.user_id, w.campaign_id, w.day, w.sid, w.position
        ON CONFLICT (user_id, campaign_id, day, step_id)
            DO UPDATE SET sent = d.sent + EXCLUDED.sent, segments = d.segments + EXCLUDED.segments
    ), advanced AS (  -- the last step sent: completed now
        UPDATE twilio.enrollments x
           SET last_position = w.position, anchor_at = now(), last_sent_at = now(), last_error = NULL,
               status = CASE WHEN w.next_sid IS NULL THEN 'completed' ELSE 'active' END,
               next_run_at = w.next_at, finished_at = CASE WHEN w.next_sid IS NULL THEN now() END,
               hold_reason = CASE WHEN w.next_at > w.next_due THEN 'quiet hours' END, updated_at = now()
          FROM sending w
         WHERE x.user_id = w.user_id AND x.id = w.id
    ), settled AS (  -- nothing to send: completed, or opted out
        UPDATE twilio.enrollments x
           SET status = k.outcome, stop_reason = CASE WHEN k.outcome = 'stopped' THEN 'opted_out' END,
               next_run_at = NULL, hold_reason = NULL, finished_at = now(), updated_at = now()
          FROM classified k
         WHERE k.outcome IN ('completed', 'stopped') AND x.user_id = k.user_id AND x.id = k.id
    )
    SELECT count(*)::integer, count(*) FILTER (WHERE k.outcome = 'send')::integer,
           count(*) FILTER (WHERE k.outcome = 'completed')::integer,
           count(*) FILTER (WHERE k.outcome = 'stopped')::integer,
           coalesce(array_agg(k.user_id) FILTER (WHERE k.outcome = 'rest'), '{}'),
           coalesce(array_agg(k.id) FILTER (WHERE k.outcome = 'rest'), '{}')
      FROM classified k
$$;

-- One pass over at most max_rows due enrollments. Bad data never stops it: an enrollment whose step cannot be
-- rendered or enqueued is stopped as failed with the reason; one whose sender is missing (no account connected,
-- settings disabled) is held and retried in 5 minutes, with the reason in hold_reason. The batch statement does
-- the common case set-based; the rest go row by row, each in a subtransaction. Should the batch statement itself
-- fail (data no check foresaw, such as a time zone PostgreSQL no longer knows), its claims are undone and the
-- whole pass goes row by row, so that the bad row fails alone.
CREATE FUNCTION twilio.drip_tick(max_rows integer DEFAULT 500,
                                 OUT claimed integer, OUT sent integer, OUT completed integer, OUT waiting integer,
                                 OUT held integer, OUT stopped integer, OUT failed integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rest_users uuid[];
    rest_ids uuid[];
    e twilio.enrollments;
    outcome text;
    why text;
BEGIN
    IF max_rows IS NULL OR max_rows NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'max_rows must be 1 to 100000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    waiting := 0; held := 0; failed := 0;
    BEGIN
        SELECT b.claimed, b.sent, b.completed, b.stopped, b.rest_users, b.rest_ids
          INTO STRICT claimed, sent, completed, stopped, rest_users, rest_ids
          FROM twilio._drip_tick_batch(max_rows) b;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS why = MESSAGE_TEXT;
        RAISE WARNING 'drip_tick: the batch statement failed (%); this pass goes row by row', why;
        sent := 0; completed := 0; stopped := 0;
        SELECT count(*), array_agg(x.user_id), array_agg(x.id) INTO claimed, rest_users, rest_ids
          FROM (SELECT y.user_id, y.id FROM twilio.enrollments y
                 WHERE y.status = 'active' AND y.next_run_at <= now()
                 ORDER BY y.next_run_at
                 LIMIT max_rows
                   FOR UPDATE SKIP LOCKED) x;
    END;
    FOR e IN SELECT x.* FROM unnest(rest_users, rest_ids) r(user_id, id)
               JOIN twilio.enrollments x ON x.user_id = r.user_id AND x.id = r.id
    LOOP
        outcome := twilio._drip_tick_one(e);
        sent := sent + (outcome = 'sent')::integer;
        completed := completed + (outcome = 'completed')::integer;
        waiting := waiting + (outcome = 'waiting')::integer;
        held := held + (outcome = 'held')::integer;
        stopped := stopped + (outcome = 'stopped')::integer;
        failed := failed + (outcome = 'failed')::integer;
    END LOOP;
END
$$;
COMMENT ON FUNCTION twilio.drip_tick(integer) IS
    'One pass of drip sending over due enrollments (pg_cron runs it; see twilio.schedule_drips)';

-- The pg_cron job that runs the tick: installed, or changed, under one name. Seconds (1-59) use pg_cron's
-- second-level schedule; whole minutes a */N cron spec.
CREATE FUNCTION twilio.schedule_drips(every interval DEFAULT '10 seconds', max_rows integer DEFAULT 500)
    RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    secs numeric := extract(epoch FROM every);
    spec text;
    job bigint;
BEGIN
    IF max_rows IS NULL OR max_rows NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'max_rows must be 1 to 100000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF secs BETWEEN 1 AND 59 AND secs = trunc(secs) THEN
        spec := secs::integer || ' seconds';
    ELSIF secs BETWEEN 60 AND 3540 AND mod(secs, 60) = 0 THEN
        spec := '*/' || (secs / 60)::integer || ' * * * *';
    ELSE
        RAISE EXCEPTION 'every must be whole seconds from 1 to 59, or whole minutes from 1 to 59 (got %)', every
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF to_regclass('cron.job') IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not installed in this database' USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Add pg_cron to shared_preload_libraries, then CREATE EXTENSION pg_cron in the database '
                   'cron.database_name names.';
    END IF;
    BEGIN
        EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job
            USING 'byo_twilio_drips', spec, format('SELECT twilio.drip_tick(%s)', max_rows);
    EXCEPTION WHEN invalid_parameter_value THEN  -- pg_cron's "invalid schedule": before 1.5, no second schedules
        RAISE EXCEPTION 'pg_cron refused the schedule ''%''', spec USING ERRCODE = 'feature_not_supported',
            HINT = 'Second-level schedules need pg_cron 1.5 or later; use whole minutes, e.g. interval ''1 minute''.';
    END;
    RETURN job;
END
$$;
COMMENT ON FUNCTION twilio.schedule_drips(interval, integer) IS
    'Install or change the pg_cron job byo_twilio_drips that runs twilio.drip_tick; returns its job id';

CREATE FUNCTION twilio.unschedule_drips() RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found_job boolean;
BEGIN
    IF to_regclass('cron.job') IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM cron.job WHERE jobname = $1 AND username = current_user)'
        INTO found_job USING 'byo_twilio_drips';
    IF found_job THEN
        EXECUTE 'SELECT cron.unschedule($1)' USING 'byo_twilio_drips';
    END IF;
    RETURN found_job;
END
$$;
------------------------------------------------------------------------------------------------------------------
-- Drip events: replies and opt-outs stop enrollments; replies, opt-outs and delivery statuses update the per-day
-- rollups (twilio.campaign_stats_daily) as they land, so analytics never scans the history. Statement triggers
-- with transition tables: a webhook batch or a dispatcher pass pays once per statement, not once per row.
-- SECURITY DEFINER: a user adding a manual opt-out must stop their enrollments too; the triggers only touch the
-- rows of the users whose rows the statement wrote.
------------------------------------------------------------------------------------------------------------------

-- Adds per-(campaign, day, step) deltas to the rollups; rows arrive as jsonb built from enrollment_sends rows.
CREATE FUNCTION twilio._drip_add_stats(deltas jsonb) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO twilio.campaign_stats_daily AS d (user_id, campaign_id, day, step_id, position, delivered, failed,
                                                  replies, opt_outs)
    SELECT x.user_id, x.campaign_id, x.day, x.step_id, x.position, sum(x.delivered), sum(x.failed), sum(x.replies),
           sum(x.opt_outs)
      FROM jsonb_to_recordset(deltas) AS x(user_id uuid, campaign_id uuid, day date, step_id uuid, position integer,
                                           delivered integer, failed integer, replies integer, opt_outs integer)
     GROUP BY x.user_id, x.campaign_id, x.day, x.step_id, x.position
    ON CONFLICT (user_id, campaign_id, day, step_id)
        DO UPDATE SET delivered = d.delivered + EXCLUDED.delivered, failed = d.failed + EXCLUDED.failed,
                      replies = d.replies + EXCLUDED.replies, opt_outs = d.opt_outs + EXCLUDED.opt_outs
$$;

-- Inbound messages: a reply (not a STOP: that is an opt-out) stops the phone's ongoing enrollments in campaigns
-- that stop on reply, and counts once for the step that last reached that phone.
CREATE FUNCTION twilio._drip_on_inbound() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    deltas jsonb;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM new_messages n WHERE n.direction = 'inbound') THEN
        RETURN NULL;  -- outbound messages: nothing to do
    END IF;
    WITH replies AS (
        SELECT DISTINCT n.user_id, n.from_number AS phone FROM new_messages n
         WHERE n.direction = 'inbound' AND n.from_number IS NOT NULL
           AND twilio._opt_keyword(n.body, NULL) IS DISTINCT FROM 'STOP'
    ), stopped AS (
        UPDATE twilio.enrollments e
           SET status = 'stopped', stop_reason = 'replied', pause_reason = NULL, next_run_at = NULL,
               hold_reason = NULL, finished_at = now()
          FROM replies r, twilio.campaigns c
         WHERE e.user_id = r.user_id AND e.phone = r.phone AND e.status IN ('active', 'paused')
           AND c.user_id = e.user_id AND c.id = e.campaign_id AND c.stop_on_reply
    ), last_send AS (
        SELECT l.* FROM replies r
         CROSS JOIN LATERAL (SELECT s.user_id, s.enrollment_id, s.step_id FROM twilio.enrollment_sends s
                              WHERE s.user_id = r.user_id AND s.phone = r.phone
                              ORDER BY s.sent_at DESC LIMIT 1) l
    ), marked AS (
        UPDATE twilio.enrollment_sends s SET replied_at = now()
          FROM last_send l
         WHERE s.user_id = l.user_id AND s.enrollment_id = l.enrollment_id AND s.step_id = l.step_id
           AND s.replied_at IS NULL
     RETURNING s.user_id, s.campaign_id, s.day, s.step_id, s.position
    )
    SELECT jsonb_agg(to_jsonb(m) || '{"delivered": 0, "failed": 0, "replies": 1, "opt_outs": 0}') INTO deltas
      FROM marked m;
    PERFORM twilio._drip_add_stats(deltas) WHERE deltas IS NOT NULL;
    RETURN NULL;
END
$$;

-- Opt-outs (STOP, Twilio's 21610, or added by hand) stop every ongoing enrollment of the phone, also one a reply
-- in this same transaction had just stopped (a STOP is an opt-out first). STOP and 21610 count for the step that
-- last reached the phone.
CREATE FUNCTION twilio._drip_on_opt_out() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    deltas jsonb;
BEGIN
    UPDATE twilio.enrollments e
       SET status = 'stopped', stop_reason = 'opted_out', pause_reason = NULL, next_run_at = NULL,
           hold_reason = NULL, finished_at = now()
      FROM new_opt_outs o
     WHERE e.user_id = o.user_id AND e.phone = o.phone
       AND (e.status IN ('active', 'paused') OR (e.stop_reason = 'replied' AND e.finished_at = now()));
    WITH last_send AS (
        SELECT l.* FROM new_opt_outs o
         CROSS JOIN LATERAL (SELECT s.user_id, s.enrollment_id, s.step_id FROM twilio.enrollment_sends s
                              WHERE s.user_id = o.user_id AND s.phone = o.phone
                              ORDER BY s.sent_at DESC LIMIT 1) l
         WHERE o.source IN ('keyword', 'twilio_21610')
    ), marked AS (
        UPDATE twilio.enrollment_sends s SET opted_out_at = now()
          FROM last_send l
         WHERE s.user_id = l.user_id AND s.enrollment_id = l.enrollment_id AND s.step_id = l.step_id
           AND s.opted_out_at IS NULL
     RETURNING s.user_id, s.campaign_id, s.day, s.step_id, s.position
    )
    SELECT jsonb_agg(to_jsonb(m) || '{"delivered": 0, "failed": 0, "replies": 0, "opt_outs": 1}') INTO deltas
      FROM marked m;
    PERFORM twilio._drip_add_stats(deltas) WHERE deltas IS NOT NULL;
    RETURN NULL;
END
$$;

-- Delivery statuses of drip messages: delivered (or read) and failed (or undelivered), counted once per send.
CREATE FUNCTION twilio._drip_on_status() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    deltas jsonb;
BEGIN
    WITH changed AS (
        SELECT s.user_id, s.enrollment_id, s.step_id, s.outcome AS old_outcome,
               CASE WHEN n.status IN ('delivered', 'read') THEN 'delivered'
                    WHEN n.status IN ('failed', 'undelivered') THEN 'failed' ELSE 'pending' END AS outcome
          FROM new_messages n
          JOIN twilio.enrollment_sends s ON s.user_id = n.user_id AND s.message_id = n.id
         WHERE n.direction = 'outbound'
    ), moved AS (
        UPDATE twilio.enrollment_sends s SET outcome = c.outcome
          FROM changed c
         WHERE s.user_id = c.user_id AND s.enrollment_id = c.enrollment_id AND s.step_id = c.step_id
           AND c.outcome <> c.old_outcome
     RETURNING s.user_id, s.campaign_id, s.day, s.step_id, s.position,
               (c.outcome = 'delivered')::integer - (c.old_outcome = 'delivered')::integer AS delivered,
               (c.outcome = 'failed')::integer - (c.old_outcome = 'failed')::integer AS failed,
               0 AS replies, 0 AS opt_outs
    )
    SELECT jsonb_agg(to_jsonb(m)) INTO deltas FROM moved m;
    PERFORM twilio._drip_add_stats(deltas) WHERE deltas IS NOT NULL;
    RETURN NULL;
END
$$;

CREATE TRIGGER messages_drip_inbound AFTER INSERT ON twilio.messages
    REFERENCING NEW TABLE AS new_messages FOR EACH STATEMENT EXECUTE FUNCTION twilio._drip_on_inbound();
CREATE TRIGGER messages_drip_status AFTER UPDATE ON twilio.messages
    REFERENCING NEW TABLE AS new_messages FOR EACH STATEMENT EXECUTE FUNCTION twilio._drip_on_status();
CREATE TRIGGER opt_outs_drip_stop AFTER INSERT ON twilio.opt_outs
    REFERENCING NEW TABLE AS new_opt_outs FOR EACH STATEMENT EXECUTE FUNCTION twilio._drip_on_opt_out();

------------------------------------------------------------------------------------------------------------------
-- Analytics: the caller's rollups, per UTC day of sending, campaign and step.
------------------------------------------------------------------------------------------------------------------
CREATE FUNCTION twilio.analytics(from_day date, to_day date, campaign uuid DEFAULT NULL)
    RETURNS TABLE (day date, campaign_id uuid, campaign_name text, step_position integer, step_id uuid,
                   sent bigint, delivered bigint, failed bigint, replies bigint, opt_outs bigint, segments bigint,
                   delivery_rate numeric, reply_rate numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    cid uuid := campaign;
BEGIN
    IF from_day IS NULL OR to_day IS NULL OR from_day > to_day THEN
        RAISE EXCEPTION 'analytics needs from_day <= to_day' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    SELECT d.day, d.campaign_id, c.name, d.position, d.step_id, d.sent::bigint, d.delivered::bigint,
           d.failed::bigint, d.replies::bigint, d.opt_outs::bigint, d.segments,
           round(d.delivered::numeric / nullif(d.sent, 0), 4), round(d.replies::numeric / nullif(d.sent, 0), 4)
      FROM twilio.campaign_stats_daily d
      JOIN twilio.campaigns c ON c.user_id = d.user_id AND c.id = d.campaign_id
     WHERE d.user_id = uid AND d.day BETWEEN from_day AND to_day AND (cid IS NULL OR d.campaign_id = cid)
     ORDER BY d.day, c.name, d.campaign_id, d.position;
END
$$;
COMMENT ON FUNCTION twilio.analytics(date, date, uuid) IS
    'The caller''s drip results per UTC day of sending, campaign and step: sent, delivered, failed, replies, opt-outs';

------------------------------------------------------------------------------------------------------------------
-- Who may call the drip functions (90_privileges.sql revokes from PUBLIC; repeated here so an update script that
-- copies this part grants the same).
------------------------------------------------------------------------------------------------------------------
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA twilio FROM PUBLIC;
GRANT EXECUTE ON FUNCTION twilio.create_campaign(text, text, text, boolean),
                          twilio.update_campaign(uuid, text, text, text, boolean),
                          twilio.set_quiet_hours(uuid, time, time, integer[]),
                          twilio.activate_campaign(uuid), twilio.pause_campaign(uuid), twilio.resume_campaign(uuid),
                          twilio.archive_campaign(uuid),
                          twilio.add_step(uuid, text, interval, integer, integer, time, text),
                          twilio.update_step(uuid, text, interval, integer, time, text), twilio.delete_step(uuid),
                          twilio.preview(text, jsonb), twilio.preview_step(uuid, jsonb),
                          twilio.enroll(uuid, uuid, text, text, jsonb), twilio.enroll_many(uuid, jsonb),
                          twilio.unenroll(uuid), twilio.pause_enrollment(uuid), twilio.resume_enrollment(uuid),
                          twilio.analytics(date, date, uuid)
    TO authenticated;
GRANT EXECUTE ON FUNCTION twilio.drip_tick(integer), twilio.schedule_drips(interval, integer),
                          twilio.unschedule_drips()
    TO service_role;
------------------------------------------------------------------------------------------------------------------
-- Power dialer, part 1 (docs/dialer.md): each user's dialer settings, do-not-call list and queue of manual actions
-- (calls, texts, follow-ups), worked through with next/complete/skip/release. Users read their rows under RLS and
-- write through the functions below (do-not-call entries also by hand); 71_dialer_calls.sql places the calls.
------------------------------------------------------------------------------------------------------------------

CREATE TABLE twilio.dialer_settings (
    user_id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    agent_phone text CHECK (agent_phone ~ '^\+[1-9][0-9]{1,14}$'),  -- the phone Twilio rings first
    -- Local to each lead: a call may start from calling_hours_start up to (not including) calling_hours_end.
    calling_hours_start time NOT NULL DEFAULT '08:00',
    calling_hours_end time NOT NULL DEFAULT '21:00',
    default_time_zone text CHECK (default_time_zone ~ '^([A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)+|UTC)$'),
    auto_advance boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (calling_hours_start < calling_hours_end)
);

-- Numbers a user must not call: added by hand, or by completing a call with the outcome 'do_not_call'.
CREATE TABLE twilio.do_not_call (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    phone text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{1,14}$'),
    source text NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'call_outcome')),
    reason text CHECK (char_length(reason) <= 500),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, phone)
);

-- A user's queue. status: open -> in_progress (claimed by next_action or a dial) -> done | skipped; a call whose
-- agent never answered puts it back to open; failed when its call could not be placed at all.
CREATE TABLE twilio.manual_actions (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT twilio._uuid_v7(),
    kind text NOT NULL CHECK (kind IN ('call', 'text', 'follow_up')),
    lead_id uuid,
    phone text CHECK (phone ~ '^\+[1-9][0-9]{1,14}$'),
    time_zone text CHECK (time_zone ~ '^([A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)+|UTC)$'),  -- the lead's
    title text NOT NULL CHECK (btrim(title) <> '' AND char_length(title) <= 200),
    notes text CHECK (char_length(notes) <= 4000),
    due_at timestamptz NOT NULL DEFAULT now(),
    priority integer NOT NULL DEFAULT 0,  -- higher first
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'done', 'skipped', 'failed')),
    outcome text CHECK (outcome IN ('connected', 'no_answer', 'busy', 'voicemail', 'failed', 'canceled',
                                    'agent_unreachable', 'wrong_number', 'do_not_call', 'not_interested',
                                    'callback', 'sent', 'other')),
    source text NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'bulk', 'drip')),
    enrollment_id uuid,     -- drips: the enrollment and step that queued it
    step_position integer,
    call_id uuid,           -- the latest call placed for it (twilio.voice_calls.id, agent leg)
    claimed_at timestamptz,
    completed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    CHECK (kind = 'follow_up' OR phone IS NOT NULL)
);
-- next_action's claim walks this in its order and stops at the first due row.
CREATE INDEX manual_actions_open ON twilio.manual_actions (user_id, priority DESC, due_at, id) WHERE status = 'open';
CREATE INDEX manual_actions_in_progress ON twilio.manual_actions (user_id, claimed_at) WHERE status = 'in_progress';
-- A drip step queues its action once, whatever retries the tick makes.
CREATE UNIQUE INDEX manual_actions_drip_step ON twilio.manual_actions (user_id, enrollment_id, step_position)
    WHERE enrollment_id IS NOT NULL;

CREATE TRIGGER dialer_settings_updated_at BEFORE UPDATE ON twilio.dialer_settings
    FOR EACH ROW EXECUTE FUNCTION twilio._touch_updated_at();
CREATE TRIGGER manual_actions_updated_at BEFORE UPDATE ON twilio.manual_actions
    FOR EACH ROW EXECUTE FUNCTION twilio._touch_updated_at();

SELECT pg_catalog.pg_extension_config_dump('twilio.dialer_settings', '');
SELECT pg_catalog.pg_extension_config_dump('twilio.do_not_call', '');
SELECT pg_catalog.pg_extension_config_dump('twilio.manual_actions', '');

ALTER TABLE twilio.dialer_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio.do_not_call ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio.manual_actions ENABLE ROW LEVEL SECURITY;
CREATE POLICY dialer_settings_select_own ON twilio.dialer_settings FOR SELECT TO authenticated
    USING (user_id = auth.uid());
CREATE POLICY do_not_call_select_own ON twilio.do_not_call FOR SELECT TO authenticated USING (user_id = auth.uid());
-- A user adds and removes their own manual entries; an entry made by a call's outcome stays until removed by an
-- operator, as an opt-out does.
CREATE POLICY do_not_call_insert_own ON twilio.do_not_call FOR INSERT TO authenticated
    WITH CHECK (user_id = auth.uid() AND source = 'manual');
CREATE POLICY do_not_call_delete_own_manual ON twilio.do_not_call FOR DELETE TO authenticated
    USING (user_id = auth.uid() AND source = 'manual');
CREATE POLICY manual_actions_select_own ON twilio.manual_actions FOR SELECT TO authenticated
    USING (user_id = auth.uid());
REVOKE ALL ON twilio.dialer_settings, twilio.do_not_call, twilio.manual_actions FROM PUBLIC;
GRANT SELECT ON twilio.dialer_settings, twilio.manual_actions TO authenticated, service_role;
GRANT SELECT, INSERT, DELETE ON twilio.do_not_call TO authenticated, service_role;

------------------------------------------------------------------------------------------------------------------
-- Settings
------------------------------------------------------------------------------------------------------------------

-- The user's settings, or the defaults (updated_at NULL) when they never saved any.
CREATE FUNCTION twilio._dialer_settings_of(uid uuid) RETURNS twilio.dialer_settings
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT s FROM twilio.dialer_settings s WHERE s.user_id = uid),
                    ROW(uid, NULL, '08:00', '21:00', NULL, true, NULL)::twilio.dialer_settings)
$$;

CREATE FUNCTION twilio.get_dialer_settings() RETURNS twilio.dialer_settings
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN twilio._dialer_settings_of(twilio._require_user());
COMMENT ON FUNCTION twilio.get_dialer_settings() IS
    'The caller''s dialer settings (the defaults, with updated_at NULL, when never saved)';

-- NULL keeps a setting; '' clears agent_phone or default_time_zone.
CREATE FUNCTION twilio.save_dialer_settings(agent_phone text DEFAULT NULL, calling_hours_start time DEFAULT NULL,
                                            calling_hours_end time DEFAULT NULL, default_time_zone text DEFAULT NULL,
                                            auto_advance boolean DEFAULT NULL) RETURNS twilio.dialer_settings
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    s twilio.dialer_settings := twilio._dialer_settings_of(uid);
BEGIN
    IF agent_phone IS NOT NULL THEN
        s.agent_phone := CASE WHEN btrim(agent_phone) = '' THEN NULL
                              ELSE twilio._require_e164('agent_phone', btrim(agent_phone)) END;
    END IF;
    IF default_time_zone IS NOT NULL THEN
        s.default_time_zone := CASE WHEN btrim(default_time_zone) = '' THEN NULL
                                    ELSE twilio._require_time_zone(btrim(default_time_zone)) END;
    END IF;
    s.calling_hours_start := coalesce(calling_hours_start, s.calling_hours_start);
    s.calling_hours_end := coalesce(calling_hours_end, s.calling_hours_end);
    s.auto_advance := coalesce(auto_advance, s.auto_advance);
    IF s.calling_hours_start >= s.calling_hours_end THEN
        RAISE EXCEPTION 'calling hours must start before they end (got % to %)',
                        to_char(s.calling_hours_start, 'HH24:MI'), to_char(s.calling_hours_end, 'HH24:MI')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The window is local to each lead and cannot wrap past midnight, e.g. 08:00 to 21:00.';
    END IF;
    INSERT INTO twilio.dialer_settings AS d (user_id, agent_phone, calling_hours_start, calling_hours_end,
                                             default_time_zone, auto_advance)
    VALUES (uid, s.agent_phone, s.calling_hours_start, s.calling_hours_end, s.default_time_zone, s.auto_advance)
    ON CONFLICT (user_id) DO UPDATE
        SET agent_phone = EXCLUDED.agent_phone, calling_hours_start = EXCLUDED.calling_hours_start,
            calling_hours_end = EXCLUDED.calling_hours_end, default_time_zone = EXCLUDED.default_time_zone,
            auto_advance = EXCLUDED.auto_advance
    RETURNING * INTO s;
    RETURN s;
END
$$;
COMMENT ON FUNCTION twilio.save_dialer_settings(text, time, time, text, boolean) IS
    'Saves the caller''s dialer settings (NULL keeps a value, '''' clears agent_phone or default_time_zone)';

------------------------------------------------------------------------------------------------------------------
-- Actions
------------------------------------------------------------------------------------------------------------------

-- The body of create_action(s) and of a drip's manual-call step; returns the new action's id (for a drip step
-- that already queued one, that one's id).
CREATE FUNCTION twilio._create_action(uid uuid, kind text, title text, phone text, lead_id uuid, due_at timestamptz,
                                      priority integer, notes text, time_zone text, source text DEFAULT 'manual',
                                      enrollment_id uuid DEFAULT NULL, step_position integer DEFAULT NULL)
    RETURNS uuid
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    new_id uuid;
BEGIN
    IF kind IS NULL OR kind NOT IN ('call', 'text', 'follow_up') THEN
        RAISE EXCEPTION 'kind must be ''call'', ''text'' or ''follow_up''' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF title IS NULL OR btrim(title) = '' OR char_length(btrim(title)) > 200 THEN
        RAISE EXCEPTION 'title must have 1 to 200 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF phone IS NULL AND kind <> 'follow_up' THEN
        RAISE EXCEPTION 'a % action needs a phone number', kind USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF phone IS NOT NULL THEN
        PERFORM twilio._require_e164('phone', phone);
    END IF;
    IF char_length(notes) > 4000 THEN
        RAISE EXCEPTION 'notes have % characters; at most 4000 are kept', char_length(notes)
            USING ERRCODE = 'string_data_right_truncation';
    END IF;
    IF time_zone IS NOT NULL THEN
        PERFORM twilio._require_time_zone(time_zone);
    END IF;
    IF source IS NULL OR source NOT IN ('manual', 'bulk', 'drip') THEN
        RAISE EXCEPTION 'source must be ''manual'', ''bulk'' or ''drip''' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF enrollment_id IS NOT NULL THEN
        SELECT a.id INTO new_id FROM twilio.manual_actions a
         WHERE a.user_id = uid AND a.enrollment_id = enrollment_id AND a.step_position = step_position;
        IF FOUND THEN
            RETURN new_id;
        END IF;
    END IF;
    INSERT INTO twilio.manual_actions (user_id, kind, lead_id, phone, time_zone, title, notes, due_at, priority,
                                       source, enrollment_id, step_position)
    VALUES (uid, kind, lead_id, phone, time_zone, btrim(title), notes, coalesce(due_at, now()),
            coalesce(priority, 0), source, enrollment_id, step_position)
    RETURNING id INTO new_id;
    RETURN new_id;
END
$$;

CREATE FUNCTION twilio.create_action(kind text, title text, phone text DEFAULT NULL, lead_id uuid DEFAULT NULL,
                                     due_at timestamptz DEFAULT now(), priority integer DEFAULT 0,
                                     notes text DEFAULT NULL, time_zone text DEFAULT NULL)
    RETURNS twilio.manual_actions
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    new_id uuid := twilio._create_action(uid, kind, title, phone, lead_id, due_at, priority, notes, time_zone,
                                         'manual');
    a twilio.manual_actions;
BEGIN
    SELECT * INTO a FROM twilio.manual_actions m WHERE m.user_id = uid AND m.id = new_id;
    RETURN a;
END
$$;
COMMENT ON FUNCTION twilio.create_action(text, text, text, uuid, timestamptz, integer, text, text) IS
    'Queues a manual action (call, text or follow_up) for the caller';

-- A JSON array of objects with create_action's argument names; all or nothing, and an error names the item.
CREATE FUNCTION twilio.create_actions(actions jsonb) RETURNS SETOF twilio.manual_actions
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    uid uuid := twilio._require_user();
    item jsonb;
    i integer := 0;
    ids uuid[] := '{}';
    unknown text;
    state text;
    msg text;
BEGIN
    IF jsonb_typeof(actions) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'actions must be a JSON array of objects' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_array_length(actions) > 1000 THEN
        RAISE EXCEPTION 'at most 1000 actions per call (got %)', jsonb_array_length(actions)
            USING ERRCODE = 'program_limit_exceeded';
    END IF;
    FOR item IN SELECT value FROM jsonb_array_elements(actions) LOOP
        BEGIN
            IF jsonb_typeof(item) IS DISTINCT FROM 'object' THEN
                RAISE EXCEPTION 'not a JSON object' USING ERRCODE = 'invalid_parameter_value';
            END IF;
            SELECT string_agg(k, ', ') INTO unknown FROM jsonb_object_keys(item) k
             WHERE k NOT IN ('kind', 'title', 'phone', 'lead_id', 'due_at', 'priority', 'notes', 'time_zone');
            IF unknown IS NOT NULL THEN
                RAISE EXCEPTION 'unknown key(s): %', unknown USING ERRCODE = 'invalid_parameter_value',
                    HINT = 'Keys are kind, title, phone, lead_id, due_at, priority, notes and time_zone.';
            END IF;
            ids := ids || twilio._create_action(uid, item ->> 'kind', item ->> 'title', item ->> 'phone',
                                                (item ->> 'lead_id')::uuid, (item ->> 'due_at')::timestamptz,
                                                (item ->> 'priority')::integer, item ->> 'notes',
                                                item ->> 'time_zone', 'bulk');
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            RAISE EXCEPTION 'actions[%]: %', i, msg USING ERRCODE = state;
        END;
        i := i + 1;
    END LOOP;
    RETURN QUERY SELECT a.* FROM unnest(ids) WITH ORDINALITY AS n(id, ord)
                  JOIN twilio.manual_actions a ON a.user_id = uid AND a.id = n.id
                 ORDER BY n.ord;
END
$$;
COMMENT ON FUNCTION twilio.create_actions(jsonb) IS
    'Queues many manual actions for the caller from a JSON array (all or nothing; errors name actions[i])';

CREATE FUNCTION twilio._require_action(uid uuid, action_id uuid) RETURNS twilio.manual_actions
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a twilio.manual_actions;
BEGIN
    SELECT * INTO a FROM twilio.manual_actions m WHERE m.user_id = uid AND m.id = action_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'manual action % not found', action_id USING ERRCODE = 'no_data_found';
    END IF;
    RETURN a;
END
$$;

-- A call of the action's still going on (either leg).
CREATE FUNCTION twilio._action_has_live_call(uid uuid, action_id uuid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
RETURN EXISTS (SELECT 1 FROM twilio.voice_calls v
                WHERE v.user_id = uid AND v.action_id = _action_has_live_call.action_id
                  AND v.status IN ('queued', 'initiated', 'ringing', 'in-progress'));

-- The user's current action: in progress, and not a claim abandoned over 30 minutes ago without a live call.
CREATE FUNCTION twilio._current_action(uid uuid) RETURNS SETOF twilio.manual_actions
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM twilio.manual_actions a
     WHERE a.user_id = uid AND a.status = 'in_progress'
       AND (a.claimed_at > now() - interval '30 minutes' OR twilio._action_has_live_call(uid, a.id))
     ORDER BY a.claimed_at DESC, a.id DESC
     LIMIT 1
$$;

-- The current action, else the next due open one, claimed. One user's calls take turns (two tabs get the same
-- action); SKIP LOCKED passes over an action another transaction is completing or dialing.
CREATE FUNCTION twilio._next_action(uid uuid) RETURNS SETOF twilio.manual_actions
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('byo_twilio.dialer:' || uid::text, 0));
    UPDATE twilio.manual_actions a SET status = 'open', claimed_at = NULL
     WHERE a.user_id = uid
       AND a.id IN (SELECT s.id FROM twilio.manual_actions s
                     WHERE s.user_id = uid AND s.status = 'in_progress'
                       AND s.claimed_at <= now() - interval '30 minutes'
                       AND NOT twilio._action_has_live_call(uid, s.id)
                       FOR UPDATE SKIP LOCKED);
    RETURN QUERY SELECT * FROM twilio._current_action(uid);
    IF FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY
    UPDATE twilio.manual_actions a SET status = 'in_progress', claimed_at = now()
     WHERE a.user_id = uid
       AND a.id = (SELECT o.id FROM twilio.manual_actions o
                    WHERE o.user_id = uid AND o.status = 'open' AND o.due_at <= now()
                    ORDER BY o.priority DESC, o.due_at, o.id
                    LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING *;
END
$$;

CREATE FUNCTION twilio.next_action() RETURNS SETOF twilio.manual_actions
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM twilio._next_action(twilio._require_user())
$$;
COMMENT ON FUNCTION twilio.next_action() IS
    'The caller''s current action, else their next due open action, claimed (no row: nothing is due)';

CREATE FUNCTION twilio.current_action() RETURNS SETOF twilio.manual_actions
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM twilio._current_action(twilio._require_user())
$$;
COMMENT ON FUNCTION twilio.current_action() IS 'The caller''s action in progress, if any (claims nothing)';

-- What auto-advance hands back after an action is finished: the next action when the user asked for it.
CREATE FUNCTION twilio._advance(uid uuid) RETURNS SETOF twilio.manual_actions
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF (twilio._dialer_settings_of(uid)).auto_advance THEN
        RETURN QUERY SELECT * FROM twilio._next_action(uid);
    END IF;
END
$$;

-- Finishes an open, in-progress or failed action as done (with an outcome) or skipped; notes are appended. An action
-- already done (by the user, or by its call's end) takes a new outcome: the user records what the call achieved.
-- Skipped is final. An amended outcome's completed_at is the amendment's time, so a lead leg that ends late no
-- longer corrects it (_apply_call_status corrects only the outcome the agent leg's end set).
CREATE FUNCTION twilio._finish_action(uid uuid, action_id uuid, new_status text, outcome text, notes text)
    RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    a twilio.manual_actions;
    merged text;
BEGIN
    IF new_status = 'done' AND (outcome IS NULL OR outcome NOT IN (
            'connected', 'no_answer', 'busy', 'voicemail', 'failed', 'canceled', 'agent_unreachable', 'wrong_number',
            'do_not_call', 'not_interested', 'callback', 'sent', 'other')) THEN
        RAISE EXCEPTION 'unknown outcome %', coalesce(quote_literal(outcome), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'One of connected, no_answer, busy, voicemail, failed, canceled, agent_unreachable, '
                         'wrong_number, do_not_call, not_interested, callback, sent, other.';
    END IF;
    a := twilio._require_action(uid, action_id);
    IF a.status = 'skipped' OR (a.status = 'done' AND new_status <> 'done') THEN
        RAISE EXCEPTION 'manual action % is already %', action_id, a.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    merged := CASE WHEN nullif(btrim(notes), '') IS NULL THEN a.notes
                   WHEN a.notes IS NULL THEN notes
                   ELSE a.notes || E'\n' || notes END;
    IF char_length(merged) > 4000 THEN
        RAISE EXCEPTION 'the action''s notes would have % characters; at most 4000 are kept', char_length(merged)
            USING ERRCODE = 'string_data_right_truncation';
    END IF;
    IF outcome = 'do_not_call' THEN
        IF a.phone IS NULL THEN
            RAISE EXCEPTION 'manual action % has no phone number to put on the do-not-call list', action_id
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        INSERT INTO twilio.do_not_call (user_id, phone, source, reason)
        VALUES (uid, a.phone, 'call_outcome', left('outcome of: ' || a.title, 500))
        ON CONFLICT (user_id, phone) DO NOTHING;
    END IF;
    UPDATE twilio.manual_actions m
       SET status = new_status, outcome = CASE WHEN new_status = 'done' THEN outcome END, notes = merged,
           completed_at = now()
     WHERE m.user_id = uid AND m.id = a.id;
END
$$;

-- Completing an action already done amends it and hands back the current action as it is: the queue advanced
-- when the action was first finished, so nothing more is claimed.
CREATE FUNCTION twilio.complete_action(action_id uuid, outcome text, notes text DEFAULT NULL)
    RETURNS SETOF twilio.manual_actions
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    was text;
BEGIN
    SELECT m.status INTO was FROM twilio.manual_actions m WHERE m.user_id = uid AND m.id = action_id FOR UPDATE;
    PERFORM twilio._finish_action(uid, action_id, 'done', outcome, notes);
    IF was = 'done' THEN
        RETURN QUERY SELECT * FROM twilio._current_action(uid);
    ELSE
        RETURN QUERY SELECT * FROM twilio._advance(uid);
    END IF;
END
$$;
COMMENT ON FUNCTION twilio.complete_action(uuid, text, text) IS
    'Marks the caller''s action done with an outcome and returns the next action (claimed) when auto_advance is on; '
    'on an action already done, amends its outcome and returns the current action';

CREATE FUNCTION twilio.skip_action(action_id uuid, notes text DEFAULT NULL) RETURNS SETOF twilio.manual_actions
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    uid uuid := twilio._require_user();
BEGIN
    PERFORM twilio._finish_action(uid, action_id, 'skipped', NULL, notes);
    RETURN QUERY SELECT * FROM twilio._advance(uid);
END
$$;
COMMENT ON FUNCTION twilio.skip_action(uuid, text) IS
    'Skips the caller''s action; returns the next action (claimed) when auto_advance is on';

CREATE FUNCTION twilio.release_action(action_id uuid) RETURNS twilio.manual_actions
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
    a twilio.manual_actions := twilio._require_action(uid, action_id);
BEGIN
    IF a.status NOT IN ('open', 'in_progress') THEN
        RAISE EXCEPTION 'manual action % is %; only an open or in-progress action can be released', action_id, a.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF twilio._action_has_live_call(uid, a.id) THEN
        RAISE EXCEPTION 'manual action % has a call going on' , action_id
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Release it when the call has ended.';
    END IF;
    UPDATE twilio.manual_actions m SET status = 'open', claimed_at = NULL
     WHERE m.user_id = uid AND m.id = a.id
    RETURNING * INTO a;
    RETURN a;
END
$$;
COMMENT ON FUNCTION twilio.release_action(uuid) IS 'Puts the caller''s claimed action back in the queue';

------------------------------------------------------------------------------------------------------------------
-- Who may call the queue functions (90_privileges.sql revokes from PUBLIC; repeated here so the update script
-- that copies this part grants the same).
------------------------------------------------------------------------------------------------------------------
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA twilio FROM PUBLIC;
GRANT EXECUTE ON FUNCTION twilio.get_dialer_settings(), twilio.save_dialer_settings(text, time, time, text, boolean),
                          twilio.create_action(text, text, text, uuid, timestamptz, integer, text, text),
                          twilio.create_actions(jsonb), twilio.next_action(), twilio.current_action(),
                          twilio.complete_action(uuid, text, text), twilio.skip_action(uuid, text),
                          twilio.release_action(uuid)
    TO authenticated;
------------------------------------------------------------------------------------------------------------------
-- Power dialer, part 2 (docs/dialer.md): click-to-call. twilio.dial checks everything, then writes the agent leg
-- and an outbox job in the caller's transaction; the dispatcher asks Twilio to ring the agent and bridge the lead.
-- Status callbacks (through _route_webhook) move each leg forward and settle the action when the agent leg ends.
------------------------------------------------------------------------------------------------------------------

-- Calls of an action (live-call checks); platform-account callbacks, which name no user, find their call by SID.
CREATE INDEX voice_calls_action ON twilio.voice_calls (user_id, action_id) WHERE action_id IS NOT NULL;
CREATE INDEX voice_calls_call_sid ON twilio.voice_calls (call_sid);
-- Agent legs Twilio has not given a SID yet: a callback that beats the dispatcher to it is held for them.
CREATE INDEX voice_calls_awaiting_sid ON twilio.voice_calls (from_number) WHERE call_sid IS NULL;
-- Held callbacks, by the agent leg's SID they wait for (theirs, or their parent's).
CREATE INDEX webhook_events_held_calls
    ON twilio.webhook_events (user_id, (coalesce(params ->> 'ParentCallSid', params ->> 'CallSid')))
    WHERE effect = 'status for an unknown call';

CREATE FUNCTION twilio._require_not_do_not_call(uid uuid, phone text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM twilio.do_not_call d WHERE d.user_id = uid AND d.phone = _require_not_do_not_call.phone)
    THEN
        RAISE EXCEPTION '% is on your do-not-call list', phone USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'See twilio.do_not_call; remove the entry there if it was added by mistake.';
    END IF;
END
$$;

-- Whether `at` falls in [hours_start, hours_end) on the wall clock of time zone tz.
CREATE FUNCTION twilio._within_calling_hours(at timestamptz, tz text, hours_start time, hours_end time)
    RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
RETURN (at AT TIME ZONE tz)::time >= hours_start AND (at AT TIME ZONE tz)::time < hours_end;

CREATE FUNCTION twilio._require_calling_hours(phone text, tz text, hours_start time, hours_end time,
                                              at timestamptz DEFAULT now()) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT twilio._within_calling_hours(at, tz, hours_start, hours_end) THEN
        RAISE EXCEPTION 'it is % in % for %: outside your calling hours, % to %',
                        to_char(at AT TIME ZONE tz, 'Dy HH24:MI'), tz, phone, to_char(hours_start, 'HH24:MI'),
                        to_char(hours_end, 'HH24:MI')
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Calls start only within the calling hours of the lead''s local time (twilio.save_dialer_settings).';
    END IF;
END
$$;

-- The body of twilio.dial: every check first (each a clear error, nothing written), then the agent leg, the action
-- claimed, and the outbox job.
CREATE FUNCTION twilio._dial(uid uuid, action_id uuid, lead_phone text, agent_phone text, time_zone text)
    RETURNS twilio.voice_calls
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    sender record;
    settings twilio.dialer_settings := twilio._dialer_settings_of(uid);
    act twilio.manual_actions;
    lead text := lead_phone;
    agent text := coalesce(agent_phone, settings.agent_phone);
    tz text;
    leg_row twilio.voice_calls;
BEGIN
    IF (action_id IS NULL) = (lead_phone IS NULL) THEN
        RAISE EXCEPTION 'give exactly one of action_id and lead_phone' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO sender FROM twilio._require_sender(uid);
    IF sender.sms_number IS NULL THEN
        RAISE EXCEPTION 'your Twilio settings have no phone number to call from'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Save settings with sms_number: it is the caller id the lead sees.';
    END IF;
    IF agent IS NULL THEN
        RAISE EXCEPTION 'no agent phone: the dialer does not know which phone to ring first'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Pass agent_phone, or save yours with twilio.save_dialer_settings(agent_phone => ...).';
    END IF;
    IF action_id IS NOT NULL THEN
        act := twilio._require_action(uid, action_id);
        IF act.status IN ('done', 'skipped') THEN
            RAISE EXCEPTION 'manual action % is already %', action_id, act.status
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        IF act.phone IS NULL THEN
            RAISE EXCEPTION 'manual action % has no phone number to call', action_id
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        lead := act.phone;
    END IF;
    PERFORM twilio._require_e164('agent_phone', agent);
    PERFORM twilio._require_e164('lead_phone', lead);
    IF lead = agent THEN
        RAISE EXCEPTION 'the lead''s number % is the agent phone', lead USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM twilio._require_not_do_not_call(uid, lead);
    tz := coalesce(act.time_zone, time_zone, settings.default_time_zone);
    IF tz IS NULL THEN
        RAISE EXCEPTION 'the lead''s time zone is unknown, so calling hours cannot be checked'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give the action a time_zone, pass time_zone, or save a default_time_zone in the dialer settings.';
    END IF;
    PERFORM twilio._require_time_zone(tz);
    PERFORM twilio._require_calling_hours(lead, tz, settings.calling_hours_start, settings.calling_hours_end);
    IF action_id IS NOT NULL AND twilio._action_has_live_call(uid, act.id) THEN
        RAISE EXCEPTION 'manual action % already has a call going on', action_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF action_id IS NULL AND EXISTS (
            SELECT 1 FROM twilio.voice_calls v
             WHERE v.user_id = uid AND v.leg = 'agent' AND v.lead_phone = lead
               AND v.status IN ('queued', 'initiated', 'ringing', 'in-progress')) THEN
        RAISE EXCEPTION 'a call to % is already going on', lead USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    INSERT INTO twilio.voice_calls (user_id, status, leg, to_number, from_number, lead_phone, action_id, account_sid)
    VALUES (uid, 'queued', 'agent', agent, sender.sms_number, lead, act.id, sender.account_sid)
    RETURNING * INTO leg_row;
    IF act.id IS NOT NULL THEN
        UPDATE twilio.manual_actions m
           SET status = 'in_progress', claimed_at = now(), call_id = leg_row.id, outcome = NULL, completed_at = NULL
         WHERE m.user_id = uid AND m.id = act.id;
    END IF;
    INSERT INTO twilio.outbox (user_id, kind, call_id) VALUES (uid, 'create_call', leg_row.id);
    RETURN leg_row;
END
$$;

CREATE FUNCTION twilio.dial(action_id uuid DEFAULT NULL, lead_phone text DEFAULT NULL, agent_phone text DEFAULT NULL,
                            time_zone text DEFAULT NULL) RETURNS twilio.voice_calls
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN twilio._dial(twilio._require_user(), action_id, lead_phone, agent_phone, time_zone);
COMMENT ON FUNCTION twilio.dial(uuid, text, text, text) IS
    'Click-to-call: rings the caller''s agent phone, then bridges the lead (an action''s phone, or lead_phone)';

------------------------------------------------------------------------------------------------------------------
-- Status callbacks
------------------------------------------------------------------------------------------------------------------

-- Twilio's CallStatus in the order a call goes through them; every ending ranks the same (the first one wins).
CREATE FUNCTION twilio._call_status_rank(status text) RETURNS integer
LANGUAGE sql IMMUTABLE
RETURN CASE status WHEN 'queued' THEN 0 WHEN 'initiated' THEN 1 WHEN 'ringing' THEN 2 WHEN 'in-progress' THEN 3
                   WHEN 'completed' THEN 4 WHEN 'busy' THEN 4 WHEN 'no-answer' THEN 4 WHEN 'failed' THEN 4
                   WHEN 'canceled' THEN 4 END;

-- What the lead leg says about the call, as an action outcome. Not yet ended: what it says so far (corrected when
-- it ends, see _apply_call_status).
CREATE FUNCTION twilio._call_outcome(lead twilio.voice_calls) RETURNS text
LANGUAGE sql IMMUTABLE
RETURN CASE
    WHEN lead.status IN ('completed', 'in-progress') OR lead.answered_at IS NOT NULL THEN
        CASE WHEN lead.answered_by LIKE 'machine%' OR lead.answered_by = 'fax' THEN 'voicemail' ELSE 'connected' END
    WHEN lead.status = 'busy' THEN 'busy'
    WHEN lead.status = 'failed' THEN 'failed'
    WHEN lead.status = 'canceled' THEN 'canceled'
    ELSE 'no_answer'
END;

-- The agent leg has ended: the action (if this is still its latest call, and the user has not finished it) gets
-- the call's outcome. An agent who never answered: the action goes back to the queue as 'agent_unreachable'.
-- Otherwise it is done (completed_at = the leg's ended_at marks an outcome set by the call), and the next action
-- is claimed when the user asked for auto-advance.
CREATE FUNCTION twilio._settle_action(uid uuid, agent twilio.voice_calls) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    act twilio.manual_actions;
    lead twilio.voice_calls;
    new_outcome text;
BEGIN
    SELECT * INTO act FROM twilio.manual_actions a WHERE a.user_id = uid AND a.id = agent.action_id FOR UPDATE;
    IF NOT FOUND OR act.call_id IS DISTINCT FROM agent.id THEN
        RETURN 'the action has a newer call';
    ELSIF act.status IN ('done', 'skipped') THEN
        RETURN 'the action was already ' || act.status;
    END IF;
    IF agent.answered_at IS NULL AND agent.status <> 'completed' THEN
        UPDATE twilio.manual_actions a
           SET status = 'open', outcome = 'agent_unreachable', claimed_at = NULL, completed_at = NULL
         WHERE a.user_id = uid AND a.id = act.id;
        RETURN 'action back in the queue: agent_unreachable';
    END IF;
    SELECT * INTO lead FROM twilio.voice_calls v
     WHERE v.user_id = uid AND v.parent_call_sid = agent.call_sid ORDER BY v.created_at DESC, v.id DESC LIMIT 1;
    new_outcome := twilio._call_outcome(lead);
    UPDATE twilio.manual_actions a SET status = 'done', outcome = new_outcome, completed_at = agent.ended_at
     WHERE a.user_id = uid AND a.id = act.id;
    IF EXISTS (SELECT 1 FROM twilio._advance(uid)) THEN
        RETURN 'action done: ' || new_outcome || '; next action claimed';
    END IF;
    RETURN 'action done: ' || new_outcome;
END
$$;

-- One voice status callback, applied to the user's calls (from _route_webhook). Statuses only move forward; the
-- first ending wins; details (duration, AnsweredBy, SIP response, error) are kept as they come. An unknown CallSid
-- whose ParentCallSid is ours is the bridged lead leg. A callback for an agent leg whose SID the dispatcher has not
-- recorded yet is held ('status for an unknown call') and applied by _apply_held_call_statuses once it has.
CREATE FUNCTION twilio._apply_call_status(uid uuid, p jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    sid text := p ->> 'CallSid';
    new_status text := p ->> 'CallStatus';
    parent_sid text := nullif(p ->> 'ParentCallSid', '');
    new_rank integer := twilio._call_status_rank(p ->> 'CallStatus');
    duration integer := nullif(p ->> 'CallDuration', '')::integer;
    sequence_no integer := nullif(p ->> 'SequenceNumber', '')::integer;
    sip integer := nullif(p ->> 'SipResponseCode', '')::integer;
    err integer := nullif(p ->> 'ErrorCode', '')::integer;
    parent twilio.voice_calls;
    leg_row twilio.voice_calls;
    advanced boolean;
    what text;
BEGIN
    IF new_rank IS NULL THEN
        RETURN 'call status ' || left(coalesce(new_status, 'NULL'), 40) || ' not understood: not applied';
    END IF;
    IF parent_sid IS NOT NULL THEN  -- locked first: the parent's own callbacks take the same lock (see below)
        SELECT * INTO parent FROM twilio.voice_calls v WHERE v.user_id = uid AND v.call_sid = parent_sid FOR UPDATE;
    END IF;
    SELECT * INTO leg_row FROM twilio.voice_calls v WHERE v.user_id = uid AND v.call_sid = sid FOR UPDATE;
    IF NOT FOUND THEN
        IF parent.id IS NULL AND EXISTS (
                SELECT 1 FROM twilio.voice_calls v
                 WHERE v.user_id = uid AND v.call_sid IS NULL AND v.from_number = p ->> 'From'
                   AND v.status = 'queued'
                   AND CASE WHEN parent_sid IS NULL THEN v.to_number ELSE v.lead_phone END = p ->> 'To') THEN
            RETURN 'status for an unknown call';
        END IF;
        INSERT INTO twilio.voice_calls (user_id, call_sid, status, from_number, to_number, leg, parent_call_sid,
                                        action_id, account_sid)
        VALUES (uid, sid, 'queued', p ->> 'From', p ->> 'To', CASE WHEN parent.id IS NULL THEN 'other' ELSE 'lead' END,
                parent_sid, parent.action_id, parent.account_sid)  -- a stranger's AccountSid is not taken on trust
        ON CONFLICT (user_id, call_sid) DO NOTHING;
        SELECT * INTO leg_row FROM twilio.voice_calls v WHERE v.user_id = uid AND v.call_sid = sid FOR UPDATE;
    END IF;
    advanced := new_rank > twilio._call_status_rank(leg_row.status) AND twilio._call_status_rank(leg_row.status) < 4;
    -- An event that moves the call forward brings the newer details; a late one only fills in what is missing.
    UPDATE twilio.voice_calls v
       SET status = CASE WHEN advanced THEN new_status ELSE v.status END,
           duration_seconds = CASE WHEN advanced THEN coalesce(duration, v.duration_seconds)
                                   ELSE coalesce(v.duration_seconds, duration) END,
           sequence_number = greatest(v.sequence_number, sequence_no),
           answered_by = CASE WHEN advanced THEN coalesce(nullif(p ->> 'AnsweredBy', ''), v.answered_by)
                              ELSE coalesce(v.answered_by, nullif(p ->> 'AnsweredBy', '')) END,
           sip_response_code = CASE WHEN advanced THEN coalesce(sip, v.sip_response_code)
                                    ELSE coalesce(v.sip_response_code, sip) END,
           error_code = CASE WHEN advanced THEN coalesce(err, v.error_code) ELSE coalesce(v.error_code, err) END,
           error_message = CASE WHEN advanced THEN coalesce(nullif(p ->> 'ErrorMessage', ''), v.error_message)
                                ELSE coalesce(v.error_message, nullif(p ->> 'ErrorMessage', '')) END,
           from_number = coalesce(v.from_number, p ->> 'From'),
           to_number = coalesce(v.to_number, p ->> 'To'),
           -- Answered when it went in progress; a completed call that skipped that (out of order) was answered
           -- its duration before it ended.
           answered_at = CASE WHEN v.answered_at IS NOT NULL THEN v.answered_at
                              WHEN advanced AND new_status = 'in-progress' THEN now()
                              WHEN advanced AND new_status = 'completed' AND duration IS NOT NULL
                                  THEN now() - make_interval(secs => duration) END,
           ended_at = CASE WHEN advanced AND new_rank = 4 THEN now() ELSE v.ended_at END,
           updated_at = now()
     WHERE v.user_id = uid AND v.id = leg_row.id
    RETURNING * INTO leg_row;
    what := leg_row.leg || ' leg ' || new_status;
    IF NOT advanced THEN
        RETURN what || CASE WHEN new_status = leg_row.status THEN ' again' ELSE ' after ' || leg_row.status END
                    || ': status kept';
    END IF;
    IF new_rank = 4 AND leg_row.leg = 'agent' AND leg_row.action_id IS NOT NULL THEN
        RETURN what || '; ' || twilio._settle_action(uid, leg_row);
    END IF;
    -- The lead leg ended after its agent leg: correct the outcome the agent leg's end left on the action.
    IF new_rank = 4 AND leg_row.leg = 'lead' AND parent.ended_at IS NOT NULL THEN
        UPDATE twilio.manual_actions a SET outcome = twilio._call_outcome(leg_row)
         WHERE a.user_id = uid AND a.id = parent.action_id AND a.call_id = parent.id AND a.status = 'done'
           AND a.completed_at = parent.ended_at AND a.outcome IS DISTINCT FROM twilio._call_outcome(leg_row);
        IF FOUND THEN
            RETURN what || '; action outcome now ' || twilio._call_outcome(leg_row);
        END IF;
    END IF;
    RETURN what;
END
$$;

-- For the dispatcher, once it has recorded an agent leg's SID: the callbacks that came first (that leg's and its
-- lead leg's), applied in the order they arrived. Returns how many.
CREATE FUNCTION twilio._apply_held_call_statuses(uid uuid, call_sid text) RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    e record;
    n integer := 0;
    new_effect text;
BEGIN
    FOR e IN SELECT w.id, w.params FROM twilio.webhook_events w
              WHERE w.user_id = uid AND w.effect = 'status for an unknown call'
                AND coalesce(w.params ->> 'ParentCallSid', w.params ->> 'CallSid') = _apply_held_call_statuses.call_sid
              ORDER BY w.id LOOP
        BEGIN
            new_effect := 'applied late: ' || twilio._apply_call_status(uid, e.params);
        EXCEPTION WHEN OTHERS THEN  -- as handle_webhook keeps a signed callback it cannot apply
            new_effect := 'not applied: ' || left(SQLERRM, 200);
        END;
        UPDATE twilio.webhook_events w SET effect = new_effect
         WHERE w.user_id = uid AND w.id = e.id;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

------------------------------------------------------------------------------------------------------------------
-- Who may call (see 70_dialer_queue.sql)
------------------------------------------------------------------------------------------------------------------
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA twilio FROM PUBLIC;
GRANT EXECUTE ON FUNCTION twilio.dial(uuid, text, text, text) TO authenticated;
------------------------------------------------------------------------------------------------------------------
-- Who may call what: nothing by default; then exactly the public API.
------------------------------------------------------------------------------------------------------------------
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA twilio FROM PUBLIC;
GRANT EXECUTE ON FUNCTION twilio.compute_signature(text, text, jsonb),
                          twilio.validate_signature(text, text, text, text, text), twilio.token_sealing_key()
    TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION twilio.save_settings(text, text, text, text, text), twilio.get_settings(),
                          twilio.status(), twilio.verify_settings(), twilio.disconnect(),
                          twilio.get_or_create_conversation_for_lead(uuid, text, text),
                          twilio.send_conversation_message(uuid, text), twilio.send_sms(text, text)
    TO authenticated;
GRANT EXECUTE ON FUNCTION twilio.set_platform_account(text, text, text, text, text, boolean),
                          twilio.set_platform_fallback(boolean), twilio.get_platform_account(),
                          twilio.clear_platform_account(), twilio.rotate_encryption_keys(),
                          twilio.encryption_status(), twilio.dispatcher_pid()
    TO service_role;
-- The webhook entry points are for the relay's own role only (see relay/README.md):
--   CREATE ROLE byo_twilio_relay LOGIN PASSWORD '...';
--   GRANT USAGE ON SCHEMA twilio TO byo_twilio_relay;
--   GRANT EXECUTE ON FUNCTION twilio.handle_webhook(text, text, text, text),
--                             twilio.handle_webhooks(text[], text[], text[], text[]) TO byo_twilio_relay;
