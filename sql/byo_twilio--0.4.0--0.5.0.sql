-- byo_twilio 0.4.0 -> 0.5.0: hardening (docs/security.md): tokens sealed in the browser or app, so no plaintext
-- token need ever sit in a statement, a parameter or a log; stricter settings and inputs.
\echo Use "ALTER EXTENSION byo_twilio UPDATE TO '0.5.0'" to load this file. \quit

CREATE FUNCTION twilio.token_sealing_key() RETURNS jsonb
    AS 'MODULE_PATHNAME', 'byo_token_sealing_key' LANGUAGE C STABLE;

COMMENT ON FUNCTION twilio.token_sealing_key() IS
    'The public key (X25519) to seal an auth token to before save_settings, so no plaintext token reaches SQL';

CREATE FUNCTION twilio._token_input(owner text, account_sid text, auth_token text) RETURNS text
    AS 'MODULE_PATHNAME', 'byo_token_input' LANGUAGE C STABLE;

-- Renamed: _settings_info is the name of settings_info's array type, which a call would be read as.
CREATE FUNCTION twilio._settings_of(uid uuid) RETURNS SETOF twilio.settings_info
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT s.account_sid, s.conversations_service_sid, s.messaging_service_sid, s.sms_number, s.status,
           twilio._mask_or_null(s.user_id::text, s.account_sid, s.auth_token_envelope),
           s.verified_at, s.last_error, s.created_at, s.updated_at, twilio._webhook_urls(s.webhook_key)
      FROM twilio.user_settings s
     WHERE s.user_id = uid
$$;

CREATE OR REPLACE FUNCTION twilio._raise_unless_ok(verdict jsonb) RETURNS void
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

CREATE OR REPLACE FUNCTION twilio.save_settings(account_sid text, auth_token text, conversations_service_sid text DEFAULT NULL,
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

CREATE OR REPLACE FUNCTION twilio.get_settings() RETURNS SETOF twilio.settings_info
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM twilio._settings_of(twilio._require_user())
$$;

CREATE OR REPLACE FUNCTION twilio.set_platform_account(account_sid text, auth_token text,
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

CREATE OR REPLACE FUNCTION twilio.set_platform_fallback(enabled boolean) RETURNS void
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

CREATE OR REPLACE FUNCTION twilio._require_body(body text) RETURNS text
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

DROP FUNCTION twilio._settings_info(uuid);

-- A rate near zero scheduled sends past the end of time: the column now has the setting's range.
UPDATE twilio.user_settings SET max_segments_per_second = NULL
 WHERE max_segments_per_second < 0.01::real OR max_segments_per_second > 100000;
ALTER TABLE twilio.user_settings DROP CONSTRAINT user_settings_max_segments_per_second_check,
    ADD CONSTRAINT user_settings_max_segments_per_second_check
        CHECK (max_segments_per_second >= 0.01::real AND max_segments_per_second <= 100000);

REVOKE ALL ON FUNCTION twilio.token_sealing_key(), twilio._token_input(text, text, text), twilio._settings_of(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION twilio.token_sealing_key() TO authenticated, service_role;
