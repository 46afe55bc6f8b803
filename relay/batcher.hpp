// The database side of the relay: one worker thread per pool connection takes queued webhooks to PostgreSQL. A
// worker that finds one webhook queued sends it alone, at once; webhooks that arrive while every worker is busy
// queue up, and the next free worker takes the oldest (up to batch_max) in one call, twilio.handle_webhooks: one
// transaction, one round trip, one INSERT for the inbound texts, instead of one of each per webhook. Under load (a
// call already in flight) a free worker waits up to half a millisecond for a few webhooks to gather; a lone
// webhook never waits.
//
// A batch that fails as a whole (an error in one webhook aborts its transaction) is sent again one webhook per
// call, so one bad webhook cannot fail the others. A database without handle_webhooks (extension older than 0.3.0)
// or a relay role without EXECUTE on it gets single calls, retried as a batch a minute later.
//
// With a spool (spool.hpp), webhooks the database cannot be reached for (connection refused or lost) are stored
// on disk and answered 200; while anything is spooled, every new webhook is spooled too, so none overtakes an
// older one. A replay thread hands the spooled webhooks to the database, oldest first, once it is reachable.
#pragma once
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "db_pool.hpp"
#include "metrics.hpp"
#include "spool.hpp"
#include "webhook.hpp"

namespace byo::relay {

class WebhookBatcher {
public:
    using Done = std::function<void(WebhookAnswer&&)>;

    // Starts a worker per pool connection and a watcher that answers 503 to webhooks still queued at their
    // deadline. `batch_max` 1: every webhook goes alone. More than `queue_max` waiting: the next ones are answered
    // 503 at once (Twilio retries), so an overload costs neither unbounded memory nor answers that come too late.
    // `spool` may be null (no spool: an unreachable database is answered 503); `db_timeout` bounds each replayed
    // call.
    WebhookBatcher(DbPool& pool, Metrics& metrics, int batch_max, int queue_max, Spool* spool = nullptr,
                   std::chrono::milliseconds db_timeout = std::chrono::milliseconds(4000));
    ~WebhookBatcher();
    WebhookBatcher(const WebhookBatcher&) = delete;
    WebhookBatcher& operator=(const WebhookBatcher&) = delete;

    // Queues the webhook. `done` gets its answer on a worker (or the watcher) thread: the call's answer once it
    // committed, or 503 when `deadline` passed before a connection was free, or the database failed; on the
    // caller's thread, before submit returns, 503 when the queue is full. Never throws for database failures.
    void submit(WebhookRequest request, Clock::time_point deadline, Done done);
    // Runs `task` on the next free worker, ahead of queued webhooks (the readiness probe).
    void run_task(std::function<void()> task);
    // Lets the workers finish what is queued, then joins every thread. Idempotent.
    void stop();

private:
    struct Pending {
        WebhookRequest request;
        Clock::time_point deadline;
        Done done;
        WebhookAnswer answer;
    };

    void work();          // a worker thread
    void shed(Done done);  // the queue is full: 503 now
    void watch_expiry();  // the watcher thread
    // With the lock held: takes the oldest queued webhooks for one call.
    std::vector<Pending> take_batch();
    // Without the lock: one database call (or single calls after a failed batch) answering every item.
    void run(std::vector<Pending>& batch);
    void run_singles(DbPool::Lease& lease, std::vector<Pending>& batch, Clock::time_point deadline);
    bool batch_call_allowed() const;
    // Keeps these webhooks in the spool and answers them 200, or answers 503 if there is no spool, it is full, or
    // a webhook has no X-Twilio-Signature.
    void keep_or_refuse(const std::vector<Pending*>& pending);
    void replay();           // the replay thread
    bool replay_one();       // false: nothing settled (empty, the database unreachable, or a failed attempt)

    DbPool& pool_;
    Metrics& metrics_;
    Spool* const spool_;
    const std::chrono::milliseconds db_timeout_;
    std::size_t replayed_ = 0, dropped_ = 0;  // since the spool last emptied (replay thread only)
    bool replay_waiting_ = false;             // the replay thread has logged that it waits for the database
    std::uint64_t attempt_seq_ = 0;           // the spooled webhook attempts_ counts for (replay thread only)
    int attempts_ = 0;                        // its calls that settled nothing
    const std::size_t batch_max_;
    const std::size_t gather_;  // a worker gathering a batch waits for this many (see work())
    const std::size_t queue_max_;
    std::atomic<Clock::rep> shed_logged_at_{0};  // steady-clock ticks of the last "queue_full" log line
    std::atomic<Clock::rep> batch_retry_at_{0};  // steady-clock ticks; before then, single calls only
    std::atomic<Clock::rep> spool_full_logged_at_{0};  // steady-clock ticks of the last "spool_full" log line

    std::mutex mutex_;
    std::condition_variable work_ready_;
    std::condition_variable stopping_cv_;
    std::deque<Pending> queue_;  // not yet taken, oldest first
    std::deque<std::function<void()>> tasks_;
    bool stopping_ = false;
    int busy_ = 0;                    // workers in a call now
    bool gathering_ = false;          // a worker is gathering a batch (see work())
    std::condition_variable gathered_;
    std::condition_variable spooled_;  // wakes the replay thread
    std::vector<std::thread> threads_;
};

}  // namespace byo::relay
