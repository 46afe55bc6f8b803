#include "batcher.hpp"

#include <algorithm>
#include <iterator>

#include "json_log.hpp"

namespace byo::relay {

namespace {

constexpr auto kBatchRetry = std::chrono::minutes(1);
// How often the watcher looks for queued webhooks past their deadline: an expired one waits at most this long
// for its 503.
constexpr auto kExpiryCheck = std::chrono::milliseconds(100);
// A free worker, while another call is in flight (load, not a lone webhook), waits up to kGatherWait for
// kGather webhooks to queue before it calls: at an even rate, webhooks otherwise go one per call (a whole
// transaction each: 0.41 ms, against about 0.14 ms per webhook inside a batch). Measured in docs/benchmarks.md.
constexpr auto kGatherWait = std::chrono::microseconds(500);
constexpr std::size_t kGather = 4;
constexpr auto kShedLogInterval = std::chrono::seconds(10);
// How long the replay thread waits before trying the database again after it could not be reached.
constexpr auto kReplayRetry = std::chrono::seconds(1);
// Calls a spooled webhook gets that reach the database yet settle nothing (an SQL error, a timeout, a backend
// lost mid-call): then its file goes to dead/ and the replay goes on, so one webhook cannot hold the spool (or
// crash a backend every second) forever.
constexpr int kReplayAttempts = 5;

// The batch function is missing (42883: extension older than 0.3.0) or not granted to us (42501).
bool batch_unavailable(const PgOutcome& o) { return o.sqlstate == "42883" || o.sqlstate == "42501"; }

}  // namespace

WebhookBatcher::WebhookBatcher(DbPool& pool, Metrics& metrics, int batch_max, int queue_max, Spool* spool,
                               std::chrono::milliseconds db_timeout)
    : pool_(pool),
      metrics_(metrics),
      spool_(spool),
      db_timeout_(db_timeout),
      batch_max_(static_cast<std::size_t>(std::max(1, batch_max))),
      gather_(std::min(batch_max_, kGather)),
      queue_max_(static_cast<std::size_t>(std::max(1, queue_max))) {
    for (int i = 0; i < pool_.size(); ++i) threads_.emplace_back([this] { work(); });
    threads_.emplace_back([this] { watch_expiry(); });
    if (spool_) threads_.emplace_back([this] { replay(); });
}

WebhookBatcher::~WebhookBatcher() { stop(); }

void WebhookBatcher::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    work_ready_.notify_all();
    gathered_.notify_all();
    stopping_cv_.notify_all();
    spooled_.notify_all();
    for (std::thread& t : threads_)
        if (t.joinable()) t.join();
}

void WebhookBatcher::submit(WebhookRequest request, Clock::time_point deadline, Done done) {
    {
        std::unique_lock<std::mutex> lock(mutex_);
        if (queue_.size() >= queue_max_) {
            lock.unlock();
            return shed(std::move(done));
        }
        queue_.push_back(Pending{std::move(request), deadline, std::move(done), WebhookAnswer{}});
        if (gathering_) {  // a worker is gathering a batch: it takes this one
            if (queue_.size() >= gather_) gathered_.notify_one();
            return;
        }
    }
    work_ready_.notify_one();
}

void WebhookBatcher::shed(Done done) {
    metrics_.record_shed();
    // One line per kShedLogInterval at most: an overload must not also flood the log (the count is in /metrics).
    const auto now = Clock::now().time_since_epoch().count();
    auto last = shed_logged_at_.load(std::memory_order_relaxed);
    if (now - last >= std::chrono::duration_cast<Clock::duration>(kShedLogInterval).count() &&
        shed_logged_at_.compare_exchange_strong(last, now, std::memory_order_relaxed))
        log_event("queue_full", {{"queue_max", queue_max_},
                                 {"message", "webhooks answered 503 at once: the database falls behind"}});
    done(unavailable_answer());
}

void WebhookBatcher::run_task(std::function<void()> task) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        tasks_.push_back(std::move(task));
    }
    work_ready_.notify_one();
}

