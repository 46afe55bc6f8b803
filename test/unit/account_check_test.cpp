#include <gtest/gtest.h>

#include "core/twilio_account_check.hpp"

using namespace byo;

namespace {
const TwilioEndpoints kEndpoints{"https://api.twilio.com/", "https://conversations.twilio.com",
                                 "https://messaging.twilio.com"};
}

TEST(AccountCheck, Urls) {
    EXPECT_EQ(account_url(kEndpoints, "AC1"), "https://api.twilio.com/2010-04-01/Accounts/AC1.json");
    EXPECT_EQ(incoming_number_url(kEndpoints, "AC1", "+15005550006"),
              "https://api.twilio.com/2010-04-01/Accounts/AC1/IncomingPhoneNumbers.json?PhoneNumber=%2B15005550006");
    EXPECT_EQ(conversations_service_url(kEndpoints, "IS1"), "https://conversations.twilio.com/v1/Services/IS1");
    EXPECT_EQ(messaging_service_url(kEndpoints, "MG1"), "https://messaging.twilio.com/v1/Services/MG1");
}

TEST(AccountCheck, ClassifiesAnswers) {
    HttpOutcome o;
    o.status = 401;
    o.body = R"({"code":20003,"message":"Authenticate","status":401})";
    CheckResult r = classify_failure("account", "the account", o);
    EXPECT_EQ(r.failed_check, "credentials");
    EXPECT_EQ(r.sqlstate, "28000");
    EXPECT_NE(r.message.find("20003"), std::string::npos);
    r = classify_failure("messaging_service", "Messaging service MG1", o);
    EXPECT_EQ(r.failed_check, "messaging_service");
    EXPECT_EQ(r.sqlstate, "28000");
    EXPECT_NE(r.message.find("refused access to Messaging service MG1"), std::string::npos);

    o.status = 404;
    o.body = R"({"code":20404,"message":"not found"})";
    r = classify_failure("messaging_service", "Messaging service MG1", o);
    EXPECT_EQ(r.sqlstate, "42704");
    EXPECT_NE(r.message.find("MG1"), std::string::npos);

    o.status = 429;
    EXPECT_EQ(classify_failure("account", "x", o).sqlstate, "08000");
    o.status = 503;
    EXPECT_EQ(classify_failure("account", "x", o).sqlstate, "08000");
    o.status = 418;
    o.body = "<html>";
    EXPECT_EQ(classify_failure("account", "x", o).sqlstate, "08P01");

    HttpOutcome t;
    t.error = TransportError::Timeout;
    t.error_text = "Operation timed out";
    r = classify_failure("account", "the account", t);
    EXPECT_EQ(r.sqlstate, "08000");
    EXPECT_NE(r.message.find("in time"), std::string::npos);
    t.error = TransportError::Tls;
    EXPECT_NE(classify_failure("account", "the account", t).message.find("TLS"), std::string::npos);
}
