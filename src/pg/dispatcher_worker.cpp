#include "pg/dispatcher_worker.hpp"

#include <chrono>
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
            ResetLatch(MyLatch);
            CHECK_FOR_INTERRUPTS();
            if (ConfigReloadPending) {
                ConfigReloadPending = false;
                ProcessConfigFile(PGC_SIGHUP);
                multi_.set_max_concurrency(dispatcher_settings().concurrency);
            }
            MemoryContextReset(loop_memory_);
            MemoryContext old = MemoryContextSwitchTo(loop_memory_);
            long wait_ms = 0;
            try {
                wait_ms = pass();
            } catch (const PgError& e) {
                report(e.data());
                wait_ms = 1000;
            } catch (const std::exception& e) {
                ereport(LOG, (errmsg("byo_twilio dispatcher: %s", e.what())));
                wait_ms = 1000;
            }
            MemoryContextSwitchTo(old);
            if (wait_ms > 0)
                (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, wait_ms, PG_WAIT_EXTENSION);
        }
    }

private:
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

    // One pass: claim, send with no transaction open, record. Returns how long to sleep (0: go again at once).
    long pass() {
        const DispatcherSettings settings = dispatcher_settings();
        policy_.reconcile_delay = milliseconds(settings.reconcile_delay_ms);
        std::vector<OutboxJob> jobs = claim_outbox(settings.batch_size);
        if (jobs.empty()) {
            const std::optional<double> due = next_due_ms();
            return due ? std::max(1L, std::min(kIdleWaitMs, static_cast<long>(*due))) : kIdleWaitMs;
        }
        json outcomes = json::array();
        std::vector<PlannedStep> steps(jobs.size());
        std::vector<Secret> tokens(jobs.size());
        // Requests go out in waves with at most max_concurrent_per_account per account in each, so one busy
        // account neither trips Twilio's concurrency limit nor makes us give claimed jobs back.
        std::vector<std::vector<std::size_t>> wave_jobs;
        std::vector<std::vector<HttpRequest>> wave_requests;
        std::unordered_map<std::string, int> per_account;
        const auto now = RateLimiter::Clock::now();
        const TwilioEndpoints endpoints = twilio_endpoints();
        Keyring ring;
        std::string key_problem;
        try {
            ring = current_keyring();
            ring.current();
        } catch (const CoreError& e) {
            key_problem = e.what();
        }

        for (std::size_t i = 0; i < jobs.size(); ++i) {
            const OutboxJob& job = jobs[i];
            steps[i] = plan_step(job, settings.webhook_base_url);
            if (steps[i].step == Step::Fail) {
                outcomes.push_back(fail_job(job, steps[i].reason));
                continue;
            }
            if (!key_problem.empty()) {  // an operator problem: keep the job, retry when the key is back
                outcomes.push_back(unclaim(job, milliseconds(5000), "encryption key unavailable: " + key_problem));
                continue;
            }
            try {
                tokens[i] = open_envelope(ring, job.auth_token_envelope, envelope_context(job.owner, job.account_sid));
            } catch (const CoreError& e) {
                outcomes.push_back(e.sqlstate() == sqlstate::data_corrupted
                                       ? fail_job(job, "the stored auth token cannot be decrypted; save the settings again")
                                       : unclaim(job, milliseconds(5000), e.what()));
                continue;
            }
            if (steps[i].sends_message()) {
                const double rate = job.max_segments_per_second > 0 ? job.max_segments_per_second
                                                                     : settings.max_segments_per_second;
                limiter_.set_rate(job.user_id, rate, std::max(rate, 1.0));
                const milliseconds wait = limiter_.try_take(job.user_id, job.segments, now);
                if (wait.count() > 0) {
                    outcomes.push_back(unclaim(job, wait, "rate limited (segments per second)"));
                    continue;
                }
            }
            if (steps[i].places_call()) {  // per account: a platform account's calls share one rate
                const double rate = settings.max_calls_per_second;
                call_limiter_.set_rate(job.account_sid, rate, 1);
                const milliseconds wait = call_limiter_.try_take(job.account_sid, 1, now);
                if (wait.count() > 0) {
                    outcomes.push_back(unclaim(job, wait, "rate limited (calls per second)"));
                    continue;
                }
            }
            steps[i].call.auth_token = &tokens[i];
            const std::size_t wave = per_account[job.account_sid]++ / settings.max_concurrent_per_account;
            if (wave_jobs.size() <= wave) {
                wave_jobs.resize(wave + 1);
                wave_requests.resize(wave + 1);
            }
            wave_requests[wave].push_back(build_outbound_request(endpoints, steps[i].call));
            wave_jobs[wave].push_back(i);
        }

        for (std::size_t w = 0; w < wave_jobs.size(); ++w) {
            std::vector<HttpOutcome> answers = multi_.perform_all(wave_requests[w], http_options());
            for (std::size_t k = 0; k < wave_jobs[w].size(); ++k) {
                const std::size_t i = wave_jobs[w][k];
                outcomes.push_back(decide(jobs[i], steps[i], classify_outbound(answers[k]), policy_, random_()));
            }
        }
        record(outcomes);
        limiter_.forget_idle(now);
        call_limiter_.forget_idle(now);
        return 0;
    }

    // Records a pass's outcomes in one transaction. When the tables refuse one of them (seen with a mock that
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
