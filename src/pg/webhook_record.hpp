// Recording an accepted webhook (tenant and signature already proven): its event in twilio.webhook_events, once
// per delivery, with its effect. Needs an open SpiConnection.
#pragma once
#include <string>
#include <vector>

#include "core/webhook_event.hpp"
#include "pg/spi_plan.hpp"

namespace byo::pg {

struct WebhookEvent {
    std::string user_id;
    WebhookKind kind;
    SqlValue event_type;
    std::string dedupe_key;
    const std::string& url;
    SqlValue content_type;
    const std::string& body;
    std::string params_json;
    const WebhookParams& params;
    bool plain_text;  // is_plain_text(kind, params), decided once
};

// An inbound text that is neither an opt-out keyword nor carries media: nothing in it can fail to apply and a retry changes nothing,
// so many of them can be written by one statement (record_plain_texts).
bool is_plain_text(WebhookKind kind, const WebhookParams& params);

// A reason as a log line or an event's effect keeps it: at most about 200 bytes (an error may quote a value of any
// length, a refusal a content type as it came).
std::string short_reason(const std::string& why);

// One event of any kind, with its effect; a duplicate delivery changes nothing.
void record_webhook(const WebhookEvent& e);

// Many plain texts (is_plain_text) in one statement: each event, and its message if the event is new. Any error
// raises (the caller's transaction then fails as a whole).
void record_plain_texts(const std::vector<const WebhookEvent*>& texts);

}  // namespace byo::pg
