#include "core/twilio_outbound.hpp"

#include <curl/curl.h>

#include <cctype>
#include <cstdint>
#include <algorithm>
#include <cstdlib>

#include "core/core_error.hpp"
#include "core/dial_twiml.hpp"
#include "core/form.hpp"

namespace byo {

namespace {

using nlohmann::json;
using Kind = OutboundCall::Kind;

const char* const kWebhookHeader = "X-Twilio-Webhook-Enabled: true";

std::string trim_slash(const std::string& base) {
    std::string b = base;
    while (!b.empty() && b.back() == '/') b.pop_back();
    return b;
}

// One path segment: a conversation's unique name may hold any character.
std::string segment(const std::string& raw) {
    char* encoded = curl_easy_escape(nullptr, raw.data(), static_cast<int>(raw.size()));
    if (!encoded) throw std::bad_alloc();
    std::string out(encoded);
    curl_free(encoded);
    return out;
}

// An empty SID would silently address another resource (".../Conversations//Messages"), so refuse it.
const std::string& required(const std::string& value, const char* what) {
    if (value.empty())
        throw CoreError(sqlstate::invalid_parameter_value, std::string(what) + " is required for this Twilio call");
    return value;
}

std::string string_field(const json& doc, const char* name) {
    auto it = doc.find(name);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Twilio sends num_segments as a string ("1"); accept a number too.
int int_field(const json& doc, const char* name) {
    auto it = doc.find(name);
    if (it == doc.end()) return 0;
    if (it->is_number_integer()) return it->get<int>();
    if (!it->is_string()) return 0;
    const std::string s = it->get<std::string>();
    char* end = nullptr;
    long v = std::strtol(s.c_str(), &end, 10);
    return end != s.c_str() && *end == '\0' && v >= 0 && v < 1000000 ? static_cast<int>(v) : 0;
}

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// ---- dates: a small locale-free reader for the two formats find_sms compares ----

struct Cursor {
    const char* p;
    const char* end;
    bool eat(char c) { return p < end && *p == c ? (++p, true) : false; }
    // Between min_digits and max_digits decimal digits.
    bool number(int min_digits, int max_digits, int& out) {
        out = 0;
        int n = 0;
        for (; n < max_digits && p < end && std::isdigit(static_cast<unsigned char>(*p)); ++n, ++p)
            out = out * 10 + (*p - '0');
        return n >= min_digits;
    }
    bool number(int digits, int& out) { return number(digits, digits, out); }
};

// Seconds since 1970-01-01 for a proleptic Gregorian UTC date and time.
std::int64_t epoch_seconds(int y, int mon, int d, int h, int mi, int s) {
    static const int before_month[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    auto leaps_through = [](std::int64_t year) { return year / 4 - year / 100 + year / 400; };
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    std::int64_t days = 365 * (std::int64_t(y) - 1970) + leaps_through(y - 1) - leaps_through(1969) +
                        before_month[mon - 1] + (leap && mon > 2 ? 1 : 0) + (d - 1);
    return days * 86400 + h * 3600 + mi * 60 + s;
}

bool valid(int y, int mon, int d, int h, int mi, int s) {
    return y >= 1970 && mon >= 1 && mon <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 && s <= 60;
}

// "+HH", "+HHMM", "+HH:MM" (or '-') into seconds east of UTC.
bool numeric_zone(Cursor& c, std::int64_t& offset) {
    int sign = c.eat('+') ? 1 : c.eat('-') ? -1 : 0;
    int hh = 0, mm = 0;
    if (!sign || !c.number(2, hh)) return false;
    if (c.p < c.end) {
        c.eat(':');
        if (!c.number(2, mm)) return false;
    }
    offset = sign * (hh * 3600 + mm * 60);
    return c.p == c.end;
}

bool parse_iso(const std::string& text, std::int64_t& out) {
    Cursor c{text.data(), text.data() + text.size()};
    int y, mon, d, h, mi, s;
    if (!c.number(4, y) || !c.eat('-') || !c.number(2, mon) || !c.eat('-') || !c.number(2, d)) return false;
    if (!c.eat('T') && !c.eat(' ')) return false;
    if (!c.number(2, h) || !c.eat(':') || !c.number(2, mi) || !c.eat(':') || !c.number(2, s)) return false;
    if (c.eat('.'))
        while (c.p < c.end && std::isdigit(static_cast<unsigned char>(*c.p))) ++c.p;  // truncated to the second
    std::int64_t offset = 0;
    if (c.p != c.end && !(c.eat('Z') && c.p == c.end) && !numeric_zone(c, offset)) return false;
    if (!valid(y, mon, d, h, mi, s)) return false;
    out = epoch_seconds(y, mon, d, h, mi, s) - offset;
    return true;
}

// RFC 2822 as Twilio writes it: "Wed, 18 Aug 2010 20:01:40 +0000" (day name optional, GMT/UT accepted).
bool parse_rfc2822(const std::string& text, std::int64_t& out) {
    static const char* const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::string t = text;
    if (std::size_t comma = t.find(','); comma != std::string::npos) t = t.substr(comma + 1);
    while (!t.empty() && t.front() == ' ') t.erase(0, 1);
    Cursor c{t.data(), t.data() + t.size()};
    int d, mon = 0, y, h, mi, s;
    if (!c.number(1, 2, d) || !c.eat(' ') || c.end - c.p < 4) return false;
    for (int i = 0; i < 12; ++i)
        if (std::string(c.p, 3) == months[i]) mon = i + 1;
    c.p += 3;
    if (!mon || !c.eat(' ') || !c.number(4, y) || !c.eat(' ')) return false;
    if (!c.number(2, h) || !c.eat(':') || !c.number(2, mi) || !c.eat(':') || !c.number(2, s) || !c.eat(' '))
        return false;
    const std::string zone(c.p, c.end);
    std::int64_t offset = 0;
    if (zone != "GMT" && zone != "UT" && zone != "UTC" && zone != "Z" && !numeric_zone(c, offset)) return false;
    if (!valid(y, mon, d, h, mi, s)) return false;
    out = epoch_seconds(y, mon, d, h, mi, s) - offset;
    return true;
}

// date_created of a 2010 API item not before not_before (less the slack), or not comparable.
bool not_older(const json& item, bool check_date, std::int64_t not_before, long clock_slack_seconds) {
    std::int64_t created = 0;
    return !check_date || !parse_rfc2822(string_field(item, "date_created"), created) ||
           created >= not_before - clock_slack_seconds;
}

}  // namespace

HttpRequest build_outbound_request(const TwilioEndpoints& e, const OutboundCall& c) {
    HttpRequest r;
    r.basic_user = required(c.account_sid, "an account SID");
    r.basic_password = c.auth_token;
    auto add = [&r](const char* name, const std::string& value) {
        if (!value.empty()) r.form.emplace_back(name, value);
    };
    auto conversations = [&] {
        return trim_slash(e.conversations) + "/v1/Services/" +
               segment(required(c.conversations_service_sid, "a Conversations service SID")) + "/Conversations";
    };
    auto conversation = [&] {
        return conversations() + "/" + segment(required(c.conversation_sid, "a conversation SID"));
    };
    auto account_resource = [&](const char* name) {
        return trim_slash(e.api) + "/2010-04-01/Accounts/" + segment(c.account_sid) + "/" + name + ".json";
    };
    auto messages_json = [&] { return account_resource("Messages"); };
    auto list_query = [&c] {
        FormParams query;
        if (!c.list_to.empty()) query.emplace_back("To", c.list_to);
        if (!c.list_from.empty()) query.emplace_back("From", c.list_from);
        query.emplace_back("PageSize", "50");
        return "?" + encode_form(query);
    };
    // A later page of a list: the link Twilio gave, on the API host we were configured with.
    auto list_url = [&](const char* resource) {
        if (c.page_uri.empty()) return account_resource(resource) + list_query();
        if (!is_list_page(c.page_uri, c.account_sid, resource, c.list_to))
            throw CoreError(sqlstate::invalid_parameter_value, "not a page of this account's list");
        return trim_slash(e.api) + c.page_uri;
    };

    switch (c.kind) {
        case Kind::CreateConversation:
            r.method = "POST";
            r.url = conversations();
            add("FriendlyName", c.friendly_name);
            add("UniqueName", c.unique_name);
            add("Attributes", c.attributes_json);
            add("MessagingServiceSid", c.messaging_service_sid);
            r.headers.push_back(kWebhookHeader);
            break;
        case Kind::AddParticipant:
            r.method = "POST";
            r.url = conversation() + "/Participants";
            r.form.emplace_back("MessagingBinding.Address", required(c.address, "a participant address"));
            add("MessagingBinding.ProxyAddress", c.proxy_address);
            r.headers.push_back(kWebhookHeader);
            break;
        case Kind::SendConversationMessage:
            r.method = "POST";
            r.url = conversation() + "/Messages";
            add("Author", c.author);
            if (c.media_sid.empty())
                r.form.emplace_back("Body", c.body);
            else
                add("Body", c.body);
            add("MediaSid", c.media_sid);
            add("Attributes", c.attributes_json);
            r.headers.push_back(kWebhookHeader);
            break;
        case Kind::SendSms:
            r.method = "POST";
            r.url = messages_json();
            r.form.emplace_back("To", required(c.to, "a recipient (To)"));
            // The Messaging service picks the sender when there is one; else the user's own number sends.
            if (!c.messaging_service_sid.empty())
                r.form.emplace_back("MessagingServiceSid", c.messaging_service_sid);
            else
                r.form.emplace_back("From", required(c.from, "a Messaging service SID or a sender (From)"));
            if (c.media_urls.empty())
                r.form.emplace_back("Body", c.body);
            else
                add("Body", c.body);
            for (const std::string& url : c.media_urls) r.form.emplace_back("MediaUrl", url);
            add("StatusCallback", c.status_callback);
            break;
        case Kind::FetchConversation:
            r.url = conversation();
            break;
        case Kind::ListConversationMessages:
            r.url = conversation() + "/Messages?Order=desc&PageSize=50";
            break;
        case Kind::ListMessages:
            r.url = list_url("Messages");
            break;
        case Kind::CreateCall:
            r.method = "POST";
            r.url = account_resource("Calls");
            r.form.emplace_back("To", required(c.to, "a number to call (To)"));
            r.form.emplace_back("From", required(c.from, "a caller id (From)"));
            r.form.emplace_back("Twiml", required(c.twiml, "the call's TwiML"));
            if (!c.status_callback.empty()) {
                r.form.emplace_back("StatusCallback", c.status_callback);
                for (const char* event : kCallStatusEvents) r.form.emplace_back("StatusCallbackEvent", event);
            }
            break;
        case Kind::ListCalls:
            r.url = list_url("Calls");
            break;
    }
    return r;
}

bool is_list_page(const std::string& uri, const std::string& account_sid, const char* resource,
                  const std::string& to) {
    if (account_sid.empty() || to.empty()) return false;
    const std::string prefix = "/2010-04-01/Accounts/" + segment(account_sid) + "/" + resource + ".json?";
    if (uri.compare(0, prefix.size(), prefix) != 0) return false;
    const bool clean = std::none_of(uri.begin(), uri.end(), [](char ch) {
        const auto u = static_cast<unsigned char>(ch);
        return u <= 0x20 || u >= 0x7f || ch == '#' || ch == '\\';
    });
    const std::string filter = encode_form({{"To", to}});
    for (std::size_t at = prefix.size() - 1; clean && (at = uri.find(filter, at)) != std::string::npos; ++at) {
        const std::size_t end = at + filter.size();
        if ((uri[at - 1] == '?' || uri[at - 1] == '&') && (end == uri.size() || uri[end] == '&')) return true;
    }
    return false;
}

std::string next_page_uri(const json& list_body) {
    return list_body.is_object() ? string_field(list_body, "next_page_uri") : std::string();
}


OutboundResult classify_outbound(const HttpOutcome& o) {
    OutboundResult r;
    r.http_status = o.status;
    r.retry_after_ms = o.retry_after_ms;
    if (o.error != TransportError::None) {
        // Only a request written whole can have been acted on; anything less is safe to send again.
        r.verdict = o.request_sent ? Verdict::Ambiguous : Verdict::Retry;
        r.error_message = o.error_text.empty() ? "transport error" : o.error_text;
        return r;
    }
    json doc = json::parse(o.body, nullptr, false);
    if (doc.is_object()) r.body = std::move(doc);
    if (o.status >= 200 && o.status < 300) {
        if (!r.body.is_object()) {
            r.verdict = Verdict::Ambiguous;
            r.error_message = "Twilio accepted the request (HTTP " + std::to_string(o.status) +
                              ") but its answer is not a JSON object";
            return r;
        }
        r.verdict = Verdict::Success;
        r.sid = string_field(r.body, "sid");
        r.status = string_field(r.body, "status");
        if (r.status.empty()) r.status = string_field(r.body, "state");
        r.num_segments = int_field(r.body, "num_segments");
        return r;
    }
    if (r.body.is_object()) {
        auto code = r.body.find("code");
        if (code != r.body.end() && code->is_number_integer()) r.error_code = code->get<int>();
        r.error_message = string_field(r.body, "message");
    }
    if (r.error_message.empty()) r.error_message = "HTTP " + std::to_string(o.status);
    if (o.status == 429 || o.status == 503) r.verdict = Verdict::Retry;
    else if (o.status >= 500) r.verdict = Verdict::Ambiguous;
    else r.verdict = Verdict::Final;
    return r;
}

std::string conversation_sid_from_50416(const std::string& m) {
    for (std::size_t i = 0; i + 34 <= m.size(); ++i) {
        if (m[i] != 'C' || m[i + 1] != 'H' || (i > 0 && is_alnum(m[i - 1]))) continue;
        std::size_t j = i + 2;
        while (j < i + 34 && std::isxdigit(static_cast<unsigned char>(m[j]))) ++j;
        if (j == i + 34 && (j == m.size() || !is_alnum(m[j]))) return m.substr(i, 34);
    }
    return {};
}

const json* find_by_attribute(const json& list_body, const char* list_key, const std::string& attr_key,
                              const std::string& attr_value) {
    if (!list_body.is_object()) return nullptr;
    auto list = list_body.find(list_key);
    if (list == list_body.end() || !list->is_array()) return nullptr;
    for (const json& item : *list) {
        if (!item.is_object()) continue;
        auto attrs = item.find("attributes");
        if (attrs == item.end()) continue;
        json parsed = attrs->is_string() ? json::parse(attrs->get<std::string>(), nullptr, false) : *attrs;
        if (!parsed.is_object()) continue;
        auto value = parsed.find(attr_key);
        if (value != parsed.end() && value->is_string() && value->get<std::string>() == attr_value) return &item;
    }
    return nullptr;
}

const json* find_sms(const json& list_body, const std::string& to, const std::string& body,
                     const std::string& not_before_iso, long clock_slack_seconds) {
    if (!list_body.is_object()) return nullptr;
    auto list = list_body.find("messages");
    if (list == list_body.end() || !list->is_array()) return nullptr;
    std::int64_t not_before = 0;
    const bool check_date = parse_iso(not_before_iso, not_before);
    for (const json& item : *list) {
        if (!item.is_object() || string_field(item, "to") != to || string_field(item, "body") != body) continue;
        if (!not_older(item, check_date, not_before, clock_slack_seconds)) continue;
        return &item;
    }
    return nullptr;
}

const json* find_call(const json& list_body, const std::string& to, const std::string& from,
                      const std::string& not_before_iso, long clock_slack_seconds,
                      const std::vector<std::string>& known_sids) {
    if (!list_body.is_object()) return nullptr;
    auto list = list_body.find("calls");
    if (list == list_body.end() || !list->is_array()) return nullptr;
    std::int64_t not_before = 0;
    const bool check_date = parse_iso(not_before_iso, not_before);
    for (const json& item : *list) {
        if (!item.is_object() || string_field(item, "to") != to || string_field(item, "from") != from) continue;
        const std::string sid = string_field(item, "sid");
        if (sid.empty() || !string_field(item, "parent_call_sid").empty()) continue;  // a <Dial> child leg
        if (std::find(known_sids.begin(), known_sids.end(), sid) != known_sids.end()) continue;
        if (!not_older(item, check_date, not_before, clock_slack_seconds)) continue;
        return &item;
    }
    return nullptr;
}

}  // namespace byo
