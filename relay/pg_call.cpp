#include "pg_call.hpp"

#include <poll.h>

#include <cerrno>

#include "redact.hpp"

namespace byo::relay {

int wait_socket(int fd, short events, Clock::time_point deadline) {
    if (fd < 0) return -1;
    for (;;) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return 0;
        pollfd p{fd, events, 0};
        const int r = ::poll(&p, 1, static_cast<int>(left > 60000 ? 60000 : left));
        if (r > 0) return 1;
        if (r < 0 && errno != EINTR) return -1;
    }
}

namespace {

PgOutcome failure(std::string_view message, bool unusable, std::string sqlstate = {}) {
    PgOutcome out;
    out.error = redact_db_message(message);
    out.sqlstate = std::move(sqlstate);
    out.connection_unusable = unusable;
    return out;
}

bool succeeded(const PGresult* r) {
    const ExecStatusType s = PQresultStatus(r);
    return s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK;
}

bool healthy(PGconn* conn) {
    return PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE;
}

// Completes what a PQsend* call started: sends it and reads every result, all before the deadline.
PgOutcome finish(PGconn* conn, Clock::time_point deadline) {
    // In non-blocking mode a large body may not fit the socket buffer at once; push it out within the deadline.
    for (;;) {
        const int flushed = PQflush(conn);
        if (flushed == 0) break;
        if (flushed < 0) return failure(PQerrorMessage(conn), true);
        const int w = wait_socket(PQsocket(conn), POLLIN | POLLOUT, deadline);
        if (w == 0) return failure("timed out sending the query", true);
        if (w < 0 || PQconsumeInput(conn) == 0) return failure(PQerrorMessage(conn), true);
    }

    // Read every result until libpq says the command is done; keep the first error if any, else the first result.
    PgResult kept;
    for (;;) {
        while (PQisBusy(conn)) {
            const int w = wait_socket(PQsocket(conn), POLLIN, deadline);
            if (w == 0) return failure("timed out waiting for the database", true);
            if (w < 0 || PQconsumeInput(conn) == 0) return failure(PQerrorMessage(conn), true);
        }
        PgResult r(PQgetResult(conn));
        if (!r) break;
        if (!kept || (succeeded(kept.get()) && !succeeded(r.get()))) kept = std::move(r);
    }

    if (!kept) return failure("no result from the database", true);
    if (!succeeded(kept.get())) {
        // Only the primary message: DETAIL and CONTEXT may quote parameter values, i.e. the webhook body.
        const char* primary = PQresultErrorField(kept.get(), PG_DIAG_MESSAGE_PRIMARY);
        const char* state = PQresultErrorField(kept.get(), PG_DIAG_SQLSTATE);
        PgOutcome out = failure(primary ? primary : PQresultErrorMessage(kept.get()), !healthy(conn),
                                state ? state : "");
        const char* detail = PQresultErrorField(kept.get(), PG_DIAG_MESSAGE_DETAIL);
        const char* hint = PQresultErrorField(kept.get(), PG_DIAG_MESSAGE_HINT);
        out.primary = primary ? primary : "";
        out.detail = detail ? detail : "";
        out.hint = hint ? hint : "";
        return out;
    }
    PgOutcome out;
    out.result = std::move(kept);
    out.connection_unusable = !healthy(conn);
    return out;
}

PgOutcome prepare(PGconn* conn, const PreparedStatement& stmt, Clock::time_point deadline) {
    if (PQsendPrepare(conn, stmt.name, stmt.sql, stmt.param_count, nullptr) == 0)
        return failure(PQerrorMessage(conn), true);
    PgOutcome out = finish(conn, deadline);
    // A preparation is not the call: never let its empty result pass for the call's.
    if (out.ok() && out.connection_unusable) return failure("connection unusable after preparing", true);
    return out;
}

PgOutcome execute(PGconn* conn, const char* name, const ParamValues& params, Clock::time_point deadline) {
    if (PQsendQueryPrepared(conn, name, static_cast<int>(params.values.size()), params.values.data(),
                            params.lengths.empty() ? nullptr : params.lengths.data(),
                            params.formats.empty() ? nullptr : params.formats.data(), 0) == 0)
        return failure(PQerrorMessage(conn), true);
    return finish(conn, deadline);
}

}  // namespace

PgOutcome run_query(PGconn* conn, const char* sql, const std::vector<const char*>& params,
                    Clock::time_point deadline) {
    if (PQsendQueryParams(conn, sql, static_cast<int>(params.size()), nullptr, params.data(), nullptr, nullptr, 0) == 0)
        return failure(PQerrorMessage(conn), true);
    return finish(conn, deadline);
}

PgOutcome run_simple(PGconn* conn, const char* sql, Clock::time_point deadline) {
    if (PQsendQuery(conn, sql) == 0) return failure(PQerrorMessage(conn), true);
    return finish(conn, deadline);
}

PgOutcome run_prepared(PGconn* conn, bool& prepared, const PreparedStatement& stmt,
                       const std::vector<const char*>& params, Clock::time_point deadline) {
    return run_prepared(conn, prepared, stmt, ParamValues{params, {}, {}}, deadline);
}

ParamValues binary_params(const std::vector<std::string>& values) {
    ParamValues p;
    for (const std::string& v : values) {
        p.values.push_back(v.data());
        p.lengths.push_back(static_cast<int>(v.size()));
        p.formats.push_back(1);
    }
    return p;
}

PgOutcome run_prepared(PGconn* conn, bool& prepared, const PreparedStatement& stmt, const ParamValues& params,
                       Clock::time_point deadline) {
    for (bool retried = false;; retried = true) {
        if (!prepared) {
            PgOutcome p = prepare(conn, stmt, deadline);
            // 42P05: a pooler gave us a server session where another of our connections already prepared it.
            if (p.connection_unusable || (!p.ok() && p.sqlstate != "42P05")) return p;
            prepared = true;
        }
        PgOutcome out = execute(conn, stmt.name, params, deadline);
        // A call that failed rolled back, so retrying it once cannot apply a webhook twice. 26000: the session
        // lost the statement (a pooler's DISCARD ALL). 0A000: "cached plan must not change result type", after an
        // upgrade changed what the function returns; the old statement must go before it is prepared again.
        const bool lost = out.sqlstate == "26000", stale = out.sqlstate == "0A000";
        if (retried || !(lost || stale) || out.connection_unusable) return out;
        if (stale) {
            const std::string deallocate = std::string("DEALLOCATE ") + stmt.name;
            PgOutcome d = run_query(conn, deallocate.c_str(), {}, deadline);
            if (!d.ok()) return d;
        }
        prepared = false;
    }
}

}  // namespace byo::relay
