#include "pg/dispatcher_worker.hpp"

#include <chrono>
#include <list>
#include <optional>
#include <random>
#include <unordered_map>

#include "core/http_multi.hpp"
#include "core/outbox_step.hpp"
#include "core/rate_limiter.hpp"
#include "pg/config.hpp"
#include "pg/dispatcher_shmem.hpp"
#include "pg/dispatcher_store.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "access/xact.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/wait_event.h"

PGDLLEXPORT void byo_dispatcher_main(Datum arg);
}

namespace byo::pg {

namespace {

using std::chrono::milliseconds;
using nlohmann::json;

constexpr long kIdleWaitMs = 10000;  // upper bound of a wait with nothing due (commits wake us earlier)
// While requests are in flight, how long one wait for their answers may last before the latch (a commit) and the
// due time are looked at again: the most a job committed meanwhile waits before it is claimed.
constexpr int kInFlightPollMs = 2;
constexpr std::size_t kRecordBatch = 128;  // answers recorded in one transaction at most
constexpr long kRecordDelayMs = 5;         // how long an answer may wait to be recorded with others

// The dispatcher is a continuous pipeline: it claims as many jobs as it has free request slots, starts them at
// once (within the per-account cap), and whenever answers come back it records them and claims again, so a job
// committed while other requests are in flight goes out without waiting for them (docs/delivery.md).
class Dispatcher {
public:
    Dispatcher()
        : multi_(dispatcher_settings().concurrency), limiter_(10, 10), call_limiter_(1, 1),
          random_(std::random_device{}()) {}

    void run() {
        loop_memory_ = AllocSetContextCreate(TopMemoryContext, "byo_twilio dispatcher pass", ALLOCSET_DEFAULT_SIZES);
        wait_for_extension();
        const int swept = sweep_outbox(dispatcher_settings().reconcile_delay_ms);
        if (swept > 0)
            ereport(LOG, (errmsg("byo_twilio dispatcher: %d job(s) were in flight at the last stop; they will be "
                                 "reconciled with Twilio before anything is resent", swept)));
        while (true) {
            CHECK_FOR_INTERRUPTS();
            if (ConfigReloadPending) {
                ConfigReloadPending = false;
                ProcessConfigFile(PGC_SIGHUP);
                resize_pending_ = true;
            }
            if (resize_pending_ && multi_.in_flight() == 0) {  // the slots change only while none is busy
                multi_.set_max_concurrency(dispatcher_settings().concurrency);
                resize_pending_ = false;
            }
            MemoryContextReset(loop_memory_);
            MemoryContext old = MemoryContextSwitchTo(loop_memory_);
            long wait_ms = 0;
            try {
                wait_ms = turn();
            } catch (const PgError& e) {
                report(e.data());
                wait_ms = 1000;
            } catch (const std::exception& e) {
                ereport(LOG, (errmsg("byo_twilio dispatcher: %s", e.what())));
                wait_ms = 1000;
            }
            MemoryContextSwitchTo(old);
            if (wait_ms > 0) {
                (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, wait_ms, PG_WAIT_EXTENSION);
                claim_wanted_ = true;  // woken by a commit, or a job fell due
            }
        }
    }

private:
    // A claimed job, from its claim until its answer is recorded.
    struct Claimed {
        OutboxJob job;
        PlannedStep step;
        Secret token;
    };
    using Clock = RateLimiter::Clock;

    // The worker starts with the server; the extension may be created later (CREATE EXTENSION byo_twilio).
    static void wait_for_extension() {
        bool told = false;
        while (!extension_installed()) {
            if (!told)
                ereport(LOG, (errmsg("byo_twilio dispatcher: waiting for CREATE EXTENSION byo_twilio in database "
                                     "\"%s\"", dispatcher_database())));
            told = true;
            (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 2000, PG_WAIT_EXTENSION);
            ResetLatch(MyLatch);
            CHECK_FOR_INTERRUPTS();
        }
    }

