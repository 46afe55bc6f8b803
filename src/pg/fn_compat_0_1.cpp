// Entry points only the 0.1.0 SQL calls (its PL/pgSQL handle_webhook). A server running this library with the
// extension still at 0.1.0 (binaries installed, ALTER EXTENSION byo_twilio UPDATE not yet run) keeps taking
// webhooks, and CREATE EXTENSION byo_twilio VERSION '0.1.0' still works for the upgrade test. Drop them when no
// supported upgrade path starts at 0.1.0.
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

// 0.1.0's _form_to_jsonb(body text) returns jsonb: a repeated name keeps its first value.
extern "C" Datum byo_form_to_jsonb(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        nlohmann::json out = nlohmann::json::object();
        for (const auto& [name, value] : parse_form(arg_text(fcinfo, 0)))
            if (!out.contains(name)) out[name] = value;
        return jsonb_datum(out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    });
}

// 0.1.0's _webhook_signature_ok(owner, account_sid, envelope, signature, url, body, content_type) returns boolean.
extern "C" Datum byo_webhook_signature_ok(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        Secret token = open_envelope(current_keyring(), arg_bytea(fcinfo, 2),
                                     envelope_context(arg_text(fcinfo, 0), arg_text(fcinfo, 1)));
        return BoolGetDatum(validate_signature(token.view(), arg_text(fcinfo, 3), arg_text(fcinfo, 4),
                                               arg_text(fcinfo, 5), arg_text(fcinfo, 6)));
    });
}
