#include "core/webhook_url.hpp"

#include <gtest/gtest.h>

using byo::url_under_base;
using byo::webhook_key_from_url;

TEST(WebhookUrl, KeyAfterTwilioSegment) {
    EXPECT_EQ(webhook_key_from_url("https://relay.example.com/twilio/0123456789abcdef/sms"), "0123456789abcdef");
    EXPECT_EQ(webhook_key_from_url("https://relay.example.com/twilio/0123456789ABCDEF0123"), "0123456789ABCDEF0123");
    EXPECT_EQ(webhook_key_from_url("https://r.example.com:8443/base/twilio/platform/status?x=1"), "platform");
    EXPECT_EQ(webhook_key_from_url("https://r.example.com/twilio/0123456789abcdef?x=1"), "0123456789abcdef");
    EXPECT_EQ(webhook_key_from_url("https://r.example.com/twilio/0123456789abcdef#f"), "0123456789abcdef");
}

TEST(WebhookUrl, NoKey) {
    EXPECT_EQ(webhook_key_from_url("https://relay.example.com/twilio/sms"), std::nullopt);           // a route, not a key
    EXPECT_EQ(webhook_key_from_url("https://relay.example.com/twilio/0123456789abcde/sms"), std::nullopt);  // 15 digits
    EXPECT_EQ(webhook_key_from_url("https://relay.example.com/twilio/0123456789abcdeg/sms"), std::nullopt);  // not hex
    EXPECT_EQ(webhook_key_from_url(std::string("https://r.example.com/twilio/") + std::string(65, 'a')), std::nullopt);
    EXPECT_EQ(webhook_key_from_url("https://r.example.com/twilio/0123456789abcdefx"), std::nullopt);  // key must end the segment
    EXPECT_EQ(webhook_key_from_url("https://r.example.com"), std::nullopt);
    EXPECT_EQ(webhook_key_from_url(""), std::nullopt);
}

TEST(WebhookUrl, OnlyThePathCounts) {
    EXPECT_EQ(webhook_key_from_url("https://r.example.com/twilio/sms?next=/twilio/0123456789abcdef/"), std::nullopt);
    // A query or fragment right after the host: no path at all (RFC 3986), whatever slashes follow.
    EXPECT_EQ(webhook_key_from_url("https://r.example.com#x/twilio/0123456789abcdef/sms"), std::nullopt);
    EXPECT_EQ(webhook_key_from_url("https://r.example.com?x=/twilio/0123456789abcdef/sms"), std::nullopt);
    EXPECT_EQ(webhook_key_from_url("https://r.example.com/x/twilio/platformx/twilio/0123456789abcdef/sms"),
              "0123456789abcdef");  // the first segment that is a key
}

TEST(WebhookUrl, UnderBase) {
    EXPECT_TRUE(url_under_base("https://relay.example.com/twilio/0123456789abcdef/sms", "https://relay.example.com"));
    EXPECT_TRUE(url_under_base("https://relay.example.com/twilio/0123456789abcdef/sms", "https://relay.example.com/"));
    EXPECT_TRUE(url_under_base("https://r.example.com/hooks/twilio/platform/status", "https://r.example.com/hooks"));
    EXPECT_TRUE(url_under_base("https://r.example.com/hooks?x=1", "https://r.example.com/hooks"));
    EXPECT_TRUE(url_under_base("https://r.example.com", "https://r.example.com"));
}

TEST(WebhookUrl, NotUnderBase) {
    EXPECT_FALSE(url_under_base("https://other.example.com/twilio/0123456789abcdef/sms", "https://relay.example.com"));
    EXPECT_FALSE(url_under_base("http://relay.example.com/twilio/platform/sms", "https://relay.example.com"));
    EXPECT_FALSE(url_under_base("https://relay.example.com.evil/twilio/platform/sms", "https://relay.example.com"));
    EXPECT_FALSE(url_under_base("https://relay.example.com:8443/twilio/platform/sms", "https://relay.example.com"));
    EXPECT_FALSE(url_under_base("https://r.example.com/hooksx/twilio/platform/sms", "https://r.example.com/hooks"));
    EXPECT_FALSE(url_under_base("https://r.example.com/twilio/platform/sms", "https://r.example.com/hooks"));
    EXPECT_FALSE(url_under_base("https://r.example.com/twilio/platform/sms", ""));
    EXPECT_FALSE(url_under_base("https://r.example.com/twilio/platform/sms", "/"));
}
