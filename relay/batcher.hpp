// Webhooks that arrive while every database connection is busy wait in a queue; whichever waiting request is
// next allowed a connection takes the oldest queued webhooks (up to batch_max, its own among them unless more are
// ahead) to the database in one call, twilio.handle_webhooks: one transaction, one round trip, one INSERT for the
// inbound texts, instead of one of each per webhook. Nobody waits on purpose: a webhook that finds a connection
// free goes alone, at once; batches only form from the queue that load builds up anyway.
//
// A batch that fails as a whole (an error in one webhook aborts its transaction) is sent again one webhook per
// call, so one bad webhook cannot fail the others. A database without handle_webhooks (extension older than 0.3.0)
// or a relay role without EXECUTE on it gets single calls, retried as a batch a minute later.
#pragma once
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

#include "db_pool.hpp"
#include "metrics.hpp"
#include "webhook.hpp"

namespace byo::relay {

class WebhookBatcher {
public:
    // `batch_max` 1: every webhook goes alone.
    WebhookBatcher(DbPool& pool, Metrics& metrics, int batch_max);

    // The webhook's answer once its call committed, or 503 when `deadline` passed before it got a connection or
    // the database failed. Blocks the calling (HTTP worker) thread; never throws for database failures.
    WebhookAnswer submit(const WebhookRequest& request, Clock::time_point deadline);

private:
    struct Pending {
        Pending(const WebhookRequest* r, Clock::time_point d) : request(r), deadline(d) {}
        const WebhookRequest* request;
        Clock::time_point deadline;
        WebhookAnswer answer;
        bool taken = false;  // a leader has it; it will be done before the leader's call deadline
        bool done = false;
        // Its own, so a finished call wakes exactly the threads it answered (and the next leader), not every
        // waiting thread: a shared one made each call wake dozens of threads to go back to sleep.
        std::condition_variable wake;
    };

    // With the lock held: takes the oldest queued webhooks for one call.
    std::vector<Pending*> take_batch();
    // Without the lock: one database call (or single calls after a failed batch) answering every item.
    void run(const std::vector<Pending*>& batch);
    void run_singles(DbPool::Lease& lease, const std::vector<Pending*>& batch, Clock::time_point deadline);
    bool batch_call_allowed() const;

    DbPool& pool_;
    Metrics& metrics_;
    const std::size_t batch_max_;
    std::atomic<Clock::rep> batch_retry_at_{0};  // steady-clock ticks; before then, single calls only

    std::mutex mutex_;
    std::deque<Pending*> queue_;  // not yet taken, oldest first
    int leaders_ = 0;             // requests running a call now; at most the pool size
};

}  // namespace byo::relay
