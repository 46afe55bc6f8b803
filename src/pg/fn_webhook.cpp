// SQL: twilio.handle_webhook, the one call the relay makes per webhook: parse, tenant and signature, then the
// event recorded once with its effect (inbound texts and status callbacks here, other kinds via _route_webhook). Also twilio._opt_keyword, the STOP/START/HELP classifier PL/pgSQL shares.
#include <optional>
#include <string>

#include "core/webhook_event.hpp"
#include "pg/datum.hpp"
#include "pg/message_status.hpp"
#include "pg/spi_plan.hpp"
#include "pg/webhook_tenant.hpp"

extern "C" {
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"
}

extern "C" {
PG_FUNCTION_INFO_V1(byo_handle_webhook);
PG_FUNCTION_INFO_V1(byo_opt_keyword);
}

using namespace byo;
using namespace byo::pg;

namespace {

struct Answer {
    int status;
    const char* content_type;
    const char* body;
};

const char* const kEmptyTwiml = R"(<?xml version="1.0" encoding="UTF-8"?><Response></Response>)";

void log_line(const std::string& line) {
    pg_call([&] { ereport(LOG, (errmsg("%s", line.c_str()))); });
}

// Malformed, unsigned, unknown or forged: a log line says why, and nothing is written.
Answer reject(int status, const std::string& why, const char* body) {
    log_line("byo_twilio webhook rejected (" + std::to_string(status) + "): " + why);
    return {status, "text/plain", body};
}

// An inbound text: its event and its message in one statement, the message only when the event is new.
SavedPlan g_inbound_sms{
    "WITH ev AS ("
    "  INSERT INTO twilio.webhook_events (user_id, kind, event_type, dedupe_key, url, content_type, body, params,"
    "                                     effect)"
    "  VALUES ($1::uuid, 'sms', $2, $3, $4, $5, $6, $7::jsonb, $8)"
    "  ON CONFLICT (user_id, dedupe_key) DO NOTHING RETURNING user_id),"
    " msg AS ("
    "  INSERT INTO twilio.messages (user_id, channel, direction, to_number, from_number, body, status, twilio_sid,"
    "                              segments, account_sid)"
    "  SELECT user_id, 'sms', 'inbound', $9, $10, $11, 'received', $12, $13::integer, $14 FROM ev"
    "  ON CONFLICT (user_id, twilio_sid) DO NOTHING)"
    " SELECT count(*)::text FROM ev",
    14};
SavedPlan g_opt_keywords{"SELECT twilio._apply_opt_keywords($1::uuid, $2, $3, $4)", 4};
SavedPlan g_route{"SELECT twilio._route_webhook($1::uuid, $2, $3::jsonb)", 3};
SavedPlan g_event{
    "INSERT INTO twilio.webhook_events (user_id, kind, event_type, dedupe_key, url, content_type, body, params,"
    "                                   effect)"
    " VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)"
    " ON CONFLICT (user_id, dedupe_key) DO NOTHING RETURNING id",
    9};

struct Event {
    std::string user_id;
    WebhookKind kind;
    SqlValue event_type;
    std::string dedupe_key;
    const std::string& url;
    SqlValue content_type;
    const std::string& body;
    std::string params_json;
};

SqlValue param(const WebhookParams& p, const char* name) {
    const std::string* v = p.find(name);
    return v ? SqlValue(*v) : SqlValue();
}

SqlValue param_of(const WebhookParams& p, std::initializer_list<const char*> names) {
    const std::string* v = p.first_of(names);
    return v ? SqlValue(*v) : SqlValue();
}

// NumSegments as Twilio sends it; anything else counts as one segment.
std::string segments(const WebhookParams& p) {
    const std::string* v = p.find("NumSegments");
    if (!v || v->empty() || v->size() > 6 || v->find_first_not_of("0123456789") != std::string::npos) return "1";
    return *v;
}

std::string text_param(const WebhookParams& p, const char* name) {
    const std::string* v = p.find(name);
    return v ? *v : std::string();
}

bool has_keyword(const WebhookParams& p) {
    return opt_keyword(text_param(p, "Body"), text_param(p, "OptOutType")).has_value();
}

// `keyword`: has_keyword(p), which the caller already knows.
bool record_inbound_sms(const Event& e, const WebhookParams& p, bool keyword) {
    std::string effect = "inbound message";
    const std::string body_text = text_param(p, "Body");
    if (keyword) {
        const auto r = g_opt_keywords.run({e.user_id, param(p, "From"), body_text, text_param(p, "OptOutType")});
        if (!r.empty() && r[0][0]) effect = *r[0][0];
    }
    const auto rows = g_inbound_sms.run({e.user_id, e.event_type, e.dedupe_key, e.url, e.content_type, e.body,
                                         e.params_json, effect, param(p, "To"), param(p, "From"), body_text,
                                         param_of(p, {"MessageSid", "SmsSid"}), segments(p),
                                         param(p, "AccountSid")});
    return rows.at(0).at(0) == "1";  // not new: a retry, whose keyword effect (if any) is rolled back
}

SqlValue insert_event(const Event& e, const std::string& effect) {
    const auto rows = g_event.run({e.user_id, std::string(kind_name(e.kind)), e.event_type, e.dedupe_key, e.url,
                                   e.content_type, e.body, e.params_json, effect});
    return rows.empty() ? SqlValue() : rows[0][0];
}

// Effect first, then the event with its effect, in one subtransaction: the event's unique (user_id, dedupe_key)
// decides. A retry of a webhook already recorded (even one still committing elsewhere) rolls its effect back, so
// the same delivery twice has one effect. A signed webhook carrying a value we cannot apply is kept with the
// reason and acknowledged, rather than failing (503) and being retried by Twilio forever.
void record(const Event& e, const WebhookParams& p) {
    // A plain inbound text (nearly every one) is one statement of fixed, checked values: nothing in it can be
    // "a value we cannot apply", and a retry changes nothing, so no subtransaction; an error here is transient
    // (503, Twilio retries). 4-5 % of its cost.
    const bool keyword = e.kind == WebhookKind::Sms && has_keyword(p);
    if (e.kind == WebhookKind::Sms && !keyword) {
        record_inbound_sms(e, p, false);
        return;
    }
    const SubtransactionOutcome outcome = in_subtransaction([&] {
        if (e.kind == WebhookKind::Sms) return record_inbound_sms(e, p, true);
        std::string effect;
        if (e.kind == WebhookKind::Status) {
            effect = apply_message_status(e.user_id, param_of(p, {"MessageSid", "SmsSid"}),
                                          param_of(p, {"MessageStatus", "SmsStatus"}), param(p, "ErrorCode"));
        } else {
            effect = g_route.run({e.user_id, std::string(kind_name(e.kind)), e.params_json}).at(0).at(0).value_or("");
        }
        return insert_event(e, effect).has_value();
    });
    if (!outcome.error) return;
    if (insert_event(e, "not applied: " + *outcome.error))
        log_line(std::string("byo_twilio webhook (") + kind_name(e.kind) + ") for user " + e.user_id +
                 " not applied: " + *outcome.error);
}

// The event's params column: a JSON body as it came (nested values kept), unless jsonb cannot hold it (a NUL
// escape); a form body, or that JSON, as an object of strings.
std::string params_json(const WebhookParams& params, const std::string& body) {
    if (params.is_json() && body.find("\\u0000") == std::string::npos) return body;
    return params.to_json();
}

Answer handle(FunctionCallInfo fcinfo) {
    if (arg_is_null(fcinfo, 0) || arg_is_null(fcinfo, 3))
        return reject(400, "missing url or body", "malformed request");
    const std::string url = arg_text(fcinfo, 0), signature = arg_text(fcinfo, 1), body = arg_text(fcinfo, 3);
    const SqlValue content_type = arg_is_null(fcinfo, 2) ? SqlValue() : SqlValue(arg_text(fcinfo, 2));
    if (signature.empty()) return reject(400, "no X-Twilio-Signature", "missing X-Twilio-Signature");
    std::optional<WebhookParams> params;
    try {
        params = WebhookParams::parse(content_type.value_or(""), body);
    } catch (const CoreError&) {
        return reject(400, "unsupported content type or unreadable body", "malformed body");
    }
    const std::optional<WebhookKind> kind = webhook_kind(*params);
    if (!kind) return reject(400, "not a webhook byo_twilio knows", "unrecognised webhook");

    SpiConnection spi;
    // Tenant and signature: unknown and forged look alike from outside (403), the log says which.
    const WebhookTenant tenant = resolve_webhook_tenant({url, signature, content_type.value_or(""), body}, *params);
    if (!tenant.user_id) {
        log_line(std::string("byo_twilio webhook rejected (403, ") + kind_name(*kind) + "): " + tenant.outcome);
        return {403, "text/plain", "forbidden"};
    }
    const Event event{*tenant.user_id, *kind, webhook_event_type(*params), webhook_dedupe_key(*kind, *params, body),
                      url, content_type, body, params_json(*params, body)};
    record(event, *params);
    if (*kind == WebhookKind::Sms) return {200, "text/xml", kEmptyTwiml};
    return {200, "text/plain", ""};
}

}  // namespace

// handle_webhook(url, signature, request_content_type, request_body) returns table(status, content_type, body)
extern "C" Datum byo_handle_webhook(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        const Answer a = handle(fcinfo);
        pg_call([&] {
            InitMaterializedSRF(fcinfo, 0);
            auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
            Datum values[3] = {Int32GetDatum(a.status), CStringGetTextDatum(a.content_type),
                               CStringGetTextDatum(a.body)};
            bool nulls[3] = {false, false, false};
            tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
        });
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
