// One SQL statement over libpq with a hard deadline. libpq's blocking calls can wait forever on a dead network;
// here every wait is a poll() bounded by the caller's deadline, so a webhook is always answered in time.
#pragma once
#include <libpq-fe.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace byo::relay {

using Clock = std::chrono::steady_clock;

struct PgResultFree {
    void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultFree>;

struct PgOutcome {
    PgResult result;                   // set only on success (PGRES_TUPLES_OK or PGRES_COMMAND_OK)
    std::string error;                 // otherwise a short, redacted message
    std::string sqlstate;              // when the server reported the error
    // The server's own texts, unredacted, for the API's answer to the user who made the call (never for logs:
    // DETAIL may quote parameter values).
    std::string primary, detail, hint;
    bool connection_unusable = false;  // broken, timed out mid-call or left inside a transaction: discard it
    bool ok() const { return result != nullptr; }
};

// Waits for `events` (POLLIN/POLLOUT) on fd until deadline: 1 ready, 0 timed out, -1 error (EINTR retried).
int wait_socket(int fd, short events, Clock::time_point deadline);

// Runs `sql` with text parameters (nullptr is SQL NULL) on a connection in non-blocking mode and returns once
// every result has arrived or the deadline passed. A success means the statement completed; in autocommit that
// means it committed.
PgOutcome run_query(PGconn* conn, const char* sql, const std::vector<const char*>& params,
                    Clock::time_point deadline);

// As run_query, for a parameterless string that may hold several statements ("BEGIN; SET LOCAL ROLE x"), in one
// round trip (simple query protocol).
PgOutcome run_simple(PGconn* conn, const char* sql, Clock::time_point deadline);

// A statement the server parses and plans once per session instead of on every call.
constexpr std::size_t kMaxPreparedStatements = 2;
struct PreparedStatement {
    const char* name;   // fixed: one per session
    const char* sql;
    int param_count;
    std::size_t index;  // which of a connection's "prepared" flags is this statement's: < kMaxPreparedStatements
};

// Parameters of one call: text (lengths and formats empty, values NUL-terminated) or binary (format 1, with
// lengths). The pointers must stay valid for the call.
struct ParamValues {
    std::vector<const char*> values;  // nullptr is SQL NULL
    std::vector<int> lengths;
    std::vector<int> formats;
};

// Every value in PostgreSQL's binary form, as built by the caller (e.g. pg_array.hpp); `values` must outlive the
// call.
ParamValues binary_params(const std::vector<std::string>& values);

// As run_query, for `stmt`: prepares it first unless `prepared` says this connection already has it (and sets
// `prepared` once it has). If the server no longer knows it (26000, e.g. after a pooler's DISCARD ALL), prepares
// it again and retries once; the same when its plan went stale (0A000: an upgrade changed the result columns),
// after DEALLOCATE. A failed preparation is returned as the call's failure.
PgOutcome run_prepared(PGconn* conn, bool& prepared, const PreparedStatement& stmt,
                       const std::vector<const char*>& params, Clock::time_point deadline);
PgOutcome run_prepared(PGconn* conn, bool& prepared, const PreparedStatement& stmt, const ParamValues& params,
                       Clock::time_point deadline);

}  // namespace byo::relay
