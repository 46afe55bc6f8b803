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
    max_segments_per_second real CHECK (max_segments_per_second > 0),
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

CREATE FUNCTION twilio._settings_info(uid uuid) RETURNS SETOF twilio.settings_info
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
    IF NOT (verdict ->> 'ok')::boolean THEN
        RAISE EXCEPTION '%', verdict ->> 'message'
            USING ERRCODE = verdict ->> 'sqlstate',
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
    sid text := btrim(account_sid);
    token text := btrim(auth_token);
    conv text := nullif(btrim(conversations_service_sid), '');
    msg text := nullif(btrim(messaging_service_sid), '');
    num text := nullif(btrim(sms_number), '');
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
    SELECT * INTO result FROM twilio._settings_info(uid);
    RETURN result;
END
$$;
COMMENT ON FUNCTION twilio.save_settings(text, text, text, text, text) IS
    'Verify the caller''s Twilio account, services and number with Twilio, then save (token encrypted)';

CREATE FUNCTION twilio.get_settings() RETURNS SETOF twilio.settings_info
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM twilio._settings_info(twilio._require_user())
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
    sid text := btrim(account_sid);
    token text := btrim(auth_token);
    conv text := nullif(btrim(conversations_service_sid), '');
    msg text := nullif(btrim(messaging_service_sid), '');
    num text := nullif(btrim(sms_number), '');
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
    kind text NOT NULL CHECK (kind IN ('create_conversation', 'send_conversation_message', 'send_sms')),
    conversation_id uuid,
    message_id uuid,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'in_flight', 'done', 'failed', 'ambiguous')),
    attempts integer NOT NULL DEFAULT 0,
    not_before timestamptz NOT NULL DEFAULT now(),
    claimed_at timestamptz,
    finished_at timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
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
    IF body IS NULL OR btrim(body) = '' THEN
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

CREATE FUNCTION twilio.get_or_create_conversation_for_lead(lead_id uuid, phone text, friendly_name text DEFAULT NULL)
    RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
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
COMMENT ON FUNCTION twilio.get_or_create_conversation_for_lead(uuid, text, text) IS
    'The caller''s conversation for a lead: created here at once, and at Twilio by the dispatcher after commit';

CREATE FUNCTION twilio.send_conversation_message(conversation_id uuid, body text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
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

CREATE FUNCTION twilio.send_sms(to_number text, body text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    uid uuid := twilio._require_user();
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
------------------------------------------------------------------------------------------------------------------
-- The dispatcher's side of the outbox (internal; run by the background worker as the bootstrap superuser).
-- Each call is its own short transaction; HTTP happens between them with no transaction open.
------------------------------------------------------------------------------------------------------------------

-- Claims up to max_rows due jobs: only the oldest open job of each conversation (messages go out in order, after
-- the conversation exists), rows other workers hold are skipped. Returns what the requests need.
CREATE FUNCTION twilio._claim_outbox(max_rows integer)
    RETURNS TABLE (user_id uuid, id bigint, kind text, prior_state text, attempts integer, claimed_at timestamptz,
                   source text, owner text, account_sid text, auth_token_envelope bytea,
                   conversations_service_sid text, messaging_service_sid text, sms_number text, webhook_key text,
                   max_segments_per_second real, conversation_id uuid, conversation_status text,
                   conversation_sid text, participant_sid text, phone text, friendly_name text, message_id uuid,
                   body text, to_number text, segments integer, created_at text)
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
               o.message_id
    )
    SELECT c.user_id, c.id, c.kind, c.prior_state, c.attempts, c.claimed_at,
           cfg.source, cfg.owner, cfg.account_sid, cfg.auth_token_envelope,
           coalesce(conv.service_sid, cfg.conversations_service_sid), cfg.messaging_service_sid,
           coalesce(conv.proxy_address, cfg.sms_number), cfg.webhook_key, cfg.max_segments_per_second,
           conv.id, conv.status, conv.twilio_sid, conv.participant_sid, conv.phone, conv.friendly_name,
           m.id, m.body, m.to_number, m.segments,
           to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
      FROM claimed c
      LEFT JOIN twilio.conversations conv ON conv.user_id = c.user_id AND conv.id = c.conversation_id
      LEFT JOIN twilio.messages m ON m.user_id = c.user_id AND m.id = c.message_id
      LEFT JOIN LATERAL twilio._resolve_config(c.user_id) cfg ON true
     ORDER BY c.id
$$;

-- Records what the dispatcher learnt, for a batch of jobs (a JSON array, one object per job):
--   {"user_id", "id", "state": pending|done|failed|ambiguous, "retry_in_ms", "unclaim": bool, "error",
--    "message": {"status", "twilio_sid", "error_code", "error_message"},
--    "conversation": {"status", "twilio_sid", "participant_sid", "error_code", "error_message"},
--    "opt_out": "+1..."}
CREATE FUNCTION twilio._finish_outbox(results jsonb) RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r jsonb;
    uid uuid;
    job twilio.outbox;
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

-- Voice status callbacks, kept for the power dialer: the latest state of each call.
CREATE TABLE twilio.voice_calls (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    call_sid text NOT NULL CHECK (call_sid ~ '^CA[0-9a-fA-F]{32}$'),
    status text NOT NULL,
    from_number text,
    to_number text,
    duration_seconds integer,
    sequence_number integer,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, call_sid)
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
        INSERT INTO twilio.voice_calls AS v (user_id, call_sid, status, from_number, to_number, duration_seconds,
                                             sequence_number)
        VALUES (uid, p ->> 'CallSid', p ->> 'CallStatus', p ->> 'From', p ->> 'To',
                nullif(p ->> 'CallDuration', '')::integer, nullif(p ->> 'SequenceNumber', '')::integer)
        ON CONFLICT (user_id, call_sid) DO UPDATE
            SET status = EXCLUDED.status, duration_seconds = coalesce(EXCLUDED.duration_seconds, v.duration_seconds),
                sequence_number = EXCLUDED.sequence_number, updated_at = now()
            WHERE coalesce(EXCLUDED.sequence_number, 0) >= coalesce(v.sequence_number, 0);
        what_happened := 'call ' || (p ->> 'CallStatus');
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
-- Who may call what: nothing by default; then exactly the public API.
------------------------------------------------------------------------------------------------------------------
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA twilio FROM PUBLIC;
GRANT EXECUTE ON FUNCTION twilio.compute_signature(text, text, jsonb),
                          twilio.validate_signature(text, text, text, text, text)
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
