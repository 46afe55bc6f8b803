// SQL (internal, never granted to client roles): seal, mask, re-seal and inspect auth-token envelopes.
// Plaintext tokens enter here and never leave in plaintext.
#include "core/envelope.hpp"
#include "pg/config.hpp"
#include "pg/datum.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(byo_seal_token);
PG_FUNCTION_INFO_V1(byo_token_mask);
PG_FUNCTION_INFO_V1(byo_reseal_token);
PG_FUNCTION_INFO_V1(byo_envelope_key_id);
PG_FUNCTION_INFO_V1(byo_encryption_key_ids);
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
