// SQL: twilio._apply_message_status and twilio._status_rank, over the C++ in core/message_status.cpp.
#include "pg/message_status.hpp"

#include "core/message_status.hpp"
#include "pg/datum.hpp"

extern "C" {
#include "utils/builtins.h"
}

extern "C" {
PG_FUNCTION_INFO_V1(byo_apply_message_status);
PG_FUNCTION_INFO_V1(byo_status_rank);
}

namespace byo::pg {

namespace {

SavedPlan g_lock_message{
    "SELECT id::text, status, to_number FROM twilio.messages WHERE user_id = $1::uuid AND twilio_sid = $2 FOR UPDATE",
    2};
SavedPlan g_update_status{
    // ErrorCode 0 (Conversations' receipts of delivered and read messages) means no error: nothing to store.
    "UPDATE twilio.messages SET status = $3, error_code = coalesce(twilio._int_within($4, 1, 999999), error_code)"
    " WHERE user_id = $1::uuid AND id = $2::uuid",
    4};
SavedPlan g_opt_out{
    "INSERT INTO twilio.opt_outs (user_id, phone, source) VALUES ($1::uuid, $2, 'twilio_21610') ON CONFLICT DO NOTHING",
    2};

}  // namespace

std::string apply_message_status(const std::string& user_id, const SqlValue& sid, const SqlValue& new_status,
                                 const SqlValue& error_code) {
    const std::vector<SqlRow> rows = g_lock_message.run({user_id, sid});
    if (rows.empty()) return "status for an unknown message";
    const std::string status = new_status.value_or(""), old = rows[0][1].value_or("");
    if (!is_delivery_status(status)) return "status " + status + " recorded only";
    if (status_rank(status) <= status_rank(old)) return "late " + status + " after " + old + ": not applied";
    g_update_status.run({user_id, rows[0][0], status, error_code});
    if (error_code == "21610" && rows[0][2]) g_opt_out.run({user_id, rows[0][2]});
    return old + " -> " + status;
}

}  // namespace byo::pg

using namespace byo;
using namespace byo::pg;

namespace {

SqlValue optional_text(FunctionCallInfo fcinfo, int n) {
    return arg_is_null(fcinfo, n) ? SqlValue() : SqlValue(arg_text(fcinfo, n));
}

}  // namespace

// _apply_message_status(uid uuid, sid text, new_status text, new_error_code text) returns text
extern "C" Datum byo_apply_message_status(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        if (arg_is_null(fcinfo, 0)) return text_datum("status for an unknown message");
        const char* uid_text = nullptr;
        pg_call([&] { uid_text = DatumGetCString(DirectFunctionCall1(uuid_out, PG_GETARG_DATUM(0))); });
        const std::string uid(uid_text);
        std::string effect;
        {
            SpiConnection spi;
            effect = apply_message_status(uid, optional_text(fcinfo, 1), optional_text(fcinfo, 2),
                                          optional_text(fcinfo, 3));
        }
        return text_datum(effect);
    });
}

// _status_rank(status text) returns integer
extern "C" Datum byo_status_rank(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum { return Int32GetDatum(status_rank(arg_text(fcinfo, 0))); });
}
