#include "pg/dispatcher_store.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
}

namespace byo::pg {

namespace {

// Runs `body` (SPI calls) in a transaction of its own; PostgreSQL errors become PgError after the abort.
template <typename F>
void in_transaction(const char* what, F&& body) {
    pg_call([&] {
        SetCurrentStatementStartTimestamp();
        StartTransactionCommand();
        SPI_connect();
        PushActiveSnapshot(GetTransactionSnapshot());
        pgstat_report_activity(STATE_RUNNING, what);
        body();
        SPI_finish();
        PopActiveSnapshot();
        CommitTransactionCommand();
        pgstat_report_stat(false);
        pgstat_report_activity(STATE_IDLE, nullptr);
    });
}

void exec(const char* sql, int nargs, Oid* types, Datum* values, int expected) {
    int rc = SPI_execute_with_args(sql, nargs, types, values, nullptr, false, 0);
    if (rc != expected) elog(ERROR, "byo_twilio dispatcher: \"%s\" failed (SPI code %d)", sql, rc);
}

// Claimed rows are copied out of SPI as C strings into the caller's memory context; C++ objects are built only
// after the transaction ended, so a PostgreSQL error never jumps over one.
const char* const kJobColumns[] = {
    "user_id", "id", "kind", "prior_state", "attempts", "created_at", "source", "owner", "account_sid",
    "auth_token_envelope", "conversations_service_sid", "messaging_service_sid", "sms_number", "webhook_key",
    "max_segments_per_second", "conversation_id", "conversation_status", "conversation_sid", "participant_sid",
    "phone", "friendly_name", "message_id", "body", "to_number", "segments", "call_id", "call_to", "call_from",
    "lead_phone", "call_status", "call_sid", "known_call_sids", "pinned_account_sid",
    "media",
};
constexpr int kJobColumnCount = sizeof(kJobColumns) / sizeof(kJobColumns[0]);

std::string str(const char* v) { return v ? std::string(v) : std::string(); }

// Items of a space-separated column (SIDs and checked media URLs hold no whitespace).
std::vector<std::string> words(const std::string& s) {
    std::vector<std::string> out;
    for (std::size_t at = 0; at < s.size();) {
        std::size_t end = s.find(' ', at);
        if (end == std::string::npos) end = s.size();
        if (end > at) out.push_back(s.substr(at, end - at));
        at = end + 1;
    }
    return out;
}

OutboxJob job_from_columns(char** c) {
    OutboxJob j;
    j.user_id = str(c[0]);
    j.id = std::stoll(str(c[1]));
    j.kind = str(c[2]);
    j.prior_state = str(c[3]);
    j.attempts = std::stoi(str(c[4]));
    j.created_at = str(c[5]);
    j.source = str(c[6]);
    j.owner = str(c[7]);
    j.account_sid = str(c[8]);
    if (c[9]) {  // the envelope arrives as a detoasted bytea
        auto* b = reinterpret_cast<bytea*>(c[9]);
        auto* data = reinterpret_cast<const unsigned char*>(VARDATA_ANY(b));
        j.auth_token_envelope.assign(data, data + VARSIZE_ANY_EXHDR(b));
    }
    j.conversations_service_sid = str(c[10]);
    j.messaging_service_sid = str(c[11]);
    j.sms_number = str(c[12]);
    j.webhook_key = str(c[13]);
    j.max_segments_per_second = c[14] ? std::stod(c[14]) : 0;
    j.conversation_id = str(c[15]);
    j.conversation_status = str(c[16]);
    j.conversation_sid = str(c[17]);
    j.participant_sid = str(c[18]);
    j.phone = str(c[19]);
    j.friendly_name = str(c[20]);
    j.message_id = str(c[21]);
    j.body = str(c[22]);
    j.to_number = str(c[23]);
    j.segments = c[24] ? std::stoi(c[24]) : 1;
    j.call_id = str(c[25]);
    j.call_to = str(c[26]);
    j.call_from = str(c[27]);
    j.lead_phone = str(c[28]);
    j.call_status = str(c[29]);
    j.call_sid = str(c[30]);
    j.known_call_sids = words(str(c[31]));
    j.pinned_account_sid = str(c[32]);
    j.media = words(str(c[33]));
    return j;
}

}  // namespace

bool extension_installed() {
    bool installed = false;
    in_transaction("byo_twilio dispatcher: waiting for CREATE EXTENSION", [&] {
        exec("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'byo_twilio'", 0, nullptr, nullptr,
             SPI_OK_SELECT);
        installed = SPI_processed > 0;
    });
    return installed;
}

int sweep_outbox(int reconcile_delay_ms) {
    int swept = 0;
    in_transaction("byo_twilio dispatcher: sweep", [&] {
        Oid types[1] = {INT4OID};
        Datum values[1] = {Int32GetDatum(reconcile_delay_ms)};
        exec("SELECT twilio._sweep_outbox($1)", 1, types, values, SPI_OK_SELECT);
        bool isnull = false;
        swept = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    });
    return swept;
}

std::vector<OutboxJob> claim_outbox(int max_rows) {
    MemoryContext outer = CurrentMemoryContext;
    char** cells = nullptr;
    uint64 rows = 0;
    in_transaction("byo_twilio dispatcher: claim", [&] {
        Oid types[1] = {INT4OID};
        Datum values[1] = {Int32GetDatum(max_rows)};
        exec("SELECT * FROM twilio._claim_outbox($1)", 1, types, values, SPI_OK_SELECT);
        TupleDesc desc = SPI_tuptable->tupdesc;
        rows = SPI_processed;
        MemoryContext spi = MemoryContextSwitchTo(outer);
        cells = static_cast<char**>(palloc0(sizeof(char*) * kJobColumnCount * (rows ? rows : 1)));
        for (uint64 i = 0; i < rows; ++i) {
            HeapTuple row = SPI_tuptable->vals[i];
            for (int c = 0; c < kJobColumnCount; ++c) {
                const int attno = SPI_fnumber(desc, kJobColumns[c]);
                if (attno <= 0) elog(ERROR, "twilio._claim_outbox() has no column %s", kJobColumns[c]);
                bool isnull = false;
                Datum d = SPI_getbinval(row, desc, attno, &isnull);
                if (isnull) continue;
                cells[i * kJobColumnCount + c] = c == 9 ? reinterpret_cast<char*>(PG_DETOAST_DATUM_COPY(d))
                                                        : SPI_getvalue(row, desc, attno);
            }
        }
        MemoryContextSwitchTo(spi);
    });
    std::vector<OutboxJob> jobs;
    jobs.reserve(rows);
    for (uint64 i = 0; i < rows; ++i) jobs.push_back(job_from_columns(cells + i * kJobColumnCount));
    return jobs;
}

void finish_outbox(const std::string& results_json) {
    in_transaction("byo_twilio dispatcher: record results", [&] {
        Oid types[1] = {JSONBOID};
        Datum values[1] = {DirectFunctionCall1(jsonb_in, CStringGetDatum(results_json.c_str()))};
        exec("SELECT twilio._finish_outbox($1)", 1, types, values, SPI_OK_SELECT);
    });
}

void fail_unrecorded(const std::string& user_id, long long id, const std::string& why) {
    in_transaction("byo_twilio dispatcher: record a failure", [&] {
        Oid types[3] = {TEXTOID, INT8OID, TEXTOID};
        Datum values[3] = {CStringGetTextDatum(user_id.c_str()), Int64GetDatum(id), CStringGetTextDatum(why.c_str())};
        // The message, still queued as far as we know, may or may not have gone out: 'unknown', as after a
        // lookup that kept failing (docs/delivery.md).
        exec("WITH job AS (UPDATE twilio.outbox SET state = 'failed', last_error = $3"
             "              WHERE user_id = $1::uuid AND id = $2 AND state = 'in_flight' RETURNING user_id, message_id)"
             " UPDATE twilio.messages m SET status = 'unknown', error_message = $3"
             "   FROM job WHERE m.user_id = job.user_id AND m.id = job.message_id AND m.status = 'queued'",
             3, types, values, SPI_OK_UPDATE);
    });
}

std::optional<double> next_due_ms() {
    std::optional<double> due;
    in_transaction("byo_twilio dispatcher: next due", [&] {
        exec("SELECT twilio._next_due_ms()", 0, nullptr, nullptr, SPI_OK_SELECT);
        bool isnull = false;
        Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
        if (!isnull) due = DatumGetFloat8(d);
    });
    return due;
}

}  // namespace byo::pg
