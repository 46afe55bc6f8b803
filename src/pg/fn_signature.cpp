// SQL: twilio.compute_signature, twilio.validate_signature.
#include "core/form.hpp"
#include "core/signature.hpp"
#include "pg/datum.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(byo_compute_signature);
PG_FUNCTION_INFO_V1(byo_validate_signature);
}

using namespace byo;
using namespace byo::pg;

// compute_signature(auth_token text, url text, params jsonb) returns text
extern "C" Datum byo_compute_signature(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        Secret token = arg_secret(fcinfo, 0);
        const std::string url = arg_text(fcinfo, 1);
        const FormParams params = params_from_json(arg_jsonb_text(fcinfo, 2));
        return text_datum(compute_signature(token.view(), url, params));
    });
}

// validate_signature(auth_token text, signature text, url text, body text, content_type text) returns boolean
extern "C" Datum byo_validate_signature(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        Secret token = arg_secret(fcinfo, 0);
        const bool ok = validate_signature(token.view(), arg_text(fcinfo, 1), arg_text(fcinfo, 2),
                                           arg_text(fcinfo, 3), arg_text(fcinfo, 4));
        return BoolGetDatum(ok);
    });
}
