// HTTP wiring: which path and method does what, plus the per-request log line and metrics. The webhook logic
// itself is in webhook.cpp; this file only translates between cpp-httplib and it.
#pragma once
#include <httplib.h>

#include "config.hpp"
#include "db_pool.hpp"
#include "batcher.hpp"
#include "metrics.hpp"

namespace byo::relay {

struct RelayContext {
    const Config& config;
    DbPool& pool;
    Metrics& metrics;
    WebhookBatcher& batcher;
};

// Registers POST /twilio/... (webhooks; other methods 405), GET /healthz, /readyz, /metrics, and the logger,
// error and exception handlers. `ctx` must outlive the server.
void install_routes(httplib::Server& server, const RelayContext& ctx);

}  // namespace byo::relay
