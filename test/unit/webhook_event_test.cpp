#include "core/webhook_event.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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

namespace {

const char* const kJson = "application/json";

// A JSON webhook body `depth` levels deep in all: its object, then member "z" nested in arrays.
std::string nested(std::size_t depth) {
    return R"({"EventType":"onMessageAdded","z":)" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
}

// The CoreError `parse` throws, or a test failure when it throws none.
CoreError parse_error(const char* content_type, const std::string& body) {
    try {
        WebhookParams::parse(content_type, body);
    } catch (const CoreError& e) {
        return e;
    }
    ADD_FAILURE() << "no CoreError for a body of " << body.size() << " bytes";
    return CoreError("00000", "");
}

}  // namespace

TEST(WebhookParams, JsonDepthIsBoundedAt64) {
    EXPECT_EQ(*WebhookParams::parse(kJson, nested(63)).find("z"), std::string(62, '[') + std::string(62, ']'));
    EXPECT_EQ(*WebhookParams::parse(kJson, nested(64)).find("z"), std::string(63, '[') + std::string(63, ']'));
    const CoreError e = parse_error(kJson, nested(65));
    EXPECT_EQ(e.sqlstate(), "22023");
    EXPECT_NE(std::string(e.what()).find("64"), std::string::npos) << e.what();  // names the limit
    // Objects count as levels too.
    std::string objects = "{";
    for (int i = 0; i < 64; ++i) objects += R"("a":{)";
    EXPECT_EQ(parse_error(kJson, objects + "}" + std::string(64, '}')).sqlstate(), "22023");
}

TEST(WebhookParams, DeepJsonIsRefusedWithoutRecursing) {
    // The issue's body: 200,000 levels, which crashed a backend (recursive dump). Refused, closed or not.
    const std::string deep = "{\"z\":" + std::string(200000, '[') + std::string(200000, ']') + "}";
    EXPECT_EQ(parse_error(kJson, deep).sqlstate(), "22023");
    EXPECT_EQ(parse_error(kJson, "{\"z\":" + std::string(200000, '[')).sqlstate(), "22023");
    EXPECT_EQ(parse_error(kJson, "{\"z\":" + std::string(15000, '{') + "}").sqlstate(), "22023");
}

TEST(WebhookParams, OversizeIdentifiersAreRefused) {
    // Each one becomes a lookup key, an index entry or part of the dedupe key: Twilio's SIDs are 34 characters.
    for (const char* name : {"MessageSid", "SmsSid", "SmsMessageSid", "CallSid", "ConversationSid", "ParticipantSid",
                             "AccountSid", "MessagingServiceSid", "ChatServiceSid", "EventType", "MessageStatus",
                             "SmsStatus", "CallStatus", "Status", "ErrorCode", "SequenceNumber", "OptOutType"}) {
        SCOPED_TRACE(name);
        EXPECT_NO_THROW(form(std::string("Body=x&") + name + "=" + std::string(64, 'a')));
        const CoreError e = parse_error(kForm, std::string("Body=x&") + name + "=" + std::string(65, 'a'));
        EXPECT_EQ(e.sqlstate(), "22023");
        EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("64"), std::string::npos) << e.what();
        EXPECT_EQ(parse_error(kJson, std::string("{\"") + name + "\":\"" + std::string(65, 'a') + "\"}").sqlstate(),
                  "22023");
    }
    for (const char* name : {"To", "From"}) {  // addresses: numbers, whatsapp:, client:, sip:
        SCOPED_TRACE(name);
        EXPECT_NO_THROW(form(std::string("Body=x&") + name + "=" + std::string(256, '1')));
        EXPECT_EQ(parse_error(kForm, std::string("Body=x&") + name + "=" + std::string(257, '1')).sqlstate(),
                  "22023");
    }
    // A 1 MB MessageSid, and a non-string JSON member read as its text.
    EXPECT_EQ(parse_error(kForm, "Body=x&MessageSid=" + std::string(1 << 20, 'S')).sqlstate(), "22023");
    EXPECT_EQ(parse_error(kJson, R"({"EventType":"onMessageAdded","MessageSid":[")" + std::string(40, 'a') +
                                     R"(",")" + std::string(40, 'b') + R"("]})")
                  .sqlstate(),
              "22023");
    // Free text is not an identifier: bounded only by the body.
    EXPECT_EQ(form("Body=" + std::string(100000, 'b')).find("Body")->size(), 100000u);
}

