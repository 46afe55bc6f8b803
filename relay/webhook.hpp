// The relay's one job, without HTTP: hand a webhook to twilio.handle_webhook() and turn its row into an answer.
// A 2xx only ever comes from a call that returned rows, which in autocommit means it committed; every database
// failure becomes 503 + Retry-After so Twilio tries again (the SQL side deduplicates retries).
#pragma once
#include <optional>
#include <string>

#include "db_pool.hpp"
#include "metrics.hpp"

namespace byo::relay {

struct WebhookRequest {
    std::string url;                          // exactly what Twilio called: public base + raw target
    std::optional<std::string> signature;     // X-Twilio-Signature; absent is NULL, not ""
    std::optional<std::string> content_type;  // absent is NULL
    std::string body;                         // raw, as received (no NUL bytes: PostgreSQL text cannot hold them)
};

struct WebhookAnswer {
    int status = 503;
    std::string content_type = "text/plain";
    std::string body;
    bool retry_after = false;  // send Retry-After: 5
};

// Database trouble: Twilio should come back later.
WebhookAnswer unavailable_answer();

// One SQL call, bounded by `deadline` for pool wait + connect; the call itself gets `deadline` + a short grace so
// the server's statement_timeout (same budget) normally reports first. Never throws for database failures.
WebhookAnswer forward_webhook(DbPool& pool, Metrics& metrics, const WebhookRequest& request,
                              Clock::time_point deadline);

}  // namespace byo::relay
