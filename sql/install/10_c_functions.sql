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
