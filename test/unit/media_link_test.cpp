#include "core/media_link.hpp"

#include <gtest/gtest.h>

#include "core/core_error.hpp"

using namespace byo;

namespace {

const TwilioEndpoints kEndpoints{"https://api.twilio.com/", "https://conversations.twilio.com",
                                 "https://messaging.twilio.com", "https://mcs.us1.twilio.com/"};
const std::string kAC = "AC0123456789abcdef0123456789abcdef";
const std::string kMM = "MM0123456789abcdef0123456789abcdef";
const std::string kME = "ME0123456789abcdef0123456789abcdef";
const std::string kIS = "IS0123456789abcdef0123456789abcdef";

HttpOutcome answer(long status, const std::string& location, const std::string& body = "") {
    HttpOutcome o;
    o.status = status;
    o.location = location;
    o.body = body;
    return o;
}

std::string sqlstate_of(const HttpOutcome& o, bool conversations) {
    try {
        media_link_from(o, conversations);
    } catch (const CoreError& e) {
        return e.sqlstate();
    }
    return "none";
}

}  // namespace

// The URL is built from SIDs on the configured hosts: never from a URL a webhook brought.
TEST(MediaLink, RequestsGoToTwilioHostsOnly) {
    Secret token("tok");
    MediaRef m{kAC, &token, kME, kMM, ""};
    HttpRequest r = media_link_request(kEndpoints, m);
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.url, "https://api.twilio.com/2010-04-01/Accounts/" + kAC + "/Messages/" + kMM + "/Media/" + kME);
    EXPECT_EQ(r.basic_user, kAC);
    EXPECT_EQ(r.basic_password, &token);
    m.service_sid = kIS;
    EXPECT_EQ(media_link_request(kEndpoints, m).url, "https://mcs.us1.twilio.com/v1/Services/" + kIS + "/Media/" + kME);
    m.media_sid = "ME../../Accounts";
    EXPECT_THROW(media_link_request(kEndpoints, m), CoreError);
    m = MediaRef{kAC, &token, kME, "SMnot-a-sid", ""};
    EXPECT_THROW(media_link_request(kEndpoints, m), CoreError);
    m = MediaRef{"AC1", &token, kME, kMM, ""};
    EXPECT_THROW(media_link_request(kEndpoints, m), CoreError);
}

TEST(MediaLink, MmsRedirectLocation) {
    const std::string temp = "https://s3.example.com/media/abc?Expires=1&Signature=x";
    EXPECT_EQ(media_link_from(answer(307, temp), false), temp);
    EXPECT_EQ(media_link_from(answer(302, temp), false), temp);
    // a redirect to plain http, or none at all, is no link
    EXPECT_EQ(sqlstate_of(answer(302, "http://s3.example.com/x"), false), "08P01");
    EXPECT_EQ(sqlstate_of(answer(200, "", "bytes"), false), "08P01");
}

TEST(MediaLink, ConversationsDirectTemporaryLink) {
    const std::string temp = "https://media.us1.twilio.com/ME1?Expires=1";
    EXPECT_EQ(media_link_from(answer(200, "", R"({"links":{"content_direct_temporary":")" + temp + R"("}})"), true),
              temp);
    EXPECT_EQ(sqlstate_of(answer(200, "", R"({"links":{}})"), true), "08P01");
    EXPECT_EQ(sqlstate_of(answer(200, "", "not json"), true), "08P01");
}

TEST(MediaLink, TwilioRefusalsAreClearErrors) {
    EXPECT_EQ(sqlstate_of(answer(404, ""), false), "42704");
    EXPECT_EQ(sqlstate_of(answer(401, ""), true), "28000");
    EXPECT_EQ(sqlstate_of(answer(403, ""), false), "28000");
    EXPECT_EQ(sqlstate_of(answer(429, ""), false), "08000");
    EXPECT_EQ(sqlstate_of(answer(503, ""), true), "08000");
    HttpOutcome down;
    down.error = TransportError::Connect;
    down.error_text = "connection refused";
    EXPECT_EQ(sqlstate_of(down, false), "08000");
}
