// SQL (internal): drip template rendering and checking (src/core/drip_template.cpp).
#include "core/drip_template.hpp"
#include "pg/datum.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(byo_drip_render);
PG_FUNCTION_INFO_V1(byo_drip_required_variables);
}

using namespace byo;
using namespace byo::pg;

// _drip_render(template text, variables jsonb) returns text; NULL variables render as {} (fallbacks only).
extern "C" Datum byo_drip_render(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        const nlohmann::json vars =
            arg_is_null(fcinfo, 1) ? nlohmann::json::object() : nlohmann::json::parse(arg_jsonb_text(fcinfo, 1));
        return text_datum(render_template(arg_text(fcinfo, 0), vars));
    });
}

// _drip_required_variables(template text) returns text[]: checks the syntax, names what enroll must supply.
extern "C" Datum byo_drip_required_variables(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum { return text_array_datum(required_variables(arg_text(fcinfo, 0))); });
}
