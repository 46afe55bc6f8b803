// The click-to-call TwiML: the exact document Twilio runs when the agent answers, and the escaping that keeps a
// value from breaking out of its attribute or element.
#include <gtest/gtest.h>

#include "core/core_error.hpp"
#include "core/dial_twiml.hpp"

using namespace byo;

TEST(DialTwiml, BridgesToTheLeadWithTheCallerId) {
    EXPECT_EQ(bridge_twiml("+15005550006", "+15005550100", "https://relay.example.test/twilio/k1/voice_status"),
              "<Response><Dial callerId=\"+15005550006\"><Number statusCallbackEvent=\"initiated ringing answered "
              "completed\" statusCallback=\"https://relay.example.test/twilio/k1/voice_status\">+15005550100"
              "</Number></Dial></Response>");
}

TEST(DialTwiml, NoStatusCallbackLeavesBothAttributesOut) {
    EXPECT_EQ(bridge_twiml("+15005550006", "+15005550100", ""),
              "<Response><Dial callerId=\"+15005550006\"><Number>+15005550100</Number></Dial></Response>");
}

TEST(DialTwiml, EscapesEveryValue) {
    EXPECT_EQ(xml_escape(R"(a&b<c>d"e'f)"), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
    EXPECT_EQ(xml_escape("tab\tnl\ncr\r ünï"), "tab\tnl\ncr\r ünï");
    // A query string in the callback URL keeps its meaning; a quote cannot end the attribute.
    EXPECT_EQ(bridge_twiml("+1\"/><Hangup/>", "<Play>x</Play>", "https://h/cb?a=1&b=\"2\""),
              "<Response><Dial callerId=\"+1&quot;/&gt;&lt;Hangup/&gt;\"><Number statusCallbackEvent=\"initiated "
              "ringing answered completed\" statusCallback=\"https://h/cb?a=1&amp;b=&quot;2&quot;\">&lt;Play&gt;x"
              "&lt;/Play&gt;</Number></Dial></Response>");
}

TEST(DialTwiml, RefusesWhatXmlCannotCarryAndMissingNumbers) {
    EXPECT_THROW(xml_escape(std::string("a\0b", 3)), CoreError);
    EXPECT_THROW(xml_escape("bell\x07"), CoreError);
    EXPECT_THROW(bridge_twiml("", "+15005550100", ""), CoreError);
    EXPECT_THROW(bridge_twiml("+15005550006", "", ""), CoreError);
    try {
        bridge_twiml("+15005550006", "+1\x1b", "");
        FAIL() << "no error";
    } catch (const CoreError& e) {
        EXPECT_EQ(e.sqlstate(), "22023");
    }
}
