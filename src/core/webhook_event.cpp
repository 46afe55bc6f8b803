#include "core/webhook_event.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cstdint>

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

// Whether PostgreSQL's numeric (a jsonb number) holds a JSON number literal: at most 16383 digits after the point
// once the exponent is applied (nlohmann reads 1e-99999 as 0 without complaint), and less than numeric's largest
// weight (nlohmann refuses what a double cannot hold, far below it anyway).
bool numeric_fits(std::string_view n) {
    const auto digit = [&](std::size_t i) { return i < n.size() && n[i] >= '0' && n[i] <= '9'; };
    std::size_t i = !n.empty() && n[0] == '-';
    long long int_digits = 0, frac_digits = 0, exponent = 0;
    for (; digit(i); ++i) ++int_digits;
    if (i < n.size() && n[i] == '.')
        for (++i; digit(i); ++i) ++frac_digits;
    if (i < n.size() && (n[i] == 'e' || n[i] == 'E')) {
        ++i;
        const bool negative = i < n.size() && n[i] == '-';
        if (i < n.size() && (n[i] == '-' || n[i] == '+')) ++i;
        for (; digit(i); ++i) exponent = std::min(exponent * 10 + (n[i] - '0'), 1000000000LL);
        if (negative) exponent = -exponent;
    }
    return frac_digits - exponent <= 16383 && int_digits - 1 + exponent < 131000;
}

// A first pass over a JSON body, before anything that recurses: it stops at the first level deeper than
// kMaxJsonDepth (however deep the rest goes), and notes what jsonb could not hold.
class JsonScan : public nlohmann::json_sax<nlohmann::json> {
public:
    bool too_deep = false;
    bool storable = true;

    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t& literal) override {
        storable = storable && numeric_fits(literal);
        return true;
    }
    bool string(string_t& s) override { return text(s); }
    bool binary(binary_t&) override { return true; }
    bool key(string_t& s) override { return text(s); }
    bool start_object(std::size_t) override { return enter(); }
    bool end_object() override { return --depth_, true; }
    bool start_array(std::size_t) override { return enter(); }
    bool end_array() override { return --depth_, true; }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

private:
    bool enter() {
        too_deep = ++depth_ > kMaxJsonDepth;
        return !too_deep;
    }
    bool text(const string_t& s) {
        storable = storable && s.find('\0') == std::string::npos;  // a \u0000 escape: jsonb refuses it
        return true;
    }

    int depth_ = 0;
};

struct LengthLimit {
    const char* name;
    std::size_t max;
};

// Every parameter that becomes a tenant lookup key, part of the dedupe key or an indexed or checked column.
// Free text (Body, Author, FriendlyName, Attributes) is stored as it is and bounded only by the body's size.
const LengthLimit kLengthLimits[] = {
    {"MessageSid", kMaxIdentifier},      {"SmsSid", kMaxIdentifier},         {"SmsMessageSid", kMaxIdentifier},
    {"CallSid", kMaxIdentifier},         {"ConversationSid", kMaxIdentifier}, {"ParticipantSid", kMaxIdentifier},
    {"AccountSid", kMaxIdentifier},      {"MessagingServiceSid", kMaxIdentifier},
    {"ChatServiceSid", kMaxIdentifier},  {"EventType", kMaxIdentifier},      {"MessageStatus", kMaxIdentifier},
    {"SmsStatus", kMaxIdentifier},       {"CallStatus", kMaxIdentifier},     {"Status", kMaxIdentifier},
    {"ErrorCode", kMaxIdentifier},       {"SequenceNumber", kMaxIdentifier}, {"OptOutType", kMaxIdentifier},
    {"To", kMaxAddress},                 {"From", kMaxAddress},
};

}  // namespace

static_assert(kMaxIdentifier <= kMaxAddress, "check_lengths skips values no longer than kMaxIdentifier");

// Twilio never sends longer ones; refused before any lookup, so no key, index entry or column ever has to hold
// one (an oversize index entry is an error, and an error is retried). Only values longer than the smallest limit
// are looked up (nearly none: a webhook's values are short, but for Body).
void WebhookParams::check_lengths() const {
    for (const auto& [name, value] : values_) {
        if (value.size() <= kMaxIdentifier) continue;
        for (const LengthLimit& limit : kLengthLimits)
            if (value.size() > limit.max && name == limit.name)
                throw CoreError("22023", "webhook parameter " + name + " is " + std::to_string(value.size()) +
                                             " bytes long; at most " + std::to_string(limit.max) + " (the limit)");
    }
}

