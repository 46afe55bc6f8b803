// byo-twilio-relay: Twilio webhooks in, one SQL call each (or one per batch when they queue up), the answers
// back. Wiring only: settings, the pool and its workers, the HTTP server, and a signal watcher that drains on
// SIGTERM/SIGINT.
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include <libpq-fe.h>

#include "api_config.hpp"
#include "api_service.hpp"
#include "config.hpp"
#include "db_pool.hpp"
#include "handlers.hpp"
#include "http_server.hpp"
#include "json_log.hpp"
#include "metrics.hpp"
#include "public_url_check.hpp"
#include "spool.hpp"

namespace {

using byo::relay::log_event;
using namespace std::chrono_literals;

constexpr auto kDrainLimit = 10s;

// Never runs: the signals are blocked in every thread and taken with sigtimedwait. Installing it makes them
// deliverable when the relay is PID 1 in a container, where the kernel drops signals left at SIG_DFL.
extern "C" void ignore_signal(int) {}

sigset_t stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    return set;
}

// Waits up to `timeout` for SIGTERM/SIGINT; returns the signal or 0.
int next_signal(std::chrono::milliseconds timeout) {
    const sigset_t set = stop_signals();
    timespec ts{static_cast<time_t>(timeout.count() / 1000), static_cast<long>(timeout.count() % 1000) * 1000000L};
    const int sig = sigtimedwait(&set, nullptr, &ts);
    return sig > 0 ? sig : 0;
}

