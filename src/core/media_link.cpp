#include "core/media_link.hpp"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "core/core_error.hpp"

namespace byo {

namespace {

bool is_sid(const std::string& s, const char* prefix) {
    return s.size() == 34 && s.compare(0, 2, prefix) == 0 &&
           std::all_of(s.begin() + 2, s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

std::string require(const std::string& value, bool ok, const char* what) {
    if (!ok) throw CoreError(sqlstate::invalid_parameter_value, std::string("media link: malformed ") + what);
    return value;
}

std::string base(std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
}

bool is_https(const std::string& url) {
    return url.size() > 8 && url.compare(0, 8, "https://") == 0 &&
           std::all_of(url.begin(), url.end(), [](char c) { return c > 0x20 && c < 0x7F; });
}

}  // namespace

HttpRequest media_link_request(const TwilioEndpoints& e, const MediaRef& m) {
    HttpRequest r;
    r.method = "GET";
    r.basic_user = require(m.account_sid, is_sid(m.account_sid, "AC"), "account SID");
    r.basic_password = m.auth_token;
    const std::string me = require(m.media_sid, is_sid(m.media_sid, "ME"), "media SID");
    if (!m.service_sid.empty()) {
        r.url = base(e.media) + "/v1/Services/" +
                require(m.service_sid, is_sid(m.service_sid, "IS"), "Conversations service SID") + "/Media/" + me;
    } else {
        const bool message_ok = is_sid(m.message_sid, "SM") || is_sid(m.message_sid, "MM");
        r.url = base(e.api) + "/2010-04-01/Accounts/" + m.account_sid + "/Messages/" +
                require(m.message_sid, message_ok, "message SID") + "/Media/" + me;
    }
    return r;
}

std::string media_link_from(const HttpOutcome& o, bool conversations) {
    switch (o.error) {
        case TransportError::None: break;
        case TransportError::Aborted: throw Interrupted();
        default:
            throw CoreError(sqlstate::connection_exception,
                            "media link: Twilio could not be reached (" + o.error_text + ")");
    }
    const std::string status = "HTTP " + std::to_string(o.status);
    if (o.status == 404) throw CoreError(sqlstate::undefined_object, "media link: Twilio has no such media (" + status + ")");
    if (o.status == 401 || o.status == 403)
        throw CoreError(sqlstate::invalid_authorization,
                        "media link: Twilio refused the account's credentials (" + status + ")",
                        "Check the account with twilio.verify_settings().");
    if (o.status == 429 || o.status >= 500)
        throw CoreError(sqlstate::connection_exception,
                        "media link: Twilio is unavailable or rate limiting (" + status + "); try again later");
    if (!conversations && o.status >= 300 && o.status < 400 && is_https(o.location)) return o.location;
    if (conversations && o.status >= 200 && o.status < 300) {
        const nlohmann::json doc = nlohmann::json::parse(o.body, nullptr, false);
        if (doc.is_object()) {
            const auto links = doc.find("links");
            if (links != doc.end() && links->is_object()) {
                const auto link = links->find("content_direct_temporary");
                if (link != links->end() && link->is_string() && is_https(link->get<std::string>()))
                    return link->get<std::string>();
            }
        }
    }
    throw CoreError(sqlstate::protocol_violation,
                    "media link: Twilio's answer holds no temporary link (" + status + ")");
}

}  // namespace byo
