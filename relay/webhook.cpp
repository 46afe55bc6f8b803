#include "webhook.hpp"

#include <charconv>
#include <vector>

#include "json_log.hpp"

namespace byo::relay {

namespace {

// Prepared once per connection: a webhook then costs the server no parse and no plan.
constexpr PreparedStatement kCall{"byo_twilio_handle_webhook",
                                  "SELECT status, content_type, body FROM twilio.handle_webhook($1, $2, $3, $4)", 4};

// A header value the function chose goes onto the wire verbatim, so refuse control characters (CR/LF would let a
// bad row inject headers) rather than trusting every future version of the SQL.
bool safe_header_value(const std::string& v) {
    for (unsigned char c : v)
        if (c < 0x20 || c == 0x7f) return false;
    return true;
}

WebhookAnswer bad_gateway(const char* why) {
    log_event("db_error", {{"stage", "answer"}, {"message", why}});
    return {502, "text/plain", "bad answer from the database\n", false};
}

}  // namespace

WebhookAnswer unavailable_answer() { return {503, "text/plain", "database unavailable, retry later\n", true}; }

WebhookAnswer forward_webhook(DbPool& pool, Metrics& metrics, const WebhookRequest& request,
                              Clock::time_point deadline) {
    std::string error;
    DbPool::Lease lease = pool.acquire(deadline, error);
    if (!lease) {
        metrics.record_db_error();
        log_event("db_error", {{"stage", "acquire"}, {"message", error}});
        return unavailable_answer();
    }

    const std::vector<const char*> params{
        request.url.c_str(), request.signature ? request.signature->c_str() : nullptr,
        request.content_type ? request.content_type->c_str() : nullptr, request.body.c_str()};
    const PgOutcome outcome =
        run_prepared(lease.conn(), lease.prepared(), kCall, params, deadline + std::chrono::milliseconds(250));
    if (outcome.connection_unusable) lease.discard();
    if (!outcome.ok()) {
        metrics.record_db_error();
        LogFields f{{"stage", "call"}, {"message", outcome.error}};
        if (!outcome.sqlstate.empty()) f["sqlstate"] = outcome.sqlstate;
        log_event("db_error", f);
        return unavailable_answer();
    }

    // Committed. From here on the function's word is final, even if it is an error status.
    const PGresult* r = outcome.result.get();
    if (PQntuples(r) < 1 || PQnfields(r) < 3 || PQgetisnull(r, 0, 0)) return bad_gateway("no status row");
    const char* s = PQgetvalue(r, 0, 0);
    const char* s_end = s + PQgetlength(r, 0, 0);
    int status = 0;
    auto [ptr, ec] = std::from_chars(s, s_end, status);
    if (ec != std::errc() || ptr != s_end || status < 100 || status > 599) return bad_gateway("status out of range");

    WebhookAnswer answer{status, "text/plain", {}, false};
    if (!PQgetisnull(r, 0, 1) && PQgetlength(r, 0, 1) > 0) answer.content_type = PQgetvalue(r, 0, 1);
    if (!safe_header_value(answer.content_type)) return bad_gateway("content type with control characters");
    if (!PQgetisnull(r, 0, 2)) answer.body.assign(PQgetvalue(r, 0, 2), static_cast<std::size_t>(PQgetlength(r, 0, 2)));
    return answer;
}

}  // namespace byo::relay
