// Inbound webhooks (core/webhook_event.hpp): WebhookParams::parse (form and JSON), to_json, webhook_kind,
// webhook_dedupe_key, webhook_event_type, opt_keyword.
// Input: line 1 the Content-Type, the rest the raw body.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "core/core_error.hpp"
#include "core/webhook_event.hpp"
#include "fuzz_common.hpp"

namespace {

bool valid_utf8_without_nul(const std::string& s) {
    // nlohmann's strict dump throws on invalid UTF-8.
    if (s.find('\0') != std::string::npos) return false;
    try {
        (void)nlohmann::json(s).dump();
        return true;
    } catch (const nlohmann::json::type_error&) {
        return false;
    }
}

void check(const byo::WebhookParams& p, std::string_view body) {
    // to_json is an object of strings that PostgreSQL can store: valid JSON, valid UTF-8, no NUL.
    const std::string text = p.to_json();
    FUZZ_CHECK(valid_utf8_without_nul(text));
    const nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
    FUZZ_CHECK(doc.is_object());
    for (const auto& [name, value] : doc.items()) {
        FUZZ_CHECK(value.is_string());
        const std::string* found = p.find(name);
        FUZZ_CHECK(found && *found == value.get<std::string>());
    }

    const std::optional<byo::WebhookKind> kind = byo::webhook_kind(p);
    const std::optional<std::string> type = byo::webhook_event_type(p);
    if (kind) {
        FUZZ_CHECK(std::string(byo::kind_name(*kind)) != "unknown");
        const std::string key = byo::webhook_dedupe_key(*kind, p, body);
        FUZZ_CHECK(!key.empty());
        // The same delivery maps to the same key.
        FUZZ_CHECK(key == byo::webhook_dedupe_key(*kind, p, body));
        if (*kind != byo::WebhookKind::Sms) FUZZ_CHECK(type.has_value());
    }
    const std::string* text_body = p.find("Body");
    const std::string* opt_out_type = p.find("OptOutType");
    byo::opt_keyword(text_body ? *text_body : std::string(), opt_out_type ? *opt_out_type : std::string());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view body = fuzz::as_view(data, size);
    const std::string content_type(fuzz::take_line(body));
    try {
        check(byo::WebhookParams::parse(content_type, body), body);
    } catch (const byo::CoreError& e) {
        FUZZ_CHECK(e.sqlstate() == "22023");
    }
    // The whole input as a body of each kind, whatever the first line says.
    const std::string_view whole = fuzz::as_view(data, size);
    for (const char* type : {"application/x-www-form-urlencoded", "application/json"}) {
        try {
            check(byo::WebhookParams::parse(type, whole), whole);
        } catch (const byo::CoreError& e) {
            FUZZ_CHECK(e.sqlstate() == "22023");
        }
    }
    // opt_keyword on raw text, as the SMS body and Twilio's OptOutType.
    byo::opt_keyword(whole, "");
    byo::opt_keyword(body, content_type);
    return 0;
}
