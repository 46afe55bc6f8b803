#include "webhook.hpp"

#include <charconv>

#include "json_log.hpp"
#include "pg_array.hpp"

namespace byo::relay {

namespace {

// Prepared once per connection: a webhook then costs the server no parse and no plan.
constexpr PreparedStatement kCall{"byo_twilio_handle_webhook",
                                  "SELECT status, content_type, body FROM twilio.handle_webhook($1, $2, $3, $4)", 4, 0};
constexpr PreparedStatement kBatchCall{"byo_twilio_handle_webhooks",
                                       "SELECT item, status, content_type, body"
                                       " FROM twilio.handle_webhooks($1::text[], $2::text[], $3::text[], $4::text[])",
                                       4, 1};

constexpr auto kGrace = std::chrono::milliseconds(250);

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

bool parse_int(const PGresult* r, int row, int col, int& out) {
    if (PQgetisnull(r, row, col)) return false;
    const char* s = PQgetvalue(r, row, col);
    const char* end = s + PQgetlength(r, row, col);
    auto [ptr, ec] = std::from_chars(s, end, out);
    return ec == std::errc() && ptr == end;
}

// Row `row` of a committed result, from column `col` on: status, content_type, body. From here on the function's
// word is final, even if it is an error status.
WebhookAnswer answer_from(const PGresult* r, int row, int col) {
    int status = 0;
    if (!parse_int(r, row, col, status) || status < 100 || status > 599) return bad_gateway("status out of range");
    WebhookAnswer answer{status, "text/plain", {}, false};
    if (!PQgetisnull(r, row, col + 1) && PQgetlength(r, row, col + 1) > 0)
        answer.content_type = PQgetvalue(r, row, col + 1);
    if (!safe_header_value(answer.content_type)) return bad_gateway("content type with control characters");
    if (!PQgetisnull(r, row, col + 2))
        answer.body.assign(PQgetvalue(r, row, col + 2), static_cast<std::size_t>(PQgetlength(r, row, col + 2)));
    return answer;
}

}  // namespace

bool connection_lost(PGconn* conn) { return !conn || PQstatus(conn) == CONNECTION_BAD; }

WebhookAnswer spooled_answer() {
    return {200, "text/xml", R"(<?xml version="1.0" encoding="UTF-8"?><Response></Response>)", false};
}

WebhookAnswer unavailable_answer() { return {503, "text/plain", "database unavailable, retry later\n", true}; }

bool is_data_exception(const std::string& sqlstate) { return sqlstate.size() == 5 && sqlstate.rfind("22", 0) == 0; }

WebhookAnswer bad_input_answer(const std::string& sqlstate, const char* stage) {
    log_event("bad_input", {{"stage", stage}, {"sqlstate", sqlstate}});
    return {400, "text/plain", "bad request: the database refused a value of it (SQLSTATE " + sqlstate + ")\n",
            false};
}

WebhookAnswer call_handle_webhook(DbPool::Lease& lease, Metrics& metrics, const WebhookRequest& request,
                                  Clock::time_point deadline) {
    const std::vector<const char*> params{
        request.url.c_str(), request.signature ? request.signature->c_str() : nullptr,
        request.content_type && !request.get ? request.content_type->c_str() : nullptr,
        request.get ? nullptr : request.body.c_str()};
    const PgOutcome outcome = run_prepared(lease.conn(), lease.prepared(kCall.index), kCall, params, deadline + kGrace);
    const bool lost = outcome.connection_unusable && connection_lost(lease.conn());
    if (outcome.connection_unusable) lease.discard();
    metrics.record_db_call(1);
    if (!outcome.ok()) {
        if (is_data_exception(outcome.sqlstate)) return bad_input_answer(outcome.sqlstate, "call");
        metrics.record_db_error();
        LogFields f{{"stage", "call"}, {"message", outcome.error}};
        if (!outcome.sqlstate.empty()) f["sqlstate"] = outcome.sqlstate;
        log_event("db_error", f);
        WebhookAnswer a = unavailable_answer();
        a.unreachable = lost;
        return a;
    }
    const PGresult* r = outcome.result.get();
    if (PQntuples(r) < 1 || PQnfields(r) < 3) return bad_gateway("no status row");
    return answer_from(r, 0, 0);
}

std::optional<std::vector<WebhookAnswer>> call_handle_webhooks(DbPool::Lease& lease,
                                                               const std::vector<const WebhookRequest*>& requests,
                                                               Clock::time_point deadline, PgOutcome& failure,
                                                               bool& lost) {
    std::vector<const std::string*> urls, signatures, types, bodies;
    for (const WebhookRequest* r : requests) {
        urls.push_back(&r->url);
        signatures.push_back(r->signature ? &*r->signature : nullptr);
        types.push_back(r->content_type && !r->get ? &*r->content_type : nullptr);
        bodies.push_back(r->get ? nullptr : &r->body);
    }
    const std::vector<std::string> arrays{text_array_binary(urls), text_array_binary(signatures),
                                          text_array_binary(types), text_array_binary(bodies)};
    PgOutcome outcome = run_prepared(lease.conn(), lease.prepared(kBatchCall.index), kBatchCall,
                                     binary_params(arrays), deadline + kGrace);
    lost = outcome.connection_unusable && connection_lost(lease.conn());
    if (outcome.connection_unusable) lease.discard();
    if (!outcome.ok()) {
        failure = std::move(outcome);
        return std::nullopt;
    }
    // Committed: every answer below is final. A row missing for a webhook would be the function's bug; that
    // webhook gets 502 (its effect, if any, stays: a retry by Twilio is deduplicated).
    std::vector<WebhookAnswer> answers(requests.size());
    std::vector<bool> seen(requests.size(), false);
    const PGresult* r = outcome.result.get();
    if (PQnfields(r) >= 4) {
        for (int row = 0; row < PQntuples(r); ++row) {
            int item = 0;
            if (!parse_int(r, row, 0, item) || item < 1 || static_cast<std::size_t>(item) > requests.size()) continue;
            answers[item - 1] = answer_from(r, row, 1);
            seen[item - 1] = true;
        }
    }
    for (std::size_t i = 0; i < answers.size(); ++i)
        if (!seen[i]) answers[i] = bad_gateway("no row for a webhook of the batch");
    return answers;
}

}  // namespace byo::relay