    // One turn of the pipeline: claim into free slots, start what the per-account cap allows, collect answers,
    // record. Returns how long to sleep (0: turn again at once).
    long turn() {
        const DispatcherSettings settings = dispatcher_settings();
        policy_.reconcile_delay = milliseconds(settings.reconcile_delay_ms);
        const int cap = std::max(1, settings.max_concurrent_per_account);
        if (MyLatch->is_set) {  // reset before claiming: a commit during the claim sets it again
            ResetLatch(MyLatch);
            claim_wanted_ = true;
        }
        if (due_at_ && Clock::now() >= *due_at_) {
            due_at_.reset();
            claim_wanted_ = true;
        }
        // Claimed jobs wait in held_ for a slot: one claim serves many requests, and at most one round of
        // requests (dispatcher_concurrency) is buffered before the next claim, so a new job waits little.
        const std::size_t rounds = static_cast<std::size_t>(multi_.max_concurrency());
        if (claim_wanted_ && held_.size() < rounds && held_.size() < static_cast<std::size_t>(settings.batch_size)) {
            claim_wanted_ = false;
            const int ask = settings.batch_size - static_cast<int>(held_.size());
            std::vector<OutboxJob> jobs = claim_outbox(ask);
            // Admitted before anything else can throw: claimed jobs are in flight in the table and must reach
            // held_ or an outcome, or they would wait for the next restart.
            admit(jobs, settings);
            if (static_cast<int>(jobs.size()) == ask) {
                claim_wanted_ = true;  // there may be more
            } else if (multi_.in_flight() > 0 || !jobs.empty()) {
                // Jobs due later (retries, rate limits) are claimed when due, even while requests are in flight.
                const std::optional<double> due = next_due_ms();
                if (due) due_at_ = Clock::now() + milliseconds(static_cast<long>(*due));
            }
        }
        start_held(cap);
        if (multi_.in_flight() > 0) {
            std::vector<HttpMulti::Finished> finished = multi_.collect(kInFlightPollMs);
            for (HttpMulti::Finished& f : finished) {
                auto it = claimed_.find(f.tag);
                if (it == claimed_.end()) continue;
                Claimed& c = it->second;
                if (--per_account_[c.job.account_sid] <= 0) per_account_.erase(c.job.account_sid);
                const OutboundResult result = classify_outbound(f.outcome);
                // A lookup whose item is not on this page reads the next one first, ahead of the held jobs.
                if (std::optional<PlannedStep> next = next_lookup_page(c.job, c.step, result, policy_)) {
                    c.step = std::move(*next);
                    held_.push_front(f.tag);
                    continue;
                }
                add_outcome(decide(c.job, c.step, result, policy_, random_()));
                claimed_.erase(it);
            }
            if (!finished.empty()) claim_wanted_ = true;  // slots are free
            start_held(cap);
        }
        // Answers are recorded in groups (one transaction for up to kRecordBatch, at most kRecordDelayMs after the
        // first), and at once when nothing else is in flight.
        if (!unrecorded_.empty() &&
            (unrecorded_.size() >= kRecordBatch || multi_.in_flight() == 0 ||
             Clock::now() - first_unrecorded_ >= milliseconds(kRecordDelayMs))) {
            json batch = std::move(unrecorded_);
            unrecorded_ = json::array();
            record(batch);
            claim_wanted_ = true;  // the next job of a conversation just recorded may be claimable now
        }
        if (multi_.in_flight() > 0 || claim_wanted_ || !unrecorded_.empty()) return 0;
        // Nothing in flight, nothing left to claim: sleep until the next job is due, or a commit wakes us.
        due_at_.reset();
        limiter_.forget_idle(Clock::now());
        call_limiter_.forget_idle(Clock::now());
        const std::optional<double> due = next_due_ms();
        return due ? std::max(1L, std::min(kIdleWaitMs, static_cast<long>(*due))) : kIdleWaitMs;
    }

