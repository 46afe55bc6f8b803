// A fixed number of libpq connections shared by the HTTP workers. Connections are opened lazily and reopened
// lazily: a slot whose connection broke is simply empty until the next request needs it, so a database restart
// heals without restarting the relay, and a database outage costs each request one bounded connect attempt.
#pragma once
#include <libpq-fe.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pg_call.hpp"

namespace byo::relay {

class DbPool {
public:
    // What a new session found: the database's byo_twilio.webhook_base_url (nullopt: not set).
    using SessionObserver = std::function<void(const std::optional<std::string>& webhook_base_url)>;

    // `statement_timeout` is set on every new session as the server-side bound of each call; `on_session` (may be
    // empty) hears from every new session, on the thread that opened it.
    DbPool(std::string conninfo, int size, std::chrono::milliseconds statement_timeout,
           SessionObserver on_session = {});
    ~DbPool();
    DbPool(const DbPool&) = delete;
    DbPool& operator=(const DbPool&) = delete;

    // Exclusive use of one slot's connection; the slot goes back to the pool when the lease dies.
    class Lease {
    public:
        Lease() = default;
        Lease(Lease&& other) noexcept;
        Lease& operator=(Lease&& other) noexcept;
        ~Lease();

        explicit operator bool() const { return pool_ != nullptr; }
        PGconn* conn() const;
        // Whether this connection holds prepared statement number `index` (PreparedStatement::index); false on
        // every new connection.
        bool& prepared(std::size_t index) const;
        // The connection is broken or in an unknown state: close it now; the slot reconnects on its next use.
        void discard();

    private:
        friend class DbPool;
        Lease(DbPool* pool, std::size_t slot) : pool_(pool), slot_(slot) {}
        void release() noexcept;

        DbPool* pool_ = nullptr;
        std::size_t slot_ = 0;
    };

    // A free slot with a live connection, (re)connecting it if needed, all before `deadline`. On failure an
    // empty lease, with a short redacted reason in `error`; `unreachable` (if given) says whether connecting
    // failed, as opposed to no slot coming free in time.
    Lease acquire(Clock::time_point deadline, std::string& error, bool* unreachable = nullptr);

    int size() const { return static_cast<int>(slots_.size()); }
    int in_use() const;

    // Closes every connection; call once no lease can be alive any more (after the HTTP server drained).
    void close_all();

private:
    struct Slot {
        PGconn* conn = nullptr;
        std::array<bool, kMaxPreparedStatements> prepared{};  // belong to `conn`: reset whenever it is closed
        bool busy = false;
        void close();
    };

    PGconn* connect(Clock::time_point deadline, std::string& error) const;
    void give_back(std::size_t slot) noexcept;

    const std::string conninfo_;
    const std::chrono::milliseconds statement_timeout_;
    const SessionObserver on_session_;
    mutable std::mutex mutex_;
    std::condition_variable freed_;
    std::vector<Slot> slots_;
    int in_use_ = 0;
};

}  // namespace byo::relay
