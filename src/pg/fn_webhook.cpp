// SQL: twilio.handle_webhook (one webhook) and twilio.handle_webhooks (a batch, one row per webhook in order), the
// relay's calls: parse, tenant and signature here, then the event recorded once with its effect
// (pg/webhook_record.cpp). Also twilio._opt_keyword, the STOP/START/HELP classifier PL/pgSQL shares.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/webhook_event.hpp"
#include "core/webhook_url.hpp"
#include "pg/config.hpp"
#include "pg/datum.hpp"
#include "pg/spi_plan.hpp"
#include "pg/webhook_record.hpp"
#include "pg/webhook_tenant.hpp"

extern "C" {
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"
}

extern "C" {
PG_FUNCTION_INFO_V1(byo_handle_webhook);
PG_FUNCTION_INFO_V1(byo_handle_webhooks);
PG_FUNCTION_INFO_V1(byo_opt_keyword);
}

using namespace byo;
using namespace byo::pg;

namespace {

// Far above what a relay sends (BYO_TWILIO_BATCH_MAX); a bound on one call's memory and locks.
constexpr std::size_t kMaxBatch = 1000;
// Far above any webhook Twilio sends (a few KB), far below what one jsonb value (256 MB) or one allocation
// (1 GB) holds: a body that size is refused (413) rather than failing to record and being retried.
constexpr std::size_t kMaxBody = 8u << 20;

struct Answer {
    int status;
    const char* content_type;
    const char* body;
};

const char* const kEmptyTwiml = R"(<?xml version="1.0" encoding="UTF-8"?><Response></Response>)";
const Answer kAcceptedText{200, "text/xml", kEmptyTwiml};
const Answer kAccepted{200, "text/plain", ""};

struct Request {
    std::optional<std::string> url, signature, content_type, body;
};

void log_line(const std::string& line) {
    pg_call([&] { ereport(LOG, (errmsg("%s", line.c_str()))); });
}

// Malformed, unsigned, unknown or forged: a log line says why, and nothing is written.
Answer reject(int status, const std::string& why, const char* body) {
    log_line("byo_twilio webhook rejected (" + std::to_string(status) + "): " + short_reason(why));
    return {status, "text/plain", body};
}

// Said with a 403 when the URL is not under byo_twilio.webhook_base_url: Twilio was given URLs under that base,
// so the relay that rebuilt this one most likely has another BYO_TWILIO_PUBLIC_URL (docs/operations.md).
std::string base_url_hint(const std::string& url) {
    const std::string base = webhook_base_url();
    if (base.empty() || url_under_base(url, base)) return "";
    return "; the URL is not under byo_twilio.webhook_base_url: does the relay's BYO_TWILIO_PUBLIC_URL equal it?";
}

// The event's params column: a JSON body as it came (nested values kept), unless jsonb cannot hold it (a NUL
// escape, a byte order mark, a number beyond numeric); a form body, or that JSON, as an object of strings.
std::string params_json(const WebhookParams& params, const std::string& body) {
    if (params.json_storable()) return body;
    return params.to_json();
}

// A webhook that passed every check, ready to record; it points into its Request, which must outlive it.
struct Accepted {
    WebhookParams params;
    std::string query;  // a GET's parameters as they came (its URL's query): what the event keeps as its body
    std::unique_ptr<WebhookEvent> event;
};

// A GET webhook (a number or callback configured with HTTP GET): the relay passes neither content type nor body.
// Twilio put the parameters in the URL's query and signed that URL alone, with nothing appended.
bool is_get(const Request& r) { return !r.body && !r.content_type; }

// Parse, tenant, signature: either an Accepted webhook, or the answer that refuses it (nothing written).
std::optional<Answer> accept(const Request& r, TenantLookups& lookups, std::optional<Accepted>& out) {
    const bool get = is_get(r);
    if (!r.url || (!r.body && !get)) return reject(400, "missing url or body", "malformed request");
    if (!r.signature || r.signature->empty()) return reject(400, "no X-Twilio-Signature", "missing X-Twilio-Signature");
    const std::string& url = *r.url;
    Accepted a;
    if (get) a.query = std::string(url_query(url));
    const std::string& body = get ? a.query : *r.body;
    if (body.size() > kMaxBody)
        return reject(413, "body of " + std::to_string(body.size()) + " bytes; at most " + std::to_string(kMaxBody),
                      "body too large");
    try {
        // Before any lookup: an unreadable body, a JSON body nested too deep, an oversize identifier.
        a.params = WebhookParams::parse(get ? "application/x-www-form-urlencoded" : r.content_type.value_or(""), body);
    } catch (const CoreError& e) {
        return reject(400, e.what(), "malformed body");
    }
    const std::optional<WebhookKind> kind = webhook_kind(a.params);
    if (!kind) return reject(400, "not a webhook byo_twilio knows", "unrecognised webhook");

    // Tenant and signature: unknown and forged look alike from outside (403), the log says which.
    const std::string content_type = r.content_type.value_or("");
    const WebhookTenant tenant =
        resolve_webhook_tenant({url, *r.signature, content_type, body, get}, a.params, lookups);
    if (!tenant.user_id) {
        log_line(std::string("byo_twilio webhook rejected (403, ") + kind_name(*kind) + "): " + tenant.outcome +
                 base_url_hint(url));
        return Answer{403, "text/plain", "forbidden"};
    }
    out.emplace(std::move(a));
    const WebhookParams& p = out->params;
    const std::string& kept_body = get ? out->query : *r.body;  // `body` may have moved with `a`
    out->event.reset(new WebhookEvent{*tenant.user_id, *kind, webhook_event_type(p),
                                      webhook_dedupe_key(*kind, p, kept_body), url, r.content_type, kept_body,
                                      params_json(p, kept_body), p, is_plain_text(*kind, p)});
    return std::nullopt;
}

Answer accepted_answer(const WebhookEvent& e) { return e.kind == WebhookKind::Sms ? kAcceptedText : kAccepted; }

Request single_request(FunctionCallInfo fcinfo) {
    Request r;
    if (!arg_is_null(fcinfo, 0)) r.url = arg_text(fcinfo, 0);
    if (!arg_is_null(fcinfo, 1)) r.signature = arg_text(fcinfo, 1);
    if (!arg_is_null(fcinfo, 2)) r.content_type = arg_text(fcinfo, 2);
    if (!arg_is_null(fcinfo, 3)) r.body = arg_text(fcinfo, 3);
    return r;
}

Answer handle(const Request& r) {
    SpiConnection spi;
    TenantLookups lookups;
    std::optional<Accepted> a;
    if (const std::optional<Answer> refused = accept(r, lookups, a)) return *refused;
    record_webhook(*a->event);
    return accepted_answer(*a->event);
}

std::vector<Request> batch_requests(FunctionCallInfo fcinfo) {
    for (int i = 0; i < 4; ++i)
        if (arg_is_null(fcinfo, i)) throw CoreError("22004", "handle_webhooks: argument " + std::to_string(i + 1) +
                                                                  " is NULL; pass an array, one element per webhook");
    auto urls = arg_text_array(fcinfo, 0), signatures = arg_text_array(fcinfo, 1), types = arg_text_array(fcinfo, 2),
         bodies = arg_text_array(fcinfo, 3);
    const std::size_t n = urls.size();
    if (signatures.size() != n || types.size() != n || bodies.size() != n)
        throw CoreError("22023", "handle_webhooks: the four arrays must have the same length (one element per "
                                 "webhook)");
    if (n > kMaxBatch)
        throw CoreError("54000", "handle_webhooks: " + std::to_string(n) + " webhooks in one call; at most " +
                                     std::to_string(kMaxBatch));
    std::vector<Request> out(n);
    for (std::size_t i = 0; i < n; ++i)
        out[i] = {std::move(urls[i]), std::move(signatures[i]), std::move(types[i]), std::move(bodies[i])};
    return out;
}

// Every webhook is checked and recorded as handle_webhook would; the plain inbound texts among them go in one
// statement at the end. One transaction for all: if anything fails, nothing of the batch stays and the caller
// (the relay) sends each webhook again on its own.
std::vector<Answer> handle_batch(const std::vector<Request>& requests) {
    SpiConnection spi;
    TenantLookups lookups;
    std::vector<std::optional<Accepted>> accepted(requests.size());
    std::vector<Answer> answers;
    answers.reserve(requests.size());
    std::vector<const WebhookEvent*> texts;
    for (std::size_t i = 0; i < requests.size(); ++i) {
        if (const std::optional<Answer> refused = accept(requests[i], lookups, accepted[i])) {
            answers.push_back(*refused);
            continue;
        }
        const WebhookEvent& e = *accepted[i]->event;
        if (e.plain_text)
            texts.push_back(&e);
        else
            record_webhook(e);
        answers.push_back(accepted_answer(e));
    }
    record_plain_texts(texts);
    return answers;
}

void put_row(ReturnSetInfo* rsinfo, const std::optional<int>& item, const Answer& a) {
    pg_call([&] {
        Datum values[4];
        bool nulls[4] = {false, false, false, false};
        int n = 0;
        if (item) values[n++] = Int32GetDatum(*item);
        values[n++] = Int32GetDatum(a.status);
        values[n++] = CStringGetTextDatum(a.content_type);
        values[n++] = CStringGetTextDatum(a.body);
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    });
}

ReturnSetInfo* materialize(FunctionCallInfo fcinfo) {
    pg_call([&] { InitMaterializedSRF(fcinfo, 0); });
    return reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
}

}  // namespace

