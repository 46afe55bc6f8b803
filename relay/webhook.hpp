// The relay's one job, without HTTP: hand webhooks to twilio.handle_webhook() (one) or twilio.handle_webhooks()
// (several, one transaction) and turn the rows into answers. A 2xx only ever comes from a call that returned
// rows, which in autocommit means it committed; a database failure becomes 503 + Retry-After so Twilio tries
// again (the SQL side deduplicates retries). Who calls which, and when, is batcher.cpp's business.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "db_pool.hpp"
#include "metrics.hpp"

namespace byo::relay {

struct WebhookRequest {
    std::string url;                          // exactly what Twilio called: public base + raw target
    std::optional<std::string> signature;     // X-Twilio-Signature; absent is NULL, not ""
    std::optional<std::string> content_type;  // absent is NULL
    std::string body;                         // raw, as received (no NUL bytes: PostgreSQL text cannot hold them)
    // An HTTP GET: the parameters are in the URL's query. Sent with NULL content type and body, which tells
    // handle_webhook to read them there and check the signature over the URL alone.
    bool get = false;
};

struct WebhookAnswer {
    int status = 503;
    std::string content_type = "text/plain";
    std::string body;
    bool retry_after = false;  // send Retry-After: 5
    // The database could not be reached (connection refused or lost), as opposed to a timeout or an error it
    // reported: a webhook answered so may be kept in the spool instead (spool.hpp).
    bool unreachable = false;
};

// Database trouble: Twilio should come back later.
WebhookAnswer unavailable_answer();

// SQLSTATE class 22 (data exception): the database refused a value of the request itself. Retrying cannot help.
bool is_data_exception(const std::string& sqlstate);
// The answer to that: 400, no Retry-After. Only the SQLSTATE is logged (stage `stage`): the message may quote the
// value, i.e. the webhook.
WebhookAnswer bad_input_answer(const std::string& sqlstate, const char* stage);

// One webhook, one call on `lease`'s connection. The call gets `deadline` + a short grace so the server's
// statement_timeout (same budget) normally reports first. Never throws for database failures: they are logged,
// counted, and answered 503; a data exception (class 22) is the request's fault, answered 400 and not counted.
WebhookAnswer call_handle_webhook(DbPool::Lease& lease, Metrics& metrics, const WebhookRequest& request,
                                  Clock::time_point deadline);

// Several webhooks in one call (one transaction), answers in the requests' order. On failure nothing of the call
// stayed in the database; nullopt, and `failure` says why (connection_unusable, sqlstate, error), and `lost`
// whether the connection itself broke (not a timeout). Not logged here.
std::optional<std::vector<WebhookAnswer>> call_handle_webhooks(DbPool::Lease& lease,
                                                               const std::vector<const WebhookRequest*>& requests,
                                                               Clock::time_point deadline, PgOutcome& failure,
                                                               bool& lost);

// A connection the server closed or that broke (PQstatus CONNECTION_BAD), as opposed to one we gave up on.
bool connection_lost(PGconn* conn);

// The answer to a webhook kept in the spool: what the database answers an inbound text (empty TwiML), which
// every other kind of webhook takes as well.
WebhookAnswer spooled_answer();

}  // namespace byo::relay
