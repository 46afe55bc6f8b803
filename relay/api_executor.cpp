#include "api_executor.hpp"

#include "json_log.hpp"

namespace byo::relay::api {

namespace {

ApiOutcome failed(const PgOutcome& o) {
    ApiOutcome out;
    out.sqlstate = o.sqlstate;
    out.message = o.primary.empty() ? "the database is not available" : o.primary;
    out.detail = o.detail;
    out.hint = o.hint;
    return out;
}

// After a failure inside the transaction: ROLLBACK if the server is waiting for it, else close the connection.
// Either way the next request on this slot starts with no role and no claims of this one.
void abandon(DbPool::Lease& lease, Clock::time_point deadline) {
    PGconn* conn = lease.conn();
    const auto tx = PQtransactionStatus(conn);
    if (PQstatus(conn) == CONNECTION_OK && (tx == PQTRANS_INERROR || tx == PQTRANS_INTRANS)) {
        run_simple(conn, "ROLLBACK", deadline);
        if (PQtransactionStatus(conn) == PQTRANS_IDLE) return;
    } else if (PQstatus(conn) == CONNECTION_OK && tx == PQTRANS_IDLE) {
        return;
    }
    lease.discard();
}

}  // namespace

ApiExecutor::ApiExecutor(DbPool& pool, std::size_t queue_max) : pool_(pool), queue_max_(queue_max) {
    for (int i = 0; i < pool_.size(); ++i) threads_.emplace_back([this] { work(); });
}

ApiExecutor::~ApiExecutor() { stop(); }

bool ApiExecutor::submit(ApiCall call, Done done) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_ || queue_.size() >= queue_max_) return false;
        queue_.push_back({std::move(call), std::move(done)});
    }
    ready_.notify_one();
    return true;
}

void ApiExecutor::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    ready_.notify_all();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
}

void ApiExecutor::work() {
    for (;;) {
        Job job;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and everything queued was served
            job = std::move(queue_.front());
            queue_.pop_front();
        }
        ApiOutcome out;
        if (Clock::now() >= job.call.deadline) {
            out.message = "no database connection free in time";
        } else {
            try {
                out = run(job.call);
            } catch (const std::exception&) {
                out = ApiOutcome{};
                out.message = "out of memory";
            }
        }
        job.done(std::move(out));
    }
}

ApiOutcome ApiExecutor::run(const ApiCall& c) {
    std::string error;
    DbPool::Lease lease = pool_.acquire(c.deadline, error);
    if (!lease) {
        log_event("db_error", {{"stage", "api_acquire"}, {"message", error}});
        return failed(PgOutcome{});
    }
    PGconn* conn = lease.conn();
    // Fixed texts: the role is never interpolated from the token (only "authenticated" passes api_claims).
    PgOutcome o = run_simple(conn, c.call.read_only ? "BEGIN READ ONLY; SET LOCAL ROLE authenticated"
                                                    : "BEGIN; SET LOCAL ROLE authenticated",
                             c.deadline);
    if (o.ok())
        o = run_query(conn,
                      "SELECT set_config('request.jwt.claims', $1, true), set_config('request.method', $2, true),"
                      "       set_config('request.path', $3, true)",
                      {c.claims_json.c_str(), c.method.c_str(), c.path.c_str()}, c.deadline);
    PgOutcome result;
    if (o.ok()) {
        std::vector<const char*> params;
        for (const auto& p : c.call.params) params.push_back(p ? p->c_str() : nullptr);
        result = run_query(conn, c.call.sql, params, c.deadline);
        o = result.ok() ? run_simple(conn, c.rollback ? "ROLLBACK" : "COMMIT", c.deadline) : std::move(result);
    }
    if (!o.ok() || PQtransactionStatus(conn) != PQTRANS_IDLE) {
        ApiOutcome out = failed(o);
        if (o.ok()) out.message = "the transaction did not end";  // never expected; the connection goes
        abandon(lease, c.deadline);
        if (out.sqlstate.empty() || out.sqlstate.substr(0, 2) == "08")
            log_event("db_error", {{"stage", "api_call"}, {"sqlstate", out.sqlstate}, {"message", o.error}});
        return out;
    }
    ApiOutcome out;
    out.ok = true;
    const PGresult* r = result.result.get();
    out.json = PQntuples(r) > 0 && PQnfields(r) > 0 && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "null";
    return out;
}

}  // namespace byo::relay::api