    // An outcome waits in unrecorded_ (a member: an error later in the turn does not lose it) until recorded.
    void add_outcome(json outcome) {
        if (unrecorded_.empty()) first_unrecorded_ = Clock::now();
        unrecorded_.push_back(std::move(outcome));
    }

    // Plans each claimed job, applies the rate limits and decrypts its account's token; the jobs that need a
    // request join the queue of held jobs (claim order), the others get their outcome at once.
    void admit(const std::vector<OutboxJob>& jobs, const DispatcherSettings& settings) {
        if (jobs.empty()) return;
        const auto now = Clock::now();
        Keyring ring;
        std::string key_problem;
        try {
            ring = current_keyring();
            ring.current();
        } catch (const CoreError& e) {
            key_problem = e.what();
        }
        for (const OutboxJob& job : jobs) {
            PlannedStep step = plan_step(job, settings.webhook_base_url, policy_.clock_slack);
            if (step.step == Step::Fail) {
                add_outcome(fail_job(job, step.reason));
                continue;
            }
            if (!key_problem.empty()) {  // an operator problem: keep the job, retry when the key is back
                add_outcome(unclaim(job, milliseconds(5000), "encryption key unavailable: " + key_problem));
                continue;
            }
            Secret token;
            try {
                token = open_envelope(ring, job.auth_token_envelope, envelope_context(job.owner, job.account_sid));
            } catch (const CoreError& e) {
                add_outcome(e.sqlstate() == sqlstate::data_corrupted
                                       ? fail_job(job, "the stored auth token cannot be decrypted; save the settings again")
                                       : unclaim(job, milliseconds(5000), e.what()));
                continue;
            }
            if (step.sends_message()) {
                const double rate = job.max_segments_per_second > 0 ? job.max_segments_per_second
                                                                     : settings.max_segments_per_second;
                limiter_.set_rate(job.user_id, rate, std::max(rate, 1.0));
                const milliseconds wait = limiter_.try_take(job.user_id, job.segments, now);
                if (wait.count() > 0) {
                    add_outcome(unclaim(job, wait, "rate limited (segments per second)"));
                    continue;
                }
            }
            if (step.places_call()) {  // per account: a platform account's calls share one rate
                const double rate = settings.max_calls_per_second;
                call_limiter_.set_rate(job.account_sid, rate, 1);
                const milliseconds wait = call_limiter_.try_take(job.account_sid, 1, now);
                if (wait.count() > 0) {
                    add_outcome(unclaim(job, wait, "rate limited (calls per second)"));
                    continue;
                }
            }
            const std::uint64_t tag = next_tag_++;
            Claimed& c = claimed_[tag];  // a node of its own: the token's address is stable
            c.job = job;
            c.step = std::move(step);
            c.token = std::move(token);
            c.step.call.auth_token = &c.token;
            held_.push_back(tag);
        }
    }

    // Starts held jobs, in claim order, while slots are free and their account is under its cap (at most
    // max_concurrent_per_account requests in flight per Twilio account); the others keep waiting, claimed.
    void start_held(int cap) {
        if (held_.empty() || multi_.free_slots() == 0) return;
        const TwilioEndpoints endpoints = twilio_endpoints();
        const HttpOptions options = http_options();
        for (auto it = held_.begin(); it != held_.end() && multi_.free_slots() > 0;) {
            Claimed& c = claimed_.at(*it);
            int& busy = per_account_[c.job.account_sid];
            if (busy >= cap) {
                ++it;
                continue;
            }
            HttpRequest request;
            try {
                request = build_outbound_request(endpoints, c.step.call);
            } catch (const CoreError& e) {
                // The job cannot be sent as it stands (e.g. its settings lost a field it needs since it was
                // queued): it fails with the reason, and the jobs behind it go on.
                add_outcome(fail_job(c.job, e.what()));
                if (busy == 0) per_account_.erase(c.job.account_sid);
                claimed_.erase(*it);
                it = held_.erase(it);
                continue;
            }
            if (!multi_.start(*it, request, options)) break;
            ++busy;
            it = held_.erase(it);
        }
    }

