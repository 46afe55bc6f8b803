#include "handlers.hpp"

#include <cmath>
#include <string>
#include <string_view>
#include <utility>

#include "api_service.hpp"
#include "json_log.hpp"
#include "redact.hpp"
#include "static_files.hpp"
#include "utf8.hpp"
#include "webhook.hpp"

namespace byo::relay {

namespace {

namespace http = boost::beast::http;

bool is_webhook_target(std::string_view target) { return target.rfind("/twilio/", 0) == 0; }
bool is_api_target(std::string_view target) { return target.rfind("/api/", 0) == 0; }

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

HttpResponse not_allowed() {
    HttpResponse res = text_response(405, "method not allowed\n");
    res.set(http::field::allow, "GET, POST");
    return res;
}

std::optional<std::string> header(const HttpRequest& req, const char* name) {
    const auto it = req.find(name);
    if (it == req.end()) return std::nullopt;
    return std::string(it->value());
}

// Why `value` cannot be a PostgreSQL text parameter, or nullptr. Such input is the sender's error: answered 400
// here, it never becomes a failed call (SQLSTATE 22021) answered 503, which Twilio would retry forever.
const char* not_text(std::string_view value) {
    if (value.find('\0') != std::string_view::npos) return "a NUL byte";
    if (!valid_utf8(value)) return "invalid UTF-8";
    return nullptr;
}

void forward(const RelayContext& ctx, HttpRequest&& req, Responder reply) {
    WebhookRequest w;
    // The raw target, not a decoded path: Twilio signed the URL byte for byte, %2B and all.
    w.url = ctx.config.public_url;
    w.url.append(req.target().data(), req.target().size());
    w.signature = header(req, "X-Twilio-Signature");
    // A GET (a webhook configured with HTTP GET) carries its parameters in the query: no content type or body
    // goes to the database, which reads the query and checks the signature over the URL alone.
    w.get = req.method() == http::verb::get;
    if (w.get && !req.body().empty()) return reply(text_response(400, "a GET webhook has no body\n"));
    if (!w.get) w.content_type = header(req, "Content-Type");
    w.body = std::move(req.body());

    const std::pair<const char*, const std::string*> fields[] = {
        {"body", &w.body}, {"request target", &w.url},
        {"X-Twilio-Signature", w.signature ? &*w.signature : nullptr},
        {"Content-Type", w.content_type ? &*w.content_type : nullptr}};
    for (const auto& [name, value] : fields)
        if (const char* why = value ? not_text(*value) : nullptr)
            return reply(text_response(400, std::string(name) + " contains " + why + "\n"));

    ctx.batcher.submit(std::move(w), Clock::now() + ctx.config.db_timeout, [reply](WebhookAnswer&& a) {
        HttpResponse res = text_response(a.status, std::move(a.body), a.content_type.c_str());
        if (a.retry_after) res.set(http::field::retry_after, "5");
        reply(std::move(res));
    });
}

void handle_ready(const RelayContext& ctx, Responder reply) {
    ctx.batcher.run_task([&ctx, reply] {
        const auto deadline = Clock::now() + ctx.config.db_timeout;
        std::string error;
        DbPool::Lease lease = ctx.pool.acquire(deadline, error);
        if (lease) {
            const PgOutcome o = run_query(lease.conn(), "SELECT 1", {}, deadline);
            if (o.connection_unusable) lease.discard();
            if (o.ok()) return reply(text_response(200, "ready\n"));
            error = o.error;
        }
        ctx.metrics.record_db_error();
        log_event("db_error", {{"stage", "readyz"}, {"message", error}});
        reply(text_response(503, "not ready\n"));
    });
}

}  // namespace

void handle_request(const RelayContext& ctx, HttpRequest&& req, Responder reply) {
    const std::string_view target(req.target().data(), req.target().size());
    if (target.empty() || target.front() != '/')
        return reply(text_response(400, "origin-form target expected\n"));
    const std::string_view path = path_of(target);
    if (is_webhook_target(path)) {
        // Twilio sends webhooks with POST, or GET where a user configured that.
        if (req.method() != http::verb::post && req.method() != http::verb::get) return reply(not_allowed());
        return forward(ctx, std::move(req), std::move(reply));
    }
    if (is_api_target(path)) {
        if (!ctx.api) return reply(api::api_disabled_response());
        return ctx.api->handle(std::move(req), std::move(reply));
    }
    const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
    if (path.rfind("/ui/", 0) == 0 || path == "/ui") {
        if (!get) {
            HttpResponse res = text_response(405, "method not allowed\n");
            res.set(http::field::allow, "GET, HEAD");
            return reply(std::move(res));
        }
        if (path == "/ui") {  // relative links in index.html need the trailing slash
            HttpResponse res = text_response(308, "");
            res.set(http::field::location, "/ui/");
            return reply(std::move(res));
        }
        return reply(serve_static(ctx.web_dir, path.substr(4)));
    }
    if (get && path == "/healthz") return reply(text_response(200, "ok"));
    if (get && path == "/readyz") return handle_ready(ctx, std::move(reply));
    if (get && path == "/metrics") {
        // The spool's numbers are atomics: this never waits behind a spool write on the event loop.
        std::string body = ctx.metrics.render(ctx.pool.in_use(), ctx.pool.size(),
                                              ctx.spool ? static_cast<long long>(ctx.spool->count()) : -1);
        if (ctx.spool)
            body += "# HELP byo_twilio_relay_spool_dead_lettered_total Spool files moved to dead/: unreadable, or "
                    "not settled by the database within their attempts.\n"
                    "# TYPE byo_twilio_relay_spool_dead_lettered_total counter\n"
                    "byo_twilio_relay_spool_dead_lettered_total " +
                    std::to_string(ctx.spool->dead_lettered()) + '\n';
        return reply(text_response(200, std::move(body), "text/plain; version=0.0.4; charset=utf-8"));
    }
    reply(text_response(404, "not found\n"));
}

void log_request(const RelayContext& ctx, const AnsweredRequest& a) {
    const bool api = is_api_target(a.target);
    if (!is_webhook_target(a.target) && !api) return;
    if (!api) ctx.metrics.record_request(a.status, a.seconds);  // the webhook metrics stay webhooks only
    // API lines: never the Authorization header or the body; the path holds only route names and record ids.
    // Never the body, the signature or query values: they carry phone numbers, message text and tenant keys.
    LogFields f{{"method", std::string(a.method)},
                {"path", masked_path(a.target)},
                {"status", a.status},
                {"ms", std::round(a.seconds * 10000.0) / 10.0},
                {"bytes", a.bytes}};
    if (auto names = query_names(a.target); !names.empty()) f["query_names"] = names;
    log_event("request", f);
}

}  // namespace byo::relay
