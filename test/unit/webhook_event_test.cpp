#include "core/webhook_event.hpp"

#include <gtest/gtest.h>

#include "core/core_error.hpp"

using namespace byo;

namespace {

const char* const kForm = "application/x-www-form-urlencoded";

WebhookParams form(const std::string& body) { return WebhookParams::parse(kForm, body); }

}  // namespace

TEST(WebhookParams, FormFirstValueWinsAndDecodes) {
    const WebhookParams p = form("Body=Hi+there%21&To=%2B15005550006&Body=second");
    ASSERT_NE(p.find("Body"), nullptr);
    EXPECT_EQ(*p.find("Body"), "Hi there!");
    EXPECT_EQ(*p.find("To"), "+15005550006");
    EXPECT_EQ(p.find("From"), nullptr);
    EXPECT_FALSE(p.is_json());
    EXPECT_EQ(p.to_json(), R"({"Body":"Hi there!","To":"+15005550006"})");
}

TEST(WebhookParams, JsonEscapesWhatJsonMust) {
    const WebhookParams p = form("Body=%22q%22+back%5Cslash%0Anew%09tab%01%7F+%C3%A9&A=");
    EXPECT_EQ(p.to_json(), "{\"A\":\"\",\"Body\":\"\\\"q\\\" back\\\\slash\\nnew\\ttab\\u0001\x7F \xC3\xA9\"}");
    EXPECT_EQ(form("").to_json(), "{}");
}

TEST(WebhookParams, ValuesAreAlwaysStorableText) {
    // %FF is not UTF-8, %00 is NUL, %C0%AF an overlong '/', %ED%A0%80 a surrogate: each byte becomes U+FFFD.
    const WebhookParams p = form("Body=a%FFb%00c&From=%C0%AF&To=%ED%A0%80&Ok=%C3%A9%F0%9F%98%80");
    EXPECT_EQ(*p.find("Body"), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c");
    EXPECT_EQ(*p.find("From"), "\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(*p.find("To"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(*p.find("Ok"), "\xC3\xA9\xF0\x9F\x98\x80");  // é and an emoji pass through
    EXPECT_EQ(*WebhookParams::parse("application/json", R"({"Body":"x\u0000y"})").find("Body"), "x\xEF\xBF\xBDy");
}

TEST(WebhookParams, JsonObjectOnly) {
    const WebhookParams p = WebhookParams::parse("application/json; charset=utf-8", R"({"EventType":"x","n":{"a":1}})");
    EXPECT_TRUE(p.is_json());
    EXPECT_EQ(*p.find("EventType"), "x");
    EXPECT_EQ(*p.find("n"), R"({"a":1})");  // non-string values read as their JSON text
    EXPECT_THROW(WebhookParams::parse("application/json", "[1,2]"), CoreError);
    EXPECT_THROW(WebhookParams::parse("application/json", "{not json"), CoreError);
    EXPECT_THROW(WebhookParams::parse("text/plain", "a=b"), CoreError);
    EXPECT_THROW(WebhookParams::parse("", "a=b"), CoreError);
}

TEST(WebhookKind, Classifies) {
    EXPECT_EQ(webhook_kind(form("EventType=onMessageAdded&Body=x")), WebhookKind::Conversations);
    EXPECT_EQ(webhook_kind(form("CallSid=CA1&CallStatus=ringing")), WebhookKind::VoiceStatus);
    EXPECT_EQ(webhook_kind(form("SmsStatus=received&Body=hi")), WebhookKind::Sms);
    EXPECT_EQ(webhook_kind(form("Body=hi")), WebhookKind::Sms);
    EXPECT_EQ(webhook_kind(form("Body=hi&MessageStatus=sent")), WebhookKind::Status);
    EXPECT_EQ(webhook_kind(form("SmsStatus=delivered")), WebhookKind::Status);
    EXPECT_EQ(webhook_kind(form("CallSid=CA1")), std::nullopt);
    EXPECT_EQ(webhook_kind(form("Foo=bar")), std::nullopt);
    EXPECT_STREQ(kind_name(WebhookKind::VoiceStatus), "voice_status");
}

TEST(WebhookDedupe, SameDeliverySameKey) {
    const std::string status = "MessageSid=SM1&MessageStatus=delivered";
    EXPECT_EQ(webhook_dedupe_key(WebhookKind::Status, form(status), status), "status:SM1:delivered");
    const std::string sms = "SmsSid=SM2&Body=hi";
    EXPECT_EQ(webhook_dedupe_key(WebhookKind::Sms, form(sms), sms), "sms:SM2");
    // No SID: the body's MD5 (md5("Body=hi") computed independently).
    EXPECT_EQ(webhook_dedupe_key(WebhookKind::Sms, form("Body=hi"), "Body=hi"), "sms:d5cba36c44356a2b609307824b59dc98");
    const std::string voice = "CallSid=CA1&CallStatus=completed&SequenceNumber=3";
    EXPECT_EQ(webhook_dedupe_key(WebhookKind::VoiceStatus, form(voice), voice), "voice:CA1:completed:3");
    const std::string conv = "EventType=onDeliveryUpdated&MessageSid=IM1&ConversationSid=CH1&Status=read";
    EXPECT_EQ(webhook_dedupe_key(WebhookKind::Conversations, form(conv), conv), "conv:onDeliveryUpdated:IM1:read");
    const std::string participant = "EventType=onParticipantAdded&ParticipantSid=MB1&ConversationSid=CH1";
    EXPECT_EQ(webhook_dedupe_key(WebhookKind::Conversations, form(participant), participant),
              "conv:onParticipantAdded:MB1");
}

TEST(WebhookEventType, FirstPresent) {
    EXPECT_EQ(webhook_event_type(form("MessageStatus=sent&CallStatus=x")), "sent");
    EXPECT_EQ(webhook_event_type(form("EventType=onMessageAdded&MessageStatus=sent")), "onMessageAdded");
    EXPECT_EQ(webhook_event_type(form("Body=hi")), std::nullopt);
}

TEST(OptKeyword, FamiliesAndAdvancedOptOut) {
    EXPECT_EQ(opt_keyword(" stop\n", ""), OptKeyword::Stop);
    EXPECT_EQ(opt_keyword("Unsubscribe", ""), OptKeyword::Stop);
    EXPECT_EQ(opt_keyword("quit", ""), OptKeyword::Stop);
    EXPECT_EQ(opt_keyword("UNSTOP", ""), OptKeyword::Start);
    EXPECT_EQ(opt_keyword("yes", ""), OptKeyword::Start);
    EXPECT_EQ(opt_keyword("info", ""), OptKeyword::Help);
    EXPECT_EQ(opt_keyword("stop texting me", ""), std::nullopt);  // the whole message, not a word in it
    EXPECT_EQ(opt_keyword("hello", "STOP"), OptKeyword::Stop);    // Twilio's Advanced Opt-Out decides
    EXPECT_EQ(opt_keyword("stop", "start"), OptKeyword::Start);
    EXPECT_EQ(opt_keyword("stop", "OTHER"), std::nullopt);
}

