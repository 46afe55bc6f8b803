// What Twilio answers (core/twilio_account_check.hpp, core/twilio_outbound.hpp): classify_failure of the settings
// checks, classify_outbound of the dispatcher, the 50416 conversation SID, find_by_attribute and find_sms (JSON
// lists and RFC 2822 / ISO 8601 dates), and build_outbound_request from untrusted names and numbers.
// Input: line 1 the HTTP status (or "error:<n>" for a transport error), line 2 a timestamp as the outbox stores it
// (find_sms's not_before), the rest Twilio's answer body.
#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdint>
#include <string>

#include "core/core_error.hpp"
#include "core/twilio_account_check.hpp"
#include "core/twilio_outbound.hpp"
#include "fuzz_common.hpp"

namespace {

const byo::Secret& token() {
    static const byo::Secret t("0123456789abcdef0123456789abcdef");
    return t;
}

byo::HttpOutcome outcome_from(std::string_view status_line, std::string_view body) {
    byo::HttpOutcome o;
    o.body = std::string(body);
    if (status_line.substr(0, 6) == "error:") {
        int e = 0;
        std::from_chars(status_line.data() + 6, status_line.data() + status_line.size(), e);
        o.error = static_cast<byo::TransportError>(1 + (e & 0x7FFFFFFF) % 6);  // Timeout .. Other
        o.error_text = std::string(body.substr(0, 64));
        o.request_sent = e % 2 == 0;
        return o;
    }
    std::from_chars(status_line.data(), status_line.data() + status_line.size(), o.status);
    o.retry_after_ms = o.status == 429 ? 5000 : -1;
    return o;
}

bool is_conversation_sid(const std::string& s) {
    return s.size() == 34 && s.compare(0, 2, "CH") == 0 &&
           s.find_first_not_of("0123456789abcdefABCDEF", 2) == std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view rest = fuzz::as_view(data, size);
    const std::string_view status_line = fuzz::take_line(rest);
    const std::string not_before(fuzz::take_line(rest));
    const std::string_view body = rest;
    const byo::HttpOutcome o = outcome_from(status_line, body);

    // Settings checks: a failure names its check and a five-character SQLSTATE, never the token.
    for (const char* check : {"account", "conversations_service", "messaging_service", "sms_number"}) {
        try {
            const byo::CheckResult r = byo::classify_failure(check, "the account", o);
            FUZZ_CHECK(!r.ok && r.sqlstate.size() == 5 && !r.failed_check.empty());
            FUZZ_CHECK(r.message.find(token().view()) == std::string::npos || body.find(token().view()) != std::string::npos);
        } catch (const byo::Interrupted&) {
            FUZZ_CHECK(o.error == byo::TransportError::Aborted);
        }
    }

    // Dispatcher verdicts.
    const byo::OutboundResult r = byo::classify_outbound(o);
    FUZZ_CHECK(r.body.is_null() || r.body.is_object());
    if (o.error == byo::TransportError::None && o.status >= 200 && o.status < 300)
        FUZZ_CHECK(r.verdict == (r.body.is_object() ? byo::Verdict::Success : byo::Verdict::Ambiguous));
    if (o.error == byo::TransportError::None && (o.status == 429 || o.status == 503))
        FUZZ_CHECK(r.verdict == byo::Verdict::Retry);
    if (r.verdict != byo::Verdict::Success) FUZZ_CHECK(!r.error_message.empty());

    for (const std::string& text : {std::string(body), r.error_message}) {
        const std::string sid = byo::conversation_sid_from_50416(text);
        FUZZ_CHECK(sid.empty() || (is_conversation_sid(sid) && text.find(sid) != std::string::npos));
    }

    // Reconciliation lookups over whatever list Twilio returned.
    const nlohmann::json list = nlohmann::json::parse(body, nullptr, false);
    const nlohmann::json* found = byo::find_by_attribute(list, "conversations", "byo_outbox_id", not_before);
    FUZZ_CHECK(!found || found->is_object());
    byo::find_by_attribute(list, "messages", "byo_message_id", "42");
    std::string to = "+15005550006", text = "hello";
    if (list.is_object() && list.contains("messages") && list["messages"].is_array() && !list["messages"].empty()) {
        const nlohmann::json& first = list["messages"][0];
        if (first.is_object() && first.contains("to") && first["to"].is_string()) to = first["to"];
        if (first.is_object() && first.contains("body") && first["body"].is_string()) text = first["body"];
    }
    for (long slack : {0L, 300L}) {
        const nlohmann::json* sms = byo::find_sms(list, to, text, not_before, slack);
        FUZZ_CHECK(!sms || (sms->is_object() && sms->value("to", "") == to && sms->value("body", "") == text));
    }

    // Requests built from untrusted names: every kind, the line contents as SIDs, names and numbers.
    const byo::TwilioEndpoints endpoints{"https://api.twilio.com", "https://conversations.twilio.com/",
                                         "https://messaging.twilio.com"};
    byo::OutboundCall call;
    call.account_sid = std::string(status_line);
    call.auth_token = &token();
    call.conversations_service_sid = "IS0123456789abcdef0123456789abcdef";
    call.messaging_service_sid = not_before;
    call.conversation_sid = not_before;
    call.unique_name = call.friendly_name = call.attributes_json = call.body = std::string(body);
    call.address = call.to = call.list_to = std::string(status_line);
    call.proxy_address = call.list_from = not_before;
    for (int kind = 0; kind <= static_cast<int>(byo::OutboundCall::Kind::ListMessages); ++kind) {
        call.kind = static_cast<byo::OutboundCall::Kind>(kind);
        try {
            const byo::HttpRequest req = byo::build_outbound_request(endpoints, call);
            FUZZ_CHECK(req.url.rfind("https://", 0) == 0);
            // Untrusted text is escaped into the URL: no space, no CR/LF, no fragment.
            FUZZ_CHECK(req.url.find_first_of(" \r\n#") == std::string::npos);
        } catch (const byo::CoreError& e) {
            FUZZ_CHECK(e.sqlstate() == "22023");
        }
    }
    return 0;
}
