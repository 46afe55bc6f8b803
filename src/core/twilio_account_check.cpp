#include "core/twilio_account_check.hpp"

#include <nlohmann/json.hpp>

#include "core/core_error.hpp"
#include "core/form.hpp"

namespace byo {

namespace {

using nlohmann::json;

std::string trim_slash(const std::string& base) {
    std::string b = base;
    while (!b.empty() && b.back() == '/') b.pop_back();
    return b;
}

json parse_object(const std::string& body) {
    json doc = json::parse(body, nullptr, false);
    return doc.is_object() ? doc : json();
}

CheckResult failure(const std::string& check, const char* sqlstate, const std::string& message) {
    CheckResult r;
    r.failed_check = check;
    r.sqlstate = sqlstate;
    r.message = message;
    return r;
}

// Twilio's error JSON: {"code": 20404, "message": "...", "status": 404}.
std::string twilio_error_text(const HttpOutcome& o) {
    json doc = parse_object(o.body);
    std::string text = "HTTP " + std::to_string(o.status);
    if (doc.is_object() && doc.contains("code") && doc["code"].is_number_integer())
        text += ", Twilio error " + std::to_string(doc["code"].get<long>());
    if (doc.is_object() && doc.contains("message") && doc["message"].is_string())
        text += ": " + doc["message"].get<std::string>();
    return text;
}

// One GET; a successful JSON object answer is returned in `doc`, anything else becomes a failure.
bool fetch(HttpClient& http, const HttpOptions& opt, const AccountSetup& setup, const Secret& token,
           const std::string& url, const std::string& check, const std::string& what, json& doc,
           CheckResult& failed) {
    HttpRequest req;
    req.url = url;
    req.basic_user = setup.account_sid;
    req.basic_password = &token;
    HttpOutcome o = http.perform(req, opt);
    if (o.error == TransportError::Aborted) throw Interrupted();
    if (o.error == TransportError::None && o.status >= 200 && o.status < 300) {
        doc = parse_object(o.body);
        if (doc.is_object()) return true;
        failed = failure(check, sqlstate::protocol_violation,
                         check + " check failed: Twilio answered " + what + " with a body that is not JSON");
        return false;
    }
    failed = classify_failure(check, what, o);
    return false;
}

std::string string_field(const json& doc, const char* name) {
    auto it = doc.find(name);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool list_has_number(const json& doc, const char* list_key, const std::string& number) {
    auto it = doc.find(list_key);
    if (it == doc.end() || !it->is_array()) return false;
    for (const auto& item : *it)
        if (item.is_object() && string_field(item, "phone_number") == number) return true;
    return false;
}

}  // namespace

std::string account_url(const TwilioEndpoints& e, const std::string& sid) {
    return trim_slash(e.api) + "/2010-04-01/Accounts/" + sid + ".json";
}

std::string incoming_number_url(const TwilioEndpoints& e, const std::string& sid, const std::string& number) {
    return trim_slash(e.api) + "/2010-04-01/Accounts/" + sid + "/IncomingPhoneNumbers.json?" +
           encode_form({{"PhoneNumber", number}});
}

std::string conversations_service_url(const TwilioEndpoints& e, const std::string& sid) {
    return trim_slash(e.conversations) + "/v1/Services/" + sid;
}

std::string messaging_service_url(const TwilioEndpoints& e, const std::string& sid) {
    return trim_slash(e.messaging) + "/v1/Services/" + sid;
}

std::string messaging_service_numbers_url(const TwilioEndpoints& e, const std::string& sid) {
    return trim_slash(e.messaging) + "/v1/Services/" + sid + "/PhoneNumbers?PageSize=1000";
}

CheckResult classify_failure(const std::string& check, const std::string& what, const HttpOutcome& o) {
    const std::string lead = check + " check failed: ";
    switch (o.error) {
        case TransportError::Timeout:
            return failure(check, sqlstate::connection_exception, lead + "Twilio did not answer " + what + " in time (" + o.error_text + ")");
        case TransportError::Connect:
            return failure(check, sqlstate::connection_exception, lead + "could not connect to Twilio for " + what + " (" + o.error_text + ")");
        case TransportError::Tls:
            return failure(check, sqlstate::connection_exception, lead + "TLS verification failed for " + what + " (" + o.error_text + ")");
        case TransportError::TooLarge:
        case TransportError::Other:
            return failure(check, sqlstate::protocol_violation, lead + "transfer of " + what + " failed (" + o.error_text + ")");
        case TransportError::Aborted:
            throw Interrupted();
        case TransportError::None:
            break;
    }
    const std::string detail = twilio_error_text(o);
    // The account is fetched first: a 401/403 there means the SID/token pair is wrong. Later, it means this
    // account may not read that resource.
    if ((o.status == 401 || o.status == 403) && check == "account")
        return failure("credentials", sqlstate::invalid_authorization,
                       "credentials check failed: Twilio rejected the Account SID and auth token (" + detail + ")");
    if (o.status == 401 || o.status == 403)
        return failure(check, sqlstate::invalid_authorization,
                       lead + "Twilio refused access to " + what + " with these credentials (" + detail + ")");
    if (o.status == 404)
        return failure(check, sqlstate::undefined_object, lead + what + " was not found in this account (" + detail + ")");
    if (o.status == 429 || o.status >= 500)
        return failure(check, sqlstate::connection_exception,
                       lead + "Twilio is unavailable or rate limiting (" + detail + "); try again later");
    return failure(check, sqlstate::protocol_violation, lead + "unexpected answer for " + what + " (" + detail + ")");
}

CheckResult verify_account_setup(HttpClient& http, const HttpOptions& opt, const TwilioEndpoints& e,
                                 const AccountSetup& setup, const Secret& token) {
    CheckResult failed;
    json doc;
    if (!fetch(http, opt, setup, token, account_url(e, setup.account_sid), "account", "the account", doc, failed))
        return failed;
    CheckResult result;
    result.account_status = string_field(doc, "status");
    result.account_type = string_field(doc, "type");
    if (result.account_status != "active") {
        failed = failure("account", sqlstate::prerequisite_state,
                         "account check failed: the Twilio account is " +
                             (result.account_status.empty() ? std::string("in an unknown state") : result.account_status) +
                             ", not active");
        failed.account_status = result.account_status;
        return failed;
    }
    if (!setup.conversations_service_sid.empty() &&
        !fetch(http, opt, setup, token, conversations_service_url(e, setup.conversations_service_sid),
               "conversations_service", "Conversations service " + setup.conversations_service_sid, doc, failed))
        return failed;
    if (!setup.messaging_service_sid.empty() &&
        !fetch(http, opt, setup, token, messaging_service_url(e, setup.messaging_service_sid), "messaging_service",
               "Messaging service " + setup.messaging_service_sid, doc, failed))
        return failed;
    if (!setup.sms_number.empty()) {
        const std::string what = "phone number " + setup.sms_number;
        if (!fetch(http, opt, setup, token, incoming_number_url(e, setup.account_sid, setup.sms_number), "sms_number",
                   what, doc, failed))
            return failed;
        if (list_has_number(doc, "incoming_phone_numbers", setup.sms_number)) {
            result.number_owner = "account";
        } else if (!setup.messaging_service_sid.empty()) {
            if (!fetch(http, opt, setup, token, messaging_service_numbers_url(e, setup.messaging_service_sid),
                       "sms_number", what, doc, failed))
                return failed;
            if (list_has_number(doc, "phone_numbers", setup.sms_number)) result.number_owner = "messaging_service";
        }
        if (result.number_owner.empty())
            return failure("sms_number", sqlstate::undefined_object,
                           "sms_number check failed: " + setup.sms_number +
                               " is not a phone number of this account" +
                               (setup.messaging_service_sid.empty() ? "" : " nor of its Messaging service"));
    }
    result.ok = true;
    return result;
}

}  // namespace byo
