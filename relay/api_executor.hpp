// Runs API calls on the API's own connection pool, never the webhooks': worker threads (one per connection) take
// calls from a bounded queue. Each call is one transaction as the JWT's user, the way PostgREST runs a request:
//   BEGIN [READ ONLY]; SET LOCAL ROLE authenticated            (one round trip)
//   SELECT set_config('request.jwt.claims', $1, true), ...     (the verified claims, as a parameter)
//   <the route's statement>
//   COMMIT (ROLLBACK when the client asked for tx=rollback)
// Role and claims are transaction-local, so they end with the transaction; a connection that is not back to
// idle outside any transaction afterwards (error, timeout) is rolled back or closed before anyone reuses it.
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api_sql.hpp"
#include "db_pool.hpp"

namespace byo::relay::api {

struct ApiCall {
    SqlCall call;
    std::string claims_json;  // the verified claims
    std::string method, path;
    Clock::time_point deadline;
    bool rollback = false;  // ROLLBACK instead of COMMIT (Prefer: tx=rollback): answer, keep nothing
};

struct ApiOutcome {
    bool ok = false;
    std::string json;  // the answer (ok), "null" when the statement returned no row
    // Not ok: the server's error (sqlstate empty when the connection failed or timed out).
    std::string sqlstate, message, detail, hint;
};

class ApiExecutor {
public:
    using Done = std::function<void(ApiOutcome&&)>;

    ApiExecutor(DbPool& pool, std::size_t queue_max);
    ~ApiExecutor();
    ApiExecutor(const ApiExecutor&) = delete;
    ApiExecutor& operator=(const ApiExecutor&) = delete;

    // Queues the call; false (and `done` not called) when the queue is full.
    bool submit(ApiCall call, Done done);
    void stop();

private:
    struct Job {
        ApiCall call;
        Done done;
    };
    void work();
    ApiOutcome run(const ApiCall& call);

    DbPool& pool_;
    const std::size_t queue_max_;
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<Job> queue_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace byo::relay::api