// handle_webhook(url, signature, request_content_type, request_body) returns table(status, content_type, body)
extern "C" Datum byo_handle_webhook(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        const Answer a = handle(single_request(fcinfo));
        put_row(materialize(fcinfo), std::nullopt, a);
        return Datum(0);
    });
}

// handle_webhooks(urls, signatures, request_content_types, request_bodies) returns table(item, status,
// content_type, body): item is the 1-based position in the arrays.
extern "C" Datum byo_handle_webhooks(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        const std::vector<Answer> answers = handle_batch(batch_requests(fcinfo));
        ReturnSetInfo* rsinfo = materialize(fcinfo);
        for (std::size_t i = 0; i < answers.size(); ++i) put_row(rsinfo, static_cast<int>(i + 1), answers[i]);
        return Datum(0);
    });
}

// _opt_keyword(body text, opt_out_type text) returns text: 'STOP', 'START', 'HELP' or NULL.
extern "C" Datum byo_opt_keyword(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        const std::optional<OptKeyword> k = opt_keyword(arg_text(fcinfo, 0), arg_text(fcinfo, 1));
        if (!k) {
            fcinfo->isnull = true;
            return Datum(0);
        }
        return text_datum(*k == OptKeyword::Stop ? "STOP" : *k == OptKeyword::Start ? "START" : "HELP");
    });
}
