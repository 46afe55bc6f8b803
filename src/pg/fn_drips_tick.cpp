// SQL (internal): the drip tick's render (sql/install/62_drip_tick.sql). The tick renders a whole batch in one
// statement, where an error would abort every enrollment of the pass; this answers NULL instead of raising, and
// the tick sends such an enrollment down its row-by-row path, where _drip_render raises the exact reason.
// It also counts the SMS segments of what it rendered, so the tick makes one call per message, not two.
#include "core/core_error.hpp"
#include "core/drip_template.hpp"
#include "core/sms_segments.hpp"
#include "pg/datum.hpp"

extern "C" {
#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(byo_drip_try_render);
PG_FUNCTION_INFO_V1(byo_drip_try_render_sms);
}

using namespace byo;
using namespace byo::pg;

namespace {

// _drip_render's text, or nullopt where it raises (a variable without value or fallback, a variable that is not
// a scalar, a malformed template).
std::optional<std::string> try_render(FunctionCallInfo fcinfo) {
    try {
        const nlohmann::json vars = nlohmann::json::parse(arg_jsonb_text(fcinfo, 1));
        return render_template(arg_text(fcinfo, 0), vars);
    } catch (const CoreError&) {
    } catch (const nlohmann::json::exception&) {
    }
    return std::nullopt;
}

}  // namespace

// _drip_try_render(template text, variables jsonb) returns text: _drip_render's text, or NULL where it raises.
extern "C" Datum byo_drip_try_render(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        const std::optional<std::string> body = try_render(fcinfo);
        if (body) return text_datum(*body);
        fcinfo->isnull = true;
        return Datum(0);
    });
}

// _drip_try_render_sms(template text, variables jsonb, OUT body text, OUT segments integer, OUT encoding text):
// the text as _drip_try_render renders it with its segment count and encoding as _sms_segments counts them;
// all three NULL where rendering fails. The result's descriptor is built once per call site (fn_extra), not per row.
extern "C" Datum byo_drip_try_render_sms(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        const std::optional<std::string> body = try_render(fcinfo);
        const SegmentCount count = body ? count_sms_segments(*body) : SegmentCount{};
        Datum result = 0;
        pg_call([&] {
            auto desc = static_cast<TupleDesc>(fcinfo->flinfo->fn_extra);
            if (desc == nullptr) {
                TupleDesc made;
                if (get_call_result_type(fcinfo, nullptr, &made) != TYPEFUNC_COMPOSITE)
                    elog(ERROR, "_drip_try_render_sms must return a record");
                MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
                desc = BlessTupleDesc(CreateTupleDescCopy(made));
                MemoryContextSwitchTo(old);
                fcinfo->flinfo->fn_extra = desc;
            }
            Datum values[3] = {0, 0, 0};
            bool nulls[3] = {true, true, true};
            if (body) {
                values[0] = PointerGetDatum(cstring_to_text_with_len(body->data(), static_cast<int>(body->size())));
                values[1] = Int32GetDatum(count.segments);
                values[2] = CStringGetTextDatum(count.ucs2 ? "UCS-2" : "GSM-7");
                nulls[0] = nulls[1] = nulls[2] = false;
            }
            result = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
        });
        return result;
    });
}
