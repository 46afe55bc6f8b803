#include "handlers.hpp"

#include <cmath>
#include <optional>
#include <string>
#include <utility>

#include "json_log.hpp"
#include "redact.hpp"
#include "webhook.hpp"

namespace byo::relay {

namespace {

const char* const kWebhookRoute = R"(/twilio/.*)";

// cpp-httplib handles a request start to finish on one worker thread, and the pre-routing handler runs as soon as
// the headers are parsed; remembering the start here lets the logger time requests the library answers itself
// (413 on Content-Length) as well as ours.
thread_local std::optional<Clock::time_point> t_request_start;

// Keep-alive and bodies left unread. cpp-httplib 0.11 keeps a connection open after it stopped reading a body
// midway (a chunked body over the limit, a read timeout, a body on a GET) and parses the rest of that body as the
// next request: behind a proxy that reuses connections, request smuggling. A worker thread serves one connection
// at a time, so it remembers the peer (address and port) that left a body unread, and refuses every later request
// of that connection until the client closes it. A new connection is a new peer and clears the mark.
using Peer = std::pair<std::string, int>;
thread_local std::optional<Peer> t_tainted_peer;
thread_local bool t_body_read = false;  // this request's body was read to its end (or it had none)

bool declares_body(const httplib::Request& req) {
    if (req.has_header("Transfer-Encoding")) return true;
    return req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0";
}

// After the response went out: could bytes of this request still be waiting on the connection?
void remember_unread_body(const httplib::Request& req, const httplib::Response& res) {
    // A request line the library could not parse is answered before it notes the peer: such a request can only
    // follow a first one on the connection, so a mark that first one left stays.
    if (req.remote_port < 0) return;
    const int s = res.status;
    const bool library_refused = s == 400 || s == 408 || s == 413 || s == 414 || s == 431;
    if (!t_body_read && (declares_body(req) || library_refused))
        t_tainted_peer = Peer{req.remote_addr, req.remote_port};
}

bool tainted(const httplib::Request& req) {
    if (!t_tainted_peer) return false;
    if (*t_tainted_peer == Peer{req.remote_addr, req.remote_port}) return true;
    t_tainted_peer.reset();
    return false;
}

bool is_webhook(const httplib::Request& req) { return req.path.rfind("/twilio/", 0) == 0; }

void reply_text(httplib::Response& res, int status, const char* text) {
    res.status = status;
    res.set_content(text, "text/plain");
}

void reply_not_allowed(httplib::Response& res) {
    res.set_header("Allow", "POST");
    reply_text(res, 405, "method not allowed\n");
}

void forward(const RelayContext& ctx, const httplib::Request& req, httplib::Response& res, std::string body) {
    if (req.target.empty() || req.target.front() != '/') return reply_text(res, 400, "origin-form target expected\n");
    if (body.find('\0') != std::string::npos) return reply_text(res, 400, "body contains a NUL byte\n");

    WebhookRequest w;
    // The raw target, not the decoded path: Twilio signed the URL byte for byte, %2B and all.
    w.url = ctx.config.public_url + req.target;
    if (req.has_header("X-Twilio-Signature")) w.signature = req.get_header_value("X-Twilio-Signature");
    if (req.has_header("Content-Type")) w.content_type = req.get_header_value("Content-Type");
    w.body = std::move(body);

    const WebhookAnswer a = ctx.batcher.submit(w, Clock::now() + ctx.config.db_timeout);
    res.status = a.status;
    if (a.retry_after) res.set_header("Retry-After", "5");
    res.set_content(a.body, a.content_type.c_str());
}

// Reads the body through the content reader so the size limit holds for chunked bodies too (the library's
// payload limit only checks Content-Length).
void handle_webhook(const RelayContext& ctx, const httplib::Request& req, httplib::Response& res,
                    const httplib::ContentReader& read) {
    std::string body;
    bool too_large = false;
    const bool read_ok = read([&](const char* data, std::size_t n) {
        if (body.size() + n > ctx.config.body_limit) {
            too_large = true;
            return false;
        }
        body.append(data, n);
        return true;
    });
    if (too_large || !read_ok) {
        // Part of the body may still be unread: this connection must carry nothing more (t_tainted_peer).
        res.set_header("Connection", "close");
        if (too_large || res.status == 413) return reply_text(res, 413, "payload too large\n");
        return reply_text(res, 400, "could not read the request body\n");
    }
    t_body_read = true;
    forward(ctx, req, res, std::move(body));
}

// HTTP/1.1: a request with neither Content-Length nor Transfer-Encoding has an empty body. cpp-httplib 0.11
// instead reads such a POST until the client closes, holding a worker for the whole read timeout; so these
// requests are answered here, before the library tries to read anything.
httplib::Server::HandlerResponse answer_bodiless(const RelayContext& ctx, const httplib::Request& req,
                                                 httplib::Response& res) {
    const std::string& m = req.method;
    const bool library_reads_body = m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE" || m == "PRI";
    if (!library_reads_body || req.has_header("Content-Length") || req.has_header("Transfer-Encoding"))
        return httplib::Server::HandlerResponse::Unhandled;
    t_body_read = true;  // it has none
    if (!is_webhook(req))
        reply_text(res, 404, "not found\n");
    else if (m != "POST")
        reply_not_allowed(res);
    else
        forward(ctx, req, res, std::string());
    return httplib::Server::HandlerResponse::Handled;
}

void handle_ready(const RelayContext& ctx, httplib::Response& res) {
    const auto deadline = Clock::now() + ctx.config.db_timeout;
    std::string error;
    DbPool::Lease lease = ctx.pool.acquire(deadline, error);
    if (lease) {
        const PgOutcome o = run_query(lease.conn(), "SELECT 1", {}, deadline);
        if (o.connection_unusable) lease.discard();
        if (o.ok()) return reply_text(res, 200, "ready\n");
        error = o.error;
    }
    ctx.metrics.record_db_error();
    log_event("db_error", {{"stage", "readyz"}, {"message", error}});
    reply_text(res, 503, "not ready\n");
}

void log_and_count(const RelayContext& ctx, const httplib::Request& req, const httplib::Response& res) {
    remember_unread_body(req, res);
    const auto start = std::exchange(t_request_start, std::nullopt);
    if (!is_webhook(req)) return;
    const double seconds = start ? std::chrono::duration<double>(Clock::now() - *start).count() : 0.0;
    ctx.metrics.record_request(res.status, seconds);
    // Never the body, the signature or query values: they carry phone numbers, message text and tenant keys.
    LogFields f{{"method", req.method},
                {"path", masked_path(req.target)},
                {"status", res.status},
                {"ms", std::round(seconds * 10000.0) / 10.0},
                {"bytes", res.body.size()}};
    if (auto names = query_names(req.target); !names.empty()) f["query_names"] = names;
    log_event("request", f);
}

const char* default_text(int status) {
    switch (status) {
        case 400: return "bad request\n";
        case 404: return "not found\n";
        case 405: return "method not allowed\n";
        case 413: return "payload too large\n";
        case 414: return "uri too long\n";
        default: return "error\n";
    }
}

}  // namespace

void install_routes(httplib::Server& server, const RelayContext& ctx) {
    server.set_pre_routing_handler([ctx](const httplib::Request& req, httplib::Response& res) {
        t_request_start = Clock::now();
        t_body_read = false;
        if (tainted(req)) {
            res.set_header("Connection", "close");
            reply_text(res, 400, "connection closed: an earlier request left part of its body unread\n");
            return httplib::Server::HandlerResponse::Handled;
        }
        return answer_bodiless(ctx, req, res);
    });

    server.Post(kWebhookRoute, [ctx](const httplib::Request& req, httplib::Response& res,
                                     const httplib::ContentReader& read) { handle_webhook(ctx, req, res, read); });
    // Only POST reaches the database; every other method on a webhook path is answered here.
    auto not_allowed = [](const httplib::Request&, httplib::Response& res) { reply_not_allowed(res); };
    server.Get(kWebhookRoute, not_allowed);  // GET and HEAD
    server.Put(kWebhookRoute, not_allowed);
    server.Patch(kWebhookRoute, not_allowed);
    server.Delete(kWebhookRoute, not_allowed);
    server.Options(kWebhookRoute, not_allowed);

    server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { reply_text(res, 200, "ok"); });
    server.Get("/readyz", [ctx](const httplib::Request&, httplib::Response& res) { handle_ready(ctx, res); });
    server.Get("/metrics", [ctx](const httplib::Request&, httplib::Response& res) {
        res.set_content(ctx.metrics.render(ctx.pool.in_use(), ctx.pool.size()),
                        "text/plain; version=0.0.4; charset=utf-8");
    });

    // The library calls this for every status >= 400, ours included: only fill in responses that have no body
    // and no content type yet, so a 403 the SQL function chose goes out exactly as it chose it.
    server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
        if (res.body.empty() && !res.has_header("Content-Type")) res.set_content(default_text(res.status), "text/plain");
    });
    // Without this the library answers 500 and copies e.what() into a response header.
    server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
            if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        log_event("handler_exception", {{"message", what}});
        res.set_header("Retry-After", "5");
        reply_text(res, 503, "temporarily unavailable, retry later\n");
    });
    server.set_logger([ctx](const httplib::Request& req, const httplib::Response& res) { log_and_count(ctx, req, res); });
}

}  // namespace byo::relay