namespace {

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
        p.check_lengths();
        return p;
    }
    p.json_ = true;
    // nlohmann's parser keeps its own stack, but dump() recurses: the depth is bounded by a first pass.
    JsonScan scan;
    const bool scanned = nlohmann::json::sax_parse(body.begin(), body.end(), &scan);
    if (scan.too_deep)
        throw CoreError("22023", "a JSON webhook body nests deeper than " + std::to_string(kMaxJsonDepth) +
                                     " levels (the limit)");
    if (!scanned) throw CoreError("22023", "a JSON webhook body must be an object");
    const nlohmann::json doc = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
    if (!doc.is_object()) throw CoreError("22023", "a JSON webhook body must be an object");
    for (const auto& [name, value] : doc.items())
        p.values_.emplace(as_text(name), as_text(value.is_string() ? value.get<std::string>() : value.dump()));
    p.json_storable_ = scan.storable && body.substr(0, 3) != "\xEF\xBB\xBF";  // jsonb takes no byte order mark
    p.check_lengths();
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

namespace {

std::string dedupe_key(WebhookKind kind, const WebhookParams& p, std::string_view body) {
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

}  // namespace

// Bounded (an index entry cannot be longer than about 2700 bytes): a key longer than kMaxDedupeKey, which the
// identifier limits allow only for a Conversations event with every part near its limit, is stored as its kind
// and its SHA-256, still the same for the same delivery.
std::string webhook_dedupe_key(WebhookKind kind, const WebhookParams& p, std::string_view body) {
    std::string key = dedupe_key(kind, p, body);
    if (key.size() <= kMaxDedupeKey) return key;
    return key.substr(0, key.find(':') + 1) + "sha256:" + sha256_hex(key);
}

std::optional<std::string> webhook_event_type(const WebhookParams& p) {
    if (const std::string* v = p.first_of({"EventType", "MessageStatus", "SmsStatus", "CallStatus"})) return *v;
    return std::nullopt;
}

namespace {

bool is_media_sid(std::string_view s) {
    if (s.size() != 34 || s.substr(0, 2) != "ME") return false;
    return std::all_of(s.begin() + 2, s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

// type/subtype: a token, '/', a token (parameters such as "; charset=..." allowed after it), at most 255 bytes.
bool is_content_type(std::string_view s) {
    if (s.empty() || s.size() > 255) return false;
    const std::size_t slash = s.find('/');
    if (slash == 0 || slash == std::string_view::npos || slash + 1 == s.size()) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return (c > 0x20 && c < 0x7F) || c == ' '; });
}

bool is_https_url(std::string_view s) {
    return s.size() > 8 && s.size() <= 2048 && s.substr(0, 8) == "https://" &&
           std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7F; });
}

// The SID an MMS media URL ends in (.../Media/ME...), else empty.
std::string sid_of_url(std::string_view url) {
    const std::size_t q = url.find_first_of("?#");
    if (q != std::string_view::npos) url = url.substr(0, q);
    const std::size_t slash = url.rfind('/');
    const std::string_view last = slash == std::string_view::npos ? url : url.substr(slash + 1);
    return is_media_sid(last) ? std::string(last) : std::string();
}

}  // namespace

std::string webhook_media_json(const WebhookParams& p) {
    nlohmann::json items = nlohmann::json::array();
    if (const std::string* media = p.find("Media")) {  // Conversations: a JSON array
        const nlohmann::json doc = nlohmann::json::parse(*media, nullptr, false);
        if (!doc.is_array()) return items.dump();
        for (const nlohmann::json& m : doc) {
            if (items.size() >= static_cast<std::size_t>(kMaxMedia)) break;
            if (!m.is_object()) continue;
            nlohmann::json item = nlohmann::json::object();
            const auto text = [&](const char* name) -> std::string {
                const auto it = m.find(name);
                return it != m.end() && it->is_string() ? it->get<std::string>() : std::string();
            };
            if (const std::string sid = text("Sid"); is_media_sid(sid)) item["sid"] = sid;
            if (const std::string type = text("ContentType"); is_content_type(type)) item["content_type"] = type;
            if (const std::string name = text("Filename"); !name.empty() && name.size() <= 255 &&
                                                          name.find('\0') == std::string::npos)
                item["filename"] = name;
            // A whole number of bytes that bigint (and a JSON reader's double) holds exactly.
            if (const auto it = m.find("Size");
                it != m.end() && it->is_number_unsigned() && it->get<std::uint64_t>() <= (std::uint64_t{1} << 53))
                item["size"] = it->get<std::uint64_t>();
            if (item.contains("sid")) items.push_back(std::move(item));
        }
        return items.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    const std::string* count = p.find("NumMedia");
    if (!count || count->empty() || count->size() > 3 ||
        count->find_first_not_of("0123456789") != std::string::npos)
        return items.dump();
    const int n = std::min(std::stoi(*count), kMaxMedia);
    for (int i = 0; i < n; ++i) {
        const std::string* url = p.find("MediaUrl" + std::to_string(i));
        if (!url || !is_https_url(*url)) continue;
        nlohmann::json item = {{"url", *url}};
        if (const std::string sid = sid_of_url(*url); !sid.empty()) item["sid"] = sid;
        const std::string* type = p.find("MediaContentType" + std::to_string(i));
        if (type && is_content_type(*type)) item["content_type"] = *type;
        items.push_back(std::move(item));
    }
    return items.dump();
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
