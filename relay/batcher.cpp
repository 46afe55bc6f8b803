#include "batcher.hpp"

#include <algorithm>

#include "json_log.hpp"

namespace byo::relay {

namespace {

constexpr auto kBatchRetry = std::chrono::minutes(1);

// The batch function is missing (42883: extension older than 0.3.0) or not granted to us (42501).
bool batch_unavailable(const PgOutcome& o) { return o.sqlstate == "42883" || o.sqlstate == "42501"; }

}  // namespace

WebhookBatcher::WebhookBatcher(DbPool& pool, Metrics& metrics, int batch_max)
    : pool_(pool), metrics_(metrics), batch_max_(static_cast<std::size_t>(std::max(1, batch_max))) {}

WebhookAnswer WebhookBatcher::submit(const WebhookRequest& request, Clock::time_point deadline) {
    Pending me(&request, deadline);
    std::unique_lock<std::mutex> lock(mutex_);
    queue_.push_back(&me);
    for (;;) {
        if (me.done) return std::move(me.answer);
        if (!me.taken && leaders_ < pool_.size()) {
            // Lead: take the oldest queued webhooks to the database. If mine was not among them, come round again.
            ++leaders_;
            const std::vector<Pending*> batch = take_batch();
            lock.unlock();
            try {
                run(batch);
            } catch (const std::exception& e) {  // out of memory, say: the batch's requests must still be answered
                log_event("handler_exception", {{"message", e.what()}});
                for (Pending* p : batch) p->answer = unavailable_answer();
            }
            lock.lock();
            for (Pending* p : batch) {
                p->done = true;
                if (p != &me) p->wake.notify_one();
            }
            --leaders_;
            if (!queue_.empty()) queue_.front()->wake.notify_one();  // the oldest waiting one leads next
            continue;
        }
        if (me.taken) {
            me.wake.wait(lock);  // my leader's call has a deadline, so this ends
            continue;
        }
        if (me.wake.wait_until(lock, deadline) == std::cv_status::timeout && !me.taken && !me.done) {
            queue_.erase(std::find(queue_.begin(), queue_.end(), &me));
            // I may have been woken to lead just as I gave up: pass that on.
            if (leaders_ < pool_.size() && !queue_.empty()) queue_.front()->wake.notify_one();
            lock.unlock();
            metrics_.record_db_error();
            log_event("db_error",
                      {{"stage", "acquire"}, {"message", "no database connection free within the timeout"}});
            return unavailable_answer();
        }
    }
}

std::vector<WebhookBatcher::Pending*> WebhookBatcher::take_batch() {
    std::vector<Pending*> batch;
    while (!queue_.empty() && batch.size() < batch_max_) {
        Pending* p = queue_.front();
        queue_.pop_front();
        p->taken = true;
        batch.push_back(p);
    }
    return batch;
}

bool WebhookBatcher::batch_call_allowed() const {
    return Clock::now().time_since_epoch().count() >= batch_retry_at_.load(std::memory_order_relaxed);
}

void WebhookBatcher::run(const std::vector<Pending*>& batch) {
    // The oldest webhook's deadline bounds the call: it is the one Twilio has waited for longest.
    Clock::time_point deadline = batch.front()->deadline;
    for (const Pending* p : batch) deadline = std::min(deadline, p->deadline);

    std::string error;
    DbPool::Lease lease = pool_.acquire(deadline, error);
    if (!lease) {
        metrics_.record_db_error();
        log_event("db_error", {{"stage", "acquire"}, {"message", error}});
        for (Pending* p : batch) p->answer = unavailable_answer();
        return;
    }
    if (batch.size() == 1 || !batch_call_allowed()) return run_singles(lease, batch, deadline);

    std::vector<const WebhookRequest*> requests;
    for (const Pending* p : batch) requests.push_back(p->request);
    PgOutcome failure;
    std::optional<std::vector<WebhookAnswer>> answers = call_handle_webhooks(lease, requests, deadline, failure);
    metrics_.record_db_call(batch.size());
    if (answers) {
        for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->answer = std::move((*answers)[i]);
        return;
    }
    metrics_.record_db_error();
    LogFields f{{"stage", "batch_call"}, {"message", failure.error}, {"webhooks", batch.size()}};
    if (!failure.sqlstate.empty()) f["sqlstate"] = failure.sqlstate;
    if (batch_unavailable(failure)) {
        batch_retry_at_.store((Clock::now() + kBatchRetry).time_since_epoch().count(), std::memory_order_relaxed);
        f["fallback"] = "single calls for a minute: grant EXECUTE on twilio.handle_webhooks (byo_twilio 0.3.0+)";
    }
    log_event("db_error", f);
    if (failure.connection_unusable) {  // the server may be gone: do not try each one too
        for (Pending* p : batch) p->answer = unavailable_answer();
        return;
    }
    run_singles(lease, batch, deadline);
}

void WebhookBatcher::run_singles(DbPool::Lease& lease, const std::vector<Pending*>& batch,
                                 Clock::time_point deadline) {
    for (Pending* p : batch) {
        if (!lease.conn()) {  // the connection broke on an earlier one: the database is in trouble, answer at once
            p->answer = unavailable_answer();
            continue;
        }
        p->answer = call_handle_webhook(lease, metrics_, *p->request, deadline);
    }
}

}  // namespace byo::relay
