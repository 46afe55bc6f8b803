// SQL (internal): SMS segment counting, the outbox trigger that wakes the dispatcher at commit, and its pid.
#include "core/sms_segments.hpp"
#include "pg/datum.hpp"
#include "pg/dispatcher_shmem.hpp"

extern "C" {
#include "access/htup_details.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(byo_sms_segments);
PG_FUNCTION_INFO_V1(byo_wake_dispatcher_on_commit);
PG_FUNCTION_INFO_V1(byo_dispatcher_pid);
}

using namespace byo;
using namespace byo::pg;

// _sms_segments(body text, OUT segments integer, OUT encoding text)
extern "C" Datum byo_sms_segments(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        const SegmentCount count = count_sms_segments(arg_text(fcinfo, 0));
        Datum result = 0;
        pg_call([&] {
            TupleDesc desc;
            if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
                elog(ERROR, "_sms_segments must return a record");
            desc = BlessTupleDesc(desc);
            Datum values[2] = {Int32GetDatum(count.segments), CStringGetTextDatum(count.ucs2 ? "UCS-2" : "GSM-7")};
            bool nulls[2] = {false, false};
            result = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
        });
        return result;
    });
}

// AFTER INSERT ... FOR EACH STATEMENT on twilio.outbox.
extern "C" Datum byo_wake_dispatcher_on_commit(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        if (!CALLED_AS_TRIGGER(fcinfo))
            throw CoreError(sqlstate::prerequisite_state, "_wake_dispatcher_on_commit is a trigger function");
        pg_call([] { wake_dispatcher_at_commit(); });
        return PointerGetDatum(nullptr);
    });
}

extern "C" Datum byo_dispatcher_pid(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        const int pid = dispatcher_pid();
        if (pid == 0) {
            fcinfo->isnull = true;
            return Datum(0);
        }
        return Int32GetDatum(pid);
    });
}
