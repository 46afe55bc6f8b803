#include "db_pool.hpp"

#include <poll.h>

#include <utility>

#include "json_log.hpp"
#include "redact.hpp"

namespace byo::relay {

namespace {

// An idle connection has nothing to say: the server only speaks unprompted to say goodbye (shutdown, restart,
// idle_session_timeout, pg_terminate_backend), often a FATAL message first and the EOF a moment later. So anything
// readable while idle means the connection is on its way out; reconnecting costs less than a failed webhook.
bool looks_alive(PGconn* conn) {
    if (PQstatus(conn) != CONNECTION_OK || PQtransactionStatus(conn) != PQTRANS_IDLE) return false;
    pollfd p{PQsocket(conn), POLLIN, 0};
    return p.fd >= 0 && ::poll(&p, 1, 0) == 0;
}

// libpq's default prints notices on stderr, which would break the one-JSON-object-per-line log.
void log_notice(void*, const PGresult* r) {
    const char* severity = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    log_event("db_notice", {{"severity", severity ? severity : "NOTICE"},
                            {"sqlstate", state ? state : ""},
                            {"message", redact_db_message(primary ? primary : "")}});
}

}  // namespace

DbPool::DbPool(std::string conninfo, int size, std::chrono::milliseconds statement_timeout, SessionObserver on_session)
    : conninfo_(std::move(conninfo)),
      statement_timeout_(statement_timeout),
      on_session_(std::move(on_session)),
      slots_(static_cast<std::size_t>(size)) {}

DbPool::~DbPool() { close_all(); }

DbPool::Lease::Lease(Lease&& other) noexcept : pool_(std::exchange(other.pool_, nullptr)), slot_(other.slot_) {}

DbPool::Lease& DbPool::Lease::operator=(Lease&& other) noexcept {
    if (this != &other) {
        release();
        pool_ = std::exchange(other.pool_, nullptr);
        slot_ = other.slot_;
    }
    return *this;
}

DbPool::Lease::~Lease() { release(); }

// The lease holder owns its slot exclusively, so its connection pointer is read and written without the lock.
PGconn* DbPool::Lease::conn() const { return pool_ ? pool_->slots_[slot_].conn : nullptr; }

bool& DbPool::Lease::prepared(std::size_t index) const { return pool_->slots_[slot_].prepared.at(index); }

void DbPool::Lease::discard() {
    if (pool_) pool_->slots_[slot_].close();
}

void DbPool::Slot::close() {
    if (conn) PQfinish(conn);
    conn = nullptr;
    prepared.fill(false);  // the server forgets a session's prepared statements with the session
}

void DbPool::Lease::release() noexcept {
    if (pool_) std::exchange(pool_, nullptr)->give_back(slot_);
}

void DbPool::give_back(std::size_t slot) noexcept {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        slots_[slot].busy = false;
        --in_use_;
    }
    freed_.notify_one();
}

int DbPool::in_use() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return in_use_;
}

DbPool::Lease DbPool::acquire(Clock::time_point deadline, std::string& error, bool* unreachable) {
    if (unreachable) *unreachable = false;
    std::size_t chosen = slots_.size();
    {
        std::unique_lock<std::mutex> lock(mutex_);
        // The batcher's workers, one per slot, are the only callers, so this rarely waits; the deadline still
        // bounds it.
        if (!freed_.wait_until(lock, deadline, [&] { return in_use_ < size(); })) {
            error = "no database connection free within the timeout";
            return {};
        }
        // Prefer a slot that already holds a connection: an empty one costs a connect.
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            if (slots_[i].busy) continue;
            if (chosen == slots_.size() || (slots_[i].conn && !slots_[chosen].conn)) chosen = i;
        }
        slots_[chosen].busy = true;
        ++in_use_;
    }
    Lease lease(this, chosen);
    if (lease.conn() && !looks_alive(lease.conn())) lease.discard();
    if (!lease.conn()) {
        PGconn* conn = connect(deadline, error);
        if (!conn) {
            if (unreachable) *unreachable = true;
            return {};  // `lease` dies here and frees the slot, still empty
        }
        slots_[chosen].conn = conn;
    }
    return lease;
}

PGconn* DbPool::connect(Clock::time_point deadline, std::string& error) const {
    // Entries before "dbname" are defaults the user's conninfo (expanded in place of dbname) may override.
    const char* const keys[] = {"fallback_application_name", "client_encoding", "dbname", nullptr};
    const char* const values[] = {"byo-twilio-relay", "UTF8", conninfo_.c_str(), nullptr};
    PGconn* conn = PQconnectStartParams(keys, values, 1);
    if (!conn) {
        error = "out of memory starting a database connection";
        return nullptr;
    }
    auto fail = [&](std::string_view why) -> PGconn* {
        error = redact_db_message(why);
        PQfinish(conn);
        return nullptr;
    };
    if (PQstatus(conn) == CONNECTION_BAD) return fail(PQerrorMessage(conn));

    // libpq's documented loop, with our deadline instead of connect_timeout (which only PQconnectdb honours).
    PostgresPollingStatusType state = PGRES_POLLING_WRITING;
    while (state != PGRES_POLLING_OK) {
        if (state == PGRES_POLLING_FAILED) return fail(PQerrorMessage(conn));
        const int w = wait_socket(PQsocket(conn), state == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
        if (w == 0) return fail("timed out connecting to the database");
        if (w < 0) return fail("socket error connecting to the database");
        state = PQconnectPoll(conn);
    }
    if (PQsetnonblocking(conn, 1) != 0) return fail(PQerrorMessage(conn));
    PQsetNoticeReceiver(conn, log_notice, nullptr);

    // Server-side bound for every call on this session (the client-side deadline is the other half), and, in the
    // same round trip, the base URL the database hands out (public_url_check.hpp).
    const std::string timeout = std::to_string(statement_timeout_.count());
    PgOutcome o = run_query(conn,
                            "SELECT set_config('statement_timeout', $1, false),"
                            "       current_setting('byo_twilio.webhook_base_url', true)",
                            {timeout.c_str()}, deadline);
    if (!o.ok()) return fail(o.error);
    if (on_session_) {
        PGresult* r = o.result.get();
        const bool set = PQntuples(r) == 1 && PQnfields(r) == 2 && !PQgetisnull(r, 0, 1);
        on_session_(set ? std::optional<std::string>(PQgetvalue(r, 0, 1)) : std::nullopt);
    }
    return conn;
}

void DbPool::close_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (Slot& s : slots_)
        if (!s.busy) s.close();
}

}  // namespace byo::relay