TEST(WebhookParams, JsonStorableAsJsonbOrNot) {
    EXPECT_TRUE(WebhookParams::parse(kJson, R"({"EventType":"x","n":1.5e-16382,"m":[1,2.5,-3e300]})").json_storable());
    EXPECT_TRUE(WebhookParams::parse(kJson, nested(64)).json_storable());
    // numeric keeps at most 16383 digits after the point: nlohmann reads these as 0, jsonb refuses them
    EXPECT_FALSE(WebhookParams::parse(kJson, R"({"EventType":"x","n":1e-16384})").json_storable());
    EXPECT_FALSE(WebhookParams::parse(kJson, "{\"n\":0." + std::string(16384, '0') + "}").json_storable());
    EXPECT_FALSE(WebhookParams::parse(kJson, R"({"EventType":"x\u0000"})").json_storable());
    EXPECT_FALSE(WebhookParams::parse(kJson, R"({"x\u0000":"y"})").json_storable());
    EXPECT_FALSE(WebhookParams::parse(kJson, "\xEF\xBB\xBF{\"EventType\":\"x\"}").json_storable());  // BOM
    EXPECT_FALSE(form("EventType=x").json_storable());  // not JSON: to_json() is what is stored
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

TEST(WebhookDedupe, KeyFitsAnIndexEntry) {
    // Every part at its limit: 264 bytes, stored as the kind and a SHA-256 of the whole key.
    const std::string id(64, 'i');
    const auto conv = [&](char error_code) {
        const std::string body = "EventType=" + id + "&MessageSid=" + id + "&Status=" + id +
                                 "&ErrorCode=" + std::string(64, error_code);
        return webhook_dedupe_key(WebhookKind::Conversations, form(body), body);
    };
    EXPECT_EQ(conv('1').rfind("conv:sha256:", 0), 0u) << conv('1');
    EXPECT_LE(conv('1').size(), 256u);
    EXPECT_EQ(conv('1'), conv('1'));  // the same delivery, the same key
    EXPECT_NE(conv('1'), conv('2'));
    // Below the bound a key stays readable.
    const std::string status = "MessageSid=" + id + "&MessageStatus=" + id;
    EXPECT_EQ(webhook_dedupe_key(WebhookKind::Status, form(status), status), "status:" + id + ":" + id);
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


// An MMS: NumMedia items of MediaUrlN / MediaContentTypeN, the SID taken from the URL; nonsense left out.
TEST(WebhookMedia, MmsItems) {
    const std::string me = "ME0123456789abcdef0123456789abcdef";
    const std::string url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/" + me;
    const WebhookParams p = form("NumMedia=3&MediaUrl0=" + url + "&MediaContentType0=image/jpeg" +
                                 "&MediaUrl1=http://plain.example/x&MediaContentType1=image/png" +
                                 "&MediaUrl2=https://cdn.example/no-sid.gif&MediaContentType2=not+a+type" +
                                 "&MediaUrl3=https://beyond.example/ignored");
    EXPECT_EQ(nlohmann::json::parse(webhook_media_json(p)),
              nlohmann::json::parse(R"([{"url":")" + url + R"(","sid":")" + me +
                                    R"(","content_type":"image/jpeg"},{"url":"https://cdn.example/no-sid.gif"}])"));
    EXPECT_EQ(webhook_media_json(form("NumMedia=0&MediaUrl0=" + url)), "[]");
    EXPECT_EQ(webhook_media_json(form("Body=hi")), "[]");
    EXPECT_EQ(webhook_media_json(form("NumMedia=-1&MediaUrl0=" + url)), "[]");
    // NumMedia=999999 is not a count Twilio sends: no media rather than a guess
    EXPECT_EQ(webhook_media_json(form("NumMedia=999999&MediaUrl0=" + url)), "[]");
    // at most 10 even when NumMedia says more
    std::string many = "NumMedia=12";
    for (int i = 0; i < 12; ++i) many += "&MediaUrl" + std::to_string(i) + "=https://m.example/" + std::to_string(i);
    EXPECT_EQ(nlohmann::json::parse(webhook_media_json(form(many))).size(), 10u);
}

// Conversations: Media is a JSON array of {Sid, ContentType, Filename, Size}; an item without a sound SID is dropped.
TEST(WebhookMedia, ConversationsItems) {
    const std::string media =
        R"([{"Sid":"ME0123456789abcdef0123456789abcdef","ContentType":"image/png","Filename":"cat.png","Size":1234},)"
        R"({"Sid":"not-a-sid","ContentType":"image/png"},)"
        R"({"Sid":"MEffffffffffffffffffffffffffffffff","Size":-5,"Filename":""}])";
    const WebhookParams p = WebhookParams::parse("application/json", nlohmann::json{{"EventType", "onMessageAdded"},
                                                                                     {"Media", media}}.dump());
    EXPECT_EQ(nlohmann::json::parse(webhook_media_json(p)),
              nlohmann::json::parse(R"([{"sid":"ME0123456789abcdef0123456789abcdef","content_type":"image/png",)"
                                    R"("filename":"cat.png","size":1234},{"sid":"MEffffffffffffffffffffffffffffffff"}])"));
    EXPECT_EQ(webhook_media_json(form("EventType=onMessageAdded&Media=%7Bnot+json")), "[]");
    EXPECT_EQ(webhook_media_json(form("EventType=onMessageAdded&Media=%7B%7D")), "[]");
}