void WebhookBatcher::work() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        work_ready_.wait(lock, [this] { return stopping_ || !queue_.empty() || !tasks_.empty(); });
        if (!tasks_.empty()) {
            std::function<void()> task = std::move(tasks_.front());
            tasks_.pop_front();
            lock.unlock();
            task();
            lock.lock();
            continue;
        }
        if (queue_.empty()) return;  // stopping, and nothing left
        if (queue_.size() < gather_ && busy_ > 0 && !gathering_) {
            // Another call is in flight: let the webhooks right behind this one join it (kGatherWait at most).
            gathering_ = true;
            gathered_.wait_for(lock, kGatherWait, [this] { return stopping_ || queue_.size() >= gather_; });
            gathering_ = false;
            if (queue_.empty()) continue;  // a worker that came free meanwhile took them
        }
        std::vector<Pending> batch = take_batch();
        ++busy_;
        const bool more = !queue_.empty();
        lock.unlock();
        if (more) work_ready_.notify_one();
        try {
            if (spool_ && !spool_->empty()) {  // older webhooks wait in the spool: these go behind them
                std::vector<Pending*> all;
                for (Pending& p : batch) all.push_back(&p);
                keep_or_refuse(all);
            } else {
                run(batch);
            }
        } catch (const std::exception& e) {  // out of memory, say: the batch's requests must still be answered
            log_event("handler_exception", {{"message", e.what()}});
            for (Pending& p : batch) p.answer = unavailable_answer();
        }
        for (Pending& p : batch) p.done(std::move(p.answer));
        lock.lock();
        --busy_;
    }
}

void WebhookBatcher::watch_expiry() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
        const auto now = Clock::now();
        std::vector<Pending> expired;
        auto keep = std::stable_partition(queue_.begin(), queue_.end(),
                                          [now](const Pending& p) { return p.deadline > now; });
        std::move(keep, queue_.end(), std::back_inserter(expired));
        queue_.erase(keep, queue_.end());
        if (expired.empty()) {
            stopping_cv_.wait_for(lock, kExpiryCheck);
            continue;
        }
        lock.unlock();
        metrics_.record_db_error();
        log_event("db_error", {{"stage", "acquire"},
                               {"message", "no database connection free within the timeout"},
                               {"webhooks", expired.size()}});
        for (Pending& p : expired) p.done(unavailable_answer());
        lock.lock();
    }
}

std::vector<WebhookBatcher::Pending> WebhookBatcher::take_batch() {
    std::vector<Pending> batch;
    batch.reserve(std::min(batch_max_, queue_.size()));
    while (!queue_.empty() && batch.size() < batch_max_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
    }
    return batch;
}

bool WebhookBatcher::batch_call_allowed() const {
    return Clock::now().time_since_epoch().count() >= batch_retry_at_.load(std::memory_order_relaxed);
}

void WebhookBatcher::run(std::vector<Pending>& batch) {
    // The oldest webhook's deadline bounds the call: it is the one Twilio has waited for longest.
    Clock::time_point deadline = batch.front().deadline;
    for (const Pending& p : batch) deadline = std::min(deadline, p.deadline);

    std::string error;
    bool unreachable = false;
    DbPool::Lease lease = pool_.acquire(deadline, error, &unreachable);
    if (!lease) {
        metrics_.record_db_error();
        log_event("db_error", {{"stage", "acquire"}, {"message", error}});
        std::vector<Pending*> all;
        for (Pending& p : batch) all.push_back(&p);
        if (unreachable) return keep_or_refuse(all);
        for (Pending& p : batch) p.answer = unavailable_answer();
        return;
    }
    if (batch.size() == 1 || !batch_call_allowed()) return run_singles(lease, batch, deadline);

    std::vector<const WebhookRequest*> requests;
    requests.reserve(batch.size());
    for (const Pending& p : batch) requests.push_back(&p.request);
    PgOutcome failure;
    bool lost = false;
    std::optional<std::vector<WebhookAnswer>> answers =
        call_handle_webhooks(lease, requests, deadline, failure, lost);
    metrics_.record_db_call(batch.size());
    if (answers) {
        for (std::size_t i = 0; i < batch.size(); ++i) batch[i].answer = std::move((*answers)[i]);
        return;
    }
    if (is_data_exception(failure.sqlstate)) {
        // One webhook's value was refused and aborted the batch: not database trouble. Each alone finds it (400).
        log_event("bad_input", {{"stage", "batch_call"}, {"sqlstate", failure.sqlstate}, {"webhooks", batch.size()},
                                {"fallback", "each webhook of the batch in a call of its own"}});
        return run_singles(lease, batch, deadline);
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
        std::vector<Pending*> all;
        for (Pending& p : batch) all.push_back(&p);
        if (lost) return keep_or_refuse(all);  // if it committed after all, the replay is deduplicated
        for (Pending& p : batch) p.answer = unavailable_answer();
        return;
    }
    run_singles(lease, batch, deadline);
}

