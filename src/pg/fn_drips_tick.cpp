// SQL (internal): the drip tick's render (sql/install/62_drip_tick.sql). The tick renders a whole batch in one
// statement, where an error would abort every enrollment of the pass; this answers NULL instead of raising, and
// the tick sends such an enrollment down its row-by-row path, where _drip_render raises the exact reason.
#include "core/core_error.hpp"
#include "core/drip_template.hpp"
#include "pg/datum.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(byo_drip_try_render);
}

using namespace byo;
using namespace byo::pg;

// _drip_try_render(template text, variables jsonb) returns text: _drip_render's text, or NULL where it raises
// (a variable without value or fallback, a variable that is not a scalar, a malformed template).
extern "C" Datum byo_drip_try_render(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        try {
            const nlohmann::json vars = nlohmann::json::parse(arg_jsonb_text(fcinfo, 1));
            return text_datum(render_template(arg_text(fcinfo, 0), vars));
        } catch (const CoreError&) {
        } catch (const nlohmann::json::exception&) {
        }
        fcinfo->isnull = true;
        return Datum(0);
    });
}
