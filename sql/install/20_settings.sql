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

-- The webhook URLs carrying a user's key (NULL until byo_twilio.webhook_base_url is set). Each ends in Twilio's
-- connection overrides (a fragment Twilio reads and never sends): retry on a connect failure, a read timeout or a
-- 5xx, 5 times within 15 s, so a relay that cannot store a webhook (503) gets it again. The webhook check accepts
-- signatures over the URL with and without it (src/core/webhook_url.hpp, kConnectionOverrides: the same text).
CREATE FUNCTION twilio._webhook_urls(webhook_key text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_object_agg(kind, rtrim(base, '/') || '/twilio/' || webhook_key || '/' || kind
                                  || '#rc=5&rp=ct,rt,5xx&tt=15000')
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

-- Internal: a user's settings row, found by the primary key. (Many users may share an account SID; a lookup
-- that also names the SID must not let the planner walk the account_sid index instead.)
CREATE FUNCTION twilio._own_settings(uid uuid) RETURNS SETOF twilio.user_settings
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM twilio.user_settings s WHERE s.user_id = uid
$$;
-- Internal: the account for work created in account `pinned` (a conversation, a message, a call): that same
-- account while the user may still send with it (their own active settings, or the platform account while its
-- fallback is on), never another: Twilio knows a conversation only in the account it was created in. So a user
-- who connects their own account keeps their platform-account conversations; one who switches accounts keeps
-- those of the old account only while it is still theirs (no row: it is not). NULL `pinned`: the current account.
CREATE FUNCTION twilio._pinned_config(uid uuid, pinned text) RETURNS SETOF twilio._sender_config
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM twilio._resolve_config(uid) WHERE pinned IS NULL
    UNION ALL
    SELECT 'user', s.user_id::text, s.account_sid, s.auth_token_envelope, s.conversations_service_sid,
           s.messaging_service_sid, s.sms_number, s.webhook_key, s.max_segments_per_second
      FROM twilio._own_settings(uid) s
     WHERE s.status = 'active' AND s.account_sid = pinned
    UNION ALL
    SELECT 'platform', 'platform', p.account_sid, p.auth_token_envelope, p.conversations_service_sid,
           p.messaging_service_sid, p.sms_number, 'platform', NULL::real
      FROM twilio.platform_account p
     WHERE p.account_sid = pinned AND p.fallback_enabled
       AND NOT EXISTS (SELECT 1 FROM twilio._own_settings(uid) s WHERE s.status = 'active' AND s.account_sid = pinned)
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