void WebhookBatcher::run_singles(DbPool::Lease& lease, std::vector<Pending>& batch, Clock::time_point deadline) {
    std::vector<Pending*> unreachable;
    for (Pending& p : batch) {
        if (!lease.conn()) {  // the connection broke on an earlier one: the database is in trouble, answer at once
            p.answer = unavailable_answer();
            if (!unreachable.empty()) unreachable.push_back(&p);
            continue;
        }
        p.answer = call_handle_webhook(lease, metrics_, p.request, deadline);
        if (p.answer.unreachable) unreachable.push_back(&p);
    }
    if (!unreachable.empty()) keep_or_refuse(unreachable);
}

void WebhookBatcher::keep_or_refuse(const std::vector<Pending*>& all) {
    // Only what carries an X-Twilio-Signature is kept: anyone can POST to /twilio/..., and the signature can be
    // checked only by the database. The rest gets 503, as without a spool (Twilio always signs, and retries).
    std::vector<Pending*> pending;
    for (Pending* p : all) {
        if (p->request.signature && !p->request.signature->empty()) pending.push_back(p);
        else p->answer = unavailable_answer();
    }
    if (pending.empty()) return;
    std::vector<const WebhookRequest*> requests;
    for (const Pending* p : pending) requests.push_back(&p->request);
    const bool kept = spool_ && spool_->append(requests);
    for (Pending* p : pending) p->answer = kept ? spooled_answer() : unavailable_answer();
    if (kept) {
        metrics_.record_spooled(pending.size());
        spooled_.notify_one();
    } else if (spool_) {
        // At most one line per kShedLogInterval, as for a full queue: the count is in /metrics.
        const auto now = Clock::now().time_since_epoch().count();
        auto last = spool_full_logged_at_.load(std::memory_order_relaxed);
        if (now - last >= std::chrono::duration_cast<Clock::duration>(kShedLogInterval).count() &&
            spool_full_logged_at_.compare_exchange_strong(last, now, std::memory_order_relaxed))
            log_event("spool_full", {{"webhooks", pending.size()}, {"spooled", spool_->count()},
                                     {"message", "answered 503: the spool is full or could not be written"}});
    }
}

void WebhookBatcher::replay() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
        if (spool_->empty()) {
            spooled_.wait_for(lock, kReplayRetry);
            continue;
        }
        lock.unlock();
        bool progressed = false;
        try {
            progressed = replay_one();
        } catch (const std::exception& e) {  // out of memory, say: the file stays and is tried again
            log_event("handler_exception", {{"message", e.what()}, {"stage", "spool_replay"}});
        }
        lock.lock();
        if (!progressed && !stopping_) stopping_cv_.wait_for(lock, kReplayRetry);
    }
}

bool WebhookBatcher::replay_one() {
    std::optional<Spool::Entry> entry = spool_->oldest();
    if (!entry) return false;
    if (entry->seq != attempt_seq_) {
        attempt_seq_ = entry->seq;
        attempts_ = 0;
    }
    const auto deadline = Clock::now() + db_timeout_;
    std::string error;
    DbPool::Lease lease = pool_.acquire(deadline, error);
    if (!lease) {  // unreachable again (or every connection busy): no fault of this webhook's, the file stays
        if (!replay_waiting_)
            log_event("spool_waiting", {{"spooled", spool_->count()},
                                        {"message", "spooled webhooks wait for the database"}});
        replay_waiting_ = true;
        return false;
    }
    replay_waiting_ = false;
    WebhookAnswer answer = call_handle_webhook(lease, metrics_, entry->request, deadline);
    if (answer.retry_after) {
        // The call reached the database but settled nothing (its db_error line has the SQLSTATE). Tried again
        // a few times, in case it was passing trouble; then set aside so the webhooks behind it go on.
        if (++attempts_ < kReplayAttempts) return false;
        spool_->dead_letter(entry->seq, answer.unreachable ? "connection lost on every attempt"
                                                           : "database error on every attempt");
        metrics_.record_replayed(false);
        ++dropped_;
    } else {
        // Answered, so committed: the file goes. A refusal (a forged signature, an unknown tenant) is final too;
        // only the status is logged, never the webhook.
        if (answer.status >= 400) {
            ++dropped_;
            log_event("spool_dropped", {{"seq", entry->seq}, {"status", answer.status}});
        } else {
            ++replayed_;
        }
        spool_->remove(entry->seq);
        metrics_.record_replayed(answer.status < 400);
    }
    attempts_ = 0;
    if (spool_->empty()) {
        log_event("spool_drained", {{"replayed", replayed_}, {"dropped", dropped_}});
        replayed_ = dropped_ = 0;
    }
    return true;
}

}  // namespace byo::relay