    // Records outcomes in one transaction. When the tables refuse one of them (seen with a mock that
    // gives two messages the same SID), the whole transaction fails, and the pass's other jobs would stay in
    // flight until the dispatcher restarts: so then each is recorded on its own. One the data itself gets refused
    // (a constraint or a bad value: SQLSTATE class 23 or 22) is marked failed with the reason; failed is final,
    // so a message Twilio may have taken is not sent again. Any other error (the database in trouble) leaves its
    // job in flight, to be reconciled after the next restart, as before.
    static void record(const json& outcomes) {
        try {
            finish_outbox(outcomes.dump());
            return;
        } catch (const PgError& e) {
            report(e.data());
        }
        for (const json& outcome : outcomes) {
            try {
                finish_outbox(json::array({outcome}).dump());
            } catch (const PgError& e) {
                const int category = ERRCODE_TO_CATEGORY(e.data()->sqlerrcode);
                const bool refused_data = category == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION ||
                                          category == ERRCODE_DATA_EXCEPTION;
                const std::string why = std::string("could not record the outcome: ") +
                                        (e.data()->message ? e.data()->message : "unknown error");
                report(e.data());
                if (refused_data)
                    fail_unrecorded(outcome.value("user_id", std::string()), outcome.value("id", 0LL), why);
            }
        }
    }

    // Logs a PostgreSQL error caught in a pass and leaves no transaction behind.
    static void report(ErrorData* edata) {
        pg_call([&] {
            if (IsTransactionState() || IsAbortedTransactionBlockState()) AbortCurrentTransaction();
            edata->elevel = LOG;
            ThrowErrorData(edata);
        });
    }

    HttpMulti multi_;
    RateLimiter limiter_;       // SMS segments per user
    RateLimiter call_limiter_;  // calls placed per Twilio account
    RetryPolicy policy_;
    std::mt19937_64 random_;
    MemoryContext loop_memory_ = nullptr;
    std::unordered_map<std::uint64_t, Claimed> claimed_;  // by request tag: held or in flight
    std::list<std::uint64_t> held_;                       // claimed, waiting for a slot or their account's cap
    std::unordered_map<std::string, int> per_account_;    // requests in flight per Twilio account
    std::uint64_t next_tag_ = 0;
    bool claim_wanted_ = true;
    json unrecorded_ = json::array();  // answers not recorded yet
    Clock::time_point first_unrecorded_{};
    bool resize_pending_ = false;
    std::optional<Clock::time_point> due_at_;  // when a job claimed later falls due
};

}  // namespace

void register_dispatcher_worker() {
    BackgroundWorker worker{};
    snprintf(worker.bgw_name, BGW_MAXLEN, "byo_twilio dispatcher");
    snprintf(worker.bgw_type, BGW_MAXLEN, "byo_twilio dispatcher");
    snprintf(worker.bgw_library_name, BGW_MAXLEN, "byo_twilio");
    snprintf(worker.bgw_function_name, BGW_MAXLEN, "byo_dispatcher_main");
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = 1;
    RegisterBackgroundWorker(&worker);
}

}  // namespace byo::pg

// Worker entry. C++ exceptions end here (copied into plain storage); PostgreSQL errors outside a pass end the
// worker, and the postmaster restarts it a second later (the sweep then reconciles what was in flight).
void byo_dispatcher_main(Datum) {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnection(byo::pg::dispatcher_database(), nullptr, 0);
    byo::pg::dispatcher_announce_self();
    ereport(LOG, (errmsg("byo_twilio dispatcher started for database \"%s\"", byo::pg::dispatcher_database())));
    byo::pg::guard([]() -> Datum {
        byo::pg::Dispatcher().run();
        return Datum(0);
    });
}
