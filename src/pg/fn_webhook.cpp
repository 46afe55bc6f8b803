// SQL (internal): what twilio.handle_webhook needs from C++: the form body as jsonb, and the signature checked
// with a tenant's stored token (decrypted here, never returned).
#include <nlohmann/json.hpp>

#include "core/envelope.hpp"
#include "core/form.hpp"
#include "core/signature.hpp"
#include "pg/config.hpp"
#include "pg/datum.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(byo_form_to_jsonb);
PG_FUNCTION_INFO_V1(byo_webhook_signature_ok);
}

using namespace byo;
using namespace byo::pg;

// _form_to_jsonb(body text) returns jsonb: {"Name": "value"}; a repeated name keeps its first value (Twilio's
// routing fields are single-valued; the raw body stays in webhook_events).
extern "C" Datum byo_form_to_jsonb(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        nlohmann::json out = nlohmann::json::object();
        for (const auto& [name, value] : parse_form(arg_text(fcinfo, 0)))
            if (!out.contains(name)) out[name] = value;
        // Bytes that are not UTF-8 cannot go into jsonb: replace them rather than reject a webhook.
        return jsonb_datum(out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    });
}

// _webhook_signature_ok(owner, account_sid, envelope, signature, url, body, content_type) returns boolean
extern "C" Datum byo_webhook_signature_ok(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        const std::string owner = arg_text(fcinfo, 0);
        const std::string account_sid = arg_text(fcinfo, 1);
        Keyring ring = current_keyring();
        Secret token = open_envelope(ring, arg_bytea(fcinfo, 2), envelope_context(owner, account_sid));
        return BoolGetDatum(validate_signature(token.view(), arg_text(fcinfo, 3), arg_text(fcinfo, 4),
                                               arg_text(fcinfo, 5), arg_text(fcinfo, 6)));
    });
}
