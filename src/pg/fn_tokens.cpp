// SQL (internal, never granted to client roles): seal, mask, re-seal and inspect auth-token envelopes.
// Plaintext tokens enter here and never leave in plaintext.
#include <nlohmann/json.hpp>

#include "core/envelope.hpp"
#include "core/text.hpp"
#include "core/token_seal.hpp"
#include "pg/config.hpp"
#include "pg/datum.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(byo_seal_token);
PG_FUNCTION_INFO_V1(byo_token_mask);
PG_FUNCTION_INFO_V1(byo_reseal_token);
PG_FUNCTION_INFO_V1(byo_envelope_key_id);
PG_FUNCTION_INFO_V1(byo_encryption_key_ids);
PG_FUNCTION_INFO_V1(byo_token_sealing_key);
PG_FUNCTION_INFO_V1(byo_token_input);
}

using namespace byo;
using namespace byo::pg;

// _seal_token(owner text, account_sid text, auth_token text) returns bytea
extern "C" Datum byo_seal_token(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        const std::string owner = arg_text(fcinfo, 0);
        const std::string account_sid = arg_text(fcinfo, 1);
        Secret token = arg_secret(fcinfo, 2);
        Keyring ring = current_keyring();
        return bytea_datum(seal_envelope(ring.current(), token.view(), envelope_context(owner, account_sid)));
    });
}

// _token_mask(owner text, account_sid text, envelope bytea) returns text: asterisks and the last 4 characters.
extern "C" Datum byo_token_mask(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        const std::string owner = arg_text(fcinfo, 0);
        const std::string account_sid = arg_text(fcinfo, 1);
        Keyring ring = current_keyring();
        Secret token = open_envelope(ring, arg_bytea(fcinfo, 2), envelope_context(owner, account_sid));
        const std::size_t shown = token.size() >= 12 ? 4 : 0;
        std::string masked(token.size() - shown, '*');
        masked.append(token.view().substr(token.size() - shown));
        return text_datum(masked);
    });
}

// _reseal_token(owner text, account_sid text, envelope bytea) returns bytea: re-encrypted under the newest key.
extern "C" Datum byo_reseal_token(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        const std::string owner = arg_text(fcinfo, 0);
        const std::string account_sid = arg_text(fcinfo, 1);
        const std::string context = envelope_context(owner, account_sid);
        Keyring ring = current_keyring();
        Secret token = open_envelope(ring, arg_bytea(fcinfo, 2), context);
        return bytea_datum(seal_envelope(ring.current(), token.view(), context));
    });
}

// _envelope_key_id(envelope bytea) returns text
extern "C" Datum byo_envelope_key_id(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum { return text_datum(envelope_key_id(arg_bytea(fcinfo, 0))); });
}

// _encryption_key_ids() returns text[]: configured key ids, newest first (never key material).
extern "C" Datum byo_encryption_key_ids(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum { return text_array_datum(current_keyring().ids()); });
}

// token_sealing_key() returns jsonb: the public key a browser or app seals auth tokens to (web/seal-token.js).
extern "C" Datum byo_token_sealing_key(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        const SealingPublicKey key = sealing_public_key(current_keyring());
        const nlohmann::json out = {{"format", "bt1"},
                                    {"algorithm", "X25519, HKDF-SHA256, AES-256-GCM"},
                                    {"key_id", key.key_id},
                                    {"public_key", key.public_key_base64}};
        return jsonb_datum(out.dump());
    });
}

// _token_input(owner text, account_sid text, auth_token text) returns text: the plaintext token of what a caller
// passed: a sealed token opened for this owner and account, or (only with byo_twilio.accept_plaintext_tokens) a
// plaintext one, trimmed.
extern "C" Datum byo_token_input(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        if (arg_is_null(fcinfo, 0) || arg_is_null(fcinfo, 1) || arg_is_null(fcinfo, 2))
            throw CoreError(sqlstate::invalid_parameter_value, "account_sid and auth_token are required");
        const std::string owner = arg_text(fcinfo, 0);
        const std::string account_sid = arg_text(fcinfo, 1);
        Secret input = arg_secret(fcinfo, 2);
        const std::string_view given = trim_space(input.view());
        if (looks_sealed(given)) {
            Secret token = open_sealed_token(current_keyring(), given, owner, account_sid);
            return text_datum(trim_space(token.view()));
        }
        if (!accept_plaintext_tokens())
            throw CoreError(sqlstate::invalid_parameter_value,
                            "auth_token must be sealed: this server does not accept plaintext tokens",
                            "Seal it in the browser or app with web/seal-token.js and the key from "
                            "twilio.token_sealing_key() (docs/security.md), or have the operator set "
                            "byo_twilio.accept_plaintext_tokens = on.");
        return text_datum(given);
    });
}
