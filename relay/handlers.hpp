// Routing: which path and method does what, plus the per-request log line and metrics. The webhook logic itself
// is in webhook.cpp and batcher.cpp; this file only translates between HTTP messages and them.
#pragma once
#include "batcher.hpp"
#include "config.hpp"
#include "db_pool.hpp"
#include "http_server.hpp"
#include "metrics.hpp"
#include "spool.hpp"

namespace byo::relay::api {
class ApiService;
}

namespace byo::relay {

struct RelayContext {
    const Config& config;
    DbPool& pool;
    Metrics& metrics;
    WebhookBatcher& batcher;
    Spool* spool = nullptr;          // null: no spool (BYO_TWILIO_SPOOL_DIR unset)
    api::ApiService* api = nullptr;  // null: the app API is off (no BYO_TWILIO_API_DATABASE_URL)
    std::string web_dir;             // served at /ui/; empty: nothing is
};

// POST and GET /twilio/... (webhooks; other methods 405), /api/... (api_service.hpp), GET /ui/... (static_files.hpp),
// GET /healthz, /readyz, /metrics; anything else 404. Runs on
// the event loop: whatever needs the database goes to `ctx.batcher` and answers through `reply` later.
void handle_request(const RelayContext& ctx, HttpRequest&& req, Responder reply);

// The access log line and request metrics, for webhook paths only (probes would drown them).
void log_request(const RelayContext& ctx, const AnsweredRequest& answered);

}  // namespace byo::relay