// The watcher thread: on the first signal stop accepting and give in-flight requests kDrainLimit to finish; a
// second signal, or the limit passing, ends the process at once.
void watch_signals(byo::relay::HttpServer& server, const std::atomic<bool>& served) {
    int sig = 0;
    while (!served && sig == 0) sig = next_signal(200ms);
    if (sig == 0) return;  // the server ended on its own; main reports it
    log_event("shutdown_requested", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    server.stop();

    const auto give_up = std::chrono::steady_clock::now() + kDrainLimit;
    while (!served) {
        if (next_signal(100ms) != 0 || std::chrono::steady_clock::now() >= give_up) {
            log_event("shutdown", {{"drained", false}});
            std::_Exit(1);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
            std::fputs(byo::relay::help_text().c_str(), stdout);
            std::fputs(byo::relay::api::api_help_text(), stdout);
            return 0;
        }
        std::fprintf(stderr, "byo-twilio-relay: unknown argument \"%s\"; settings come from the environment, "
                             "see --help\n", argv[i]);
        return 2;
    }

    byo::relay::Config config;
    byo::relay::api::ApiConfig api_config;
    try {
        config = byo::relay::load_config([](const char* name) { return std::getenv(name); });
        api_config = byo::relay::api::load_api_config([](const char* name) { return std::getenv(name); });
    } catch (const byo::relay::ConfigError& e) {
        log_event("config_error", {{"message", e.what()}});
        return 2;
    }
    // A malformed connection string would make libpq quote pieces of it (the password among them) in every
    // connection error we log: refuse it here, without repeating libpq's message.
    char* parse_error = nullptr;
    if (PQconninfoOption* parsed = PQconninfoParse(config.database_url.c_str(), &parse_error)) {
        PQconninfoFree(parsed);
    } else {
        PQfreemem(parse_error);
        log_event("config_error", {{"message", "BYO_TWILIO_DATABASE_URL is not a valid libpq connection string"}});
        return 2;
    }
    if (api_config.enabled) {
        if (PQconninfoOption* parsed = PQconninfoParse(api_config.database_url.c_str(), &parse_error)) {
            PQconninfoFree(parsed);
        } else {
            PQfreemem(parse_error);
            log_event("config_error",
                      {{"message", "BYO_TWILIO_API_DATABASE_URL is not a valid libpq connection string"}});
            return 2;
        }
    }

    // Before any thread exists, so every thread inherits the mask and only the watcher ever sees the signals.
    const sigset_t set = stop_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGTERM, ignore_signal);
    signal(SIGINT, ignore_signal);
    signal(SIGPIPE, SIG_IGN);  // a client hanging up mid-response must not kill the process

    byo::relay::PublicUrlCheck public_url_check(config.public_url);
    byo::relay::DbPool pool(config.database_url, config.pool_size, config.db_timeout,
                            [&public_url_check](const std::optional<std::string>& base_url) {
                                public_url_check.observe(base_url);
                            });
    byo::relay::Metrics metrics;
    std::unique_ptr<byo::relay::Spool> spool;
    if (!config.spool_dir.empty()) {
        try {
            spool = std::make_unique<byo::relay::Spool>(config.spool_dir, config.spool_max_bytes);
        } catch (const byo::relay::SpoolError& e) {
            log_event("config_error", {{"message", std::string("BYO_TWILIO_SPOOL_DIR: ") + e.what()}});
            return 2;
        }
    }
    // What an earlier run spooled is replayed first, as soon as the database answers.
    byo::relay::WebhookBatcher batcher(pool, metrics, config.batch_max, config.queue_max, spool.get(),
                                       config.db_timeout);
    // The app API has its own pool and workers: its users' calls never wait behind webhooks, nor the reverse, and
    // its sessions (which switch roles) are never the webhook role's.
    std::unique_ptr<byo::relay::api::ApiService> api;
    if (api_config.enabled) {
        try {
            api = std::make_unique<byo::relay::api::ApiService>(api_config, config.db_timeout);
        } catch (const byo::relay::ConfigError& e) {
            log_event("config_error", {{"message", e.what()}});
            return 2;
        }
    }
    const byo::relay::RelayContext ctx{config, pool, metrics, batcher, spool.get(), api.get(), api_config.web_dir};

    const byo::relay::HttpServerOptions options{config.body_limit, config.read_timeout, std::chrono::seconds(5),
                                                config.keep_alive_requests, config.threads};
    byo::relay::HttpServer server(
        options, [&ctx](byo::relay::HttpRequest&& req, byo::relay::Responder reply) {
            byo::relay::handle_request(ctx, std::move(req), std::move(reply));
        },
        [&ctx](const byo::relay::AnsweredRequest& a) { byo::relay::log_request(ctx, a); });

    const bool v6 = config.listen_host.find(':') != std::string::npos;
    const std::string listen = (v6 ? "[" + config.listen_host + "]" : config.listen_host) + ":" +
                               std::to_string(config.listen_port);
    if (auto error = server.listen(config.listen_host, config.listen_port)) {
        log_event("listen_error", {{"listen", listen}, {"message", *error}});
        return 1;
    }
    // Not the database URL: it may hold a password.
    log_event("start", {{"listen", listen},
                        {"pool_size", config.pool_size},
                        {"threads", config.threads},
                        {"batch_max", config.batch_max},
                        {"queue_max", config.queue_max},
                        {"keep_alive_requests", config.keep_alive_requests},
                        {"body_limit", config.body_limit},
                        {"db_timeout_ms", config.db_timeout.count()},
                        {"read_timeout_ms", config.read_timeout.count()},
                        {"spool_dir", config.spool_dir},
                        {"spool_max_mb", config.spool_max_bytes >> 20},
                        {"spooled", spool ? spool->count() : 0},
                        {"api", api_config.enabled},
                        {"api_pool_size", api ? api->pool_size() : 0},
                        {"web_dir", api_config.web_dir}});

    std::atomic<bool> served{false};
    std::thread watcher(watch_signals, std::ref(server), std::cref(served));
    // Returns once stop() was called and every request in flight was answered.
    server.run();
    served = true;
    watcher.join();
    batcher.stop();
    if (api) api->stop();
    pool.close_all();
    log_event("shutdown", {{"drained", true}});
    return 0;
}
