// Verifies a user's Twilio setup before it is saved: credentials and account state, the Conversations and
// Messaging services, and that the SMS number belongs to the account or to the Messaging service.
#pragma once
#include <string>

#include "core/http_client.hpp"
#include "core/secret.hpp"

namespace byo {

struct TwilioEndpoints {
    std::string api;            // https://api.twilio.com
    std::string conversations;  // https://conversations.twilio.com
    std::string messaging;      // https://messaging.twilio.com
    std::string media;          // https://mcs.us1.twilio.com (Conversations media)
};

struct AccountSetup {
    std::string account_sid;
    std::string conversations_service_sid;  // optional (empty: not checked)
    std::string messaging_service_sid;      // optional
    std::string sms_number;                 // optional
};

struct CheckResult {
    bool ok = false;
    std::string failed_check;  // credentials | account | conversations_service | messaging_service | sms_number
    std::string sqlstate;      // five characters, when !ok
    std::string message;       // says which check failed and why; never contains the token
    std::string account_status;
    std::string account_type;
    std::string number_owner;  // account | messaging_service
};

// Runs the checks in order and stops at the first failure. Throws Interrupted when the abort check fired.
CheckResult verify_account_setup(HttpClient& http, const HttpOptions& options, const TwilioEndpoints& endpoints,
                                 const AccountSetup& setup, const Secret& auth_token);

// Twilio REST URLs used by the checks (exposed for unit tests).
std::string account_url(const TwilioEndpoints& e, const std::string& account_sid);
std::string incoming_number_url(const TwilioEndpoints& e, const std::string& account_sid, const std::string& number);
std::string conversations_service_url(const TwilioEndpoints& e, const std::string& service_sid);
std::string messaging_service_url(const TwilioEndpoints& e, const std::string& service_sid);
std::string messaging_service_numbers_url(const TwilioEndpoints& e, const std::string& service_sid);

// Turns a failed transfer or a non-2xx answer into a CheckResult for `check` (exposed for unit tests).
CheckResult classify_failure(const std::string& check, const std::string& what, const HttpOutcome& outcome);

}  // namespace byo
