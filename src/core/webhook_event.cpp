#include "core/webhook_event.hpp"

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include "core/core_error.hpp"
#include "core/form.hpp"
#include "core/signature.hpp"

namespace byo {

namespace {

std::string md5_hex(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr) != 1)
        throw CoreError("XX000", "MD5 failed");
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

std::string or_empty(const std::string* v) { return v ? *v : std::string(); }

// Length of the well-formed UTF-8 sequence at s[i] (no overlongs, surrogates or code points past U+10FFFF),
// or 0 when there is none.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    if (c < 0x80) return 1;
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else return 0;
    if (i + n > s.size() || b(i + 1) < lo || b(i + 1) > hi) return 0;
    for (std::size_t k = 2; k < n; ++k)
        if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
    return n;
}

// A decoded value as text PostgreSQL can store: bytes that are not UTF-8, and NUL, become U+FFFD (a webhook is
// kept rather than rejected for one odd character; the raw body is stored as it came).
std::string as_text(std::string_view s) {
    bool plain = true;  // ASCII without NUL, nearly every value: kept as it is
    for (const char c : s) plain &= c > 0;
    if (plain) return std::string(s);
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = s[i] == '\0' ? 0 : utf8_sequence(s, i);
        if (n == 0) {
            out += "\xEF\xBF\xBD";
            ++i;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

std::string upper_trimmed(std::string_view s) {
    const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    std::string out(s);
    for (char& c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return out;
}

}  // namespace

WebhookParams WebhookParams::parse(std::string_view content_type, std::string_view body) {
    WebhookParams p;
    if (body_kind(content_type) == BodyKind::Form) {
        p.form_ = parse_form(body);
        for (const auto& [name, value] : p.form_) p.values_.emplace(as_text(name), as_text(value));
        return p;
    }
    p.json_ = true;
    const nlohmann::json doc = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
    if (!doc.is_object()) throw CoreError("22023", "a JSON webhook body must be an object");
    for (const auto& [name, value] : doc.items())
        p.values_.emplace(as_text(name), as_text(value.is_string() ? value.get<std::string>() : value.dump()));
    return p;
}

const std::string* WebhookParams::find(const std::string& name) const {
    const auto it = values_.find(name);
    return it == values_.end() ? nullptr : &it->second;
}

const std::string* WebhookParams::first_of(std::initializer_list<const char*> names) const {
    for (const char* n : names)
        if (const std::string* v = find(n)) return v;
    return nullptr;
}

// Written directly (values are already valid UTF-8 without NUL): nlohmann's object and dump cost twice the
// parse of the whole body.
std::string WebhookParams::to_json() const {
    static const char* hex = "0123456789abcdef";
    std::string out("{");
    const auto quoted = [&](const std::string& s) {
        out.push_back('"');
        for (const char c : s) {
            switch (c) {
                case '"': out += "\\\""; break;
                case '\\': out += "\\\\"; break;
                case '\b': out += "\\b"; break;
                case '\f': out += "\\f"; break;
                case '\n': out += "\\n"; break;
                case '\r': out += "\\r"; break;
                case '\t': out += "\\t"; break;
                default:
                    if (static_cast<unsigned char>(c) < 0x20) {
                        out += "\\u00";
                        out.push_back(hex[c >> 4]);
                        out.push_back(hex[c & 15]);
                    } else {
                        out.push_back(c);
                    }
            }
        }
        out.push_back('"');
    };
    for (const auto& [name, value] : values_) {
        if (out.size() > 1) out.push_back(',');
        quoted(name);
        out.push_back(':');
        quoted(value);
    }
    out.push_back('}');
    return out;
}

std::optional<WebhookKind> webhook_kind(const WebhookParams& p) {
    if (p.has("EventType")) return WebhookKind::Conversations;
    if (p.has("CallSid") && p.has("CallStatus")) return WebhookKind::VoiceStatus;
    const std::string* sms_status = p.find("SmsStatus");
    if ((sms_status && *sms_status == "received") || (p.has("Body") && !p.has("MessageStatus")))
        return WebhookKind::Sms;
    if (p.has("MessageStatus") || sms_status) return WebhookKind::Status;
    return std::nullopt;
}

const char* kind_name(WebhookKind kind) {
    switch (kind) {
        case WebhookKind::Conversations: return "conversations";
        case WebhookKind::VoiceStatus: return "voice_status";
        case WebhookKind::Sms: return "sms";
        case WebhookKind::Status: return "status";
    }
    return "unknown";
}

std::string webhook_dedupe_key(WebhookKind kind, const WebhookParams& p, std::string_view body) {
    const std::string* message_sid = p.first_of({"MessageSid", "SmsSid"});
    switch (kind) {
        case WebhookKind::Status:
            return "status:" + or_empty(message_sid) + ":" + or_empty(p.first_of({"MessageStatus", "SmsStatus"}));
        case WebhookKind::Sms: return "sms:" + (message_sid ? *message_sid : md5_hex(body));
        case WebhookKind::VoiceStatus:
            return "voice:" + or_empty(p.find("CallSid")) + ":" + or_empty(p.find("CallStatus")) + ":" +
                   or_empty(p.find("SequenceNumber"));
        case WebhookKind::Conversations: {
            const std::string* subject = p.first_of({"MessageSid", "ParticipantSid", "ConversationSid"});
            std::string key = "conv:" + or_empty(p.find("EventType")) + ":" + (subject ? *subject : md5_hex(body));
            if (const std::string* s = p.find("Status")) key += ":" + *s;
            if (const std::string* e = p.find("ErrorCode")) key += ":" + *e;
            return key;
        }
    }
    return {};
}

std::optional<std::string> webhook_event_type(const WebhookParams& p) {
    if (const std::string* v = p.first_of({"EventType", "MessageStatus", "SmsStatus", "CallStatus"})) return *v;
    return std::nullopt;
}

std::optional<OptKeyword> opt_keyword(std::string_view body, std::string_view opt_out_type) {
    const std::string word = upper_trimmed(opt_out_type.empty() ? body : opt_out_type);
    if (opt_out_type.empty()) {
        if (word == "STOP" || word == "STOPALL" || word == "UNSUBSCRIBE" || word == "CANCEL" || word == "END" ||
            word == "QUIT")
            return OptKeyword::Stop;
        if (word == "START" || word == "YES" || word == "UNSTOP") return OptKeyword::Start;
        if (word == "HELP" || word == "INFO") return OptKeyword::Help;
        return std::nullopt;
    }
    if (word == "STOP") return OptKeyword::Stop;
    if (word == "START") return OptKeyword::Start;
    if (word == "HELP") return OptKeyword::Help;
    return std::nullopt;
}

}  // namespace byo
