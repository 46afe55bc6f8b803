#include <gtest/gtest.h>

#include "core/core_error.hpp"
#include "core/twilio_outbound.hpp"

using namespace byo;
using nlohmann::json;
using Kind = OutboundCall::Kind;

namespace {

const TwilioEndpoints kEndpoints{"https://api.twilio.com/", "https://conversations.twilio.com",
                                 "https://messaging.twilio.com"};
const std::string kIS = "IS00000000000000000000000000000001";
const std::string kCH = "CH0123456789abcdef0123456789abcdef";
const std::string kConv = "https://conversations.twilio.com/v1/Services/" + kIS + "/Conversations";
const char* const kWebhook = "X-Twilio-Webhook-Enabled: true";

OutboundCall base(Kind kind, const Secret& token) {
    OutboundCall c;
    c.kind = kind;
    c.account_sid = "AC1";
    c.auth_token = &token;
    c.conversations_service_sid = kIS;
    c.messaging_service_sid = "MG1";
    c.conversation_sid = kCH;
    return c;
}

bool has_webhook_header(const HttpRequest& r) {
    return r.headers.size() == 1 && r.headers[0] == kWebhook;
}

HttpOutcome answer(long status, const std::string& body) {
    HttpOutcome o;
    o.status = status;
    o.body = body;
    o.request_sent = true;
    return o;
}

HttpOutcome failed(TransportError e, bool sent) {
    HttpOutcome o;
    o.error = e;
    o.error_text = "boom";
    o.request_sent = sent;
    return o;
}

}  // namespace

TEST(Outbound, CreateConversation) {
    Secret token("tok");
    OutboundCall c = base(Kind::CreateConversation, token);
    c.friendly_name = "Ann";
    c.unique_name = "byo:contact:1";
    c.attributes_json = R"({"contact":"1"})";
    HttpRequest r = build_outbound_request(kEndpoints, c);
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.url, kConv);
    EXPECT_EQ(r.basic_user, "AC1");
    EXPECT_EQ(r.basic_password, &token);
    EXPECT_EQ(r.form, (FormParams{{"FriendlyName", "Ann"},
                                  {"UniqueName", "byo:contact:1"},
                                  {"Attributes", R"({"contact":"1"})"},
                                  {"MessagingServiceSid", "MG1"}}));
    EXPECT_TRUE(has_webhook_header(r));
    c.attributes_json.clear();
    c.messaging_service_sid.clear();
    EXPECT_EQ(build_outbound_request(kEndpoints, c).form,
              (FormParams{{"FriendlyName", "Ann"}, {"UniqueName", "byo:contact:1"}}));
}

TEST(Outbound, AddParticipantAndMessage) {
    Secret token("tok");
    OutboundCall c = base(Kind::AddParticipant, token);
    c.address = "+15005550006";
    c.proxy_address = "+15005550001";
    HttpRequest r = build_outbound_request(kEndpoints, c);
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.url, kConv + "/" + kCH + "/Participants");
    EXPECT_EQ(r.form, (FormParams{{"MessagingBinding.Address", "+15005550006"},
                                  {"MessagingBinding.ProxyAddress", "+15005550001"}}));
    EXPECT_TRUE(has_webhook_header(r));

    c = base(Kind::SendConversationMessage, token);
    c.author = "agent";
    c.body = "Hello & bye";
    c.attributes_json = R"({"byo_message_id":"u-1"})";
    r = build_outbound_request(kEndpoints, c);
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.url, kConv + "/" + kCH + "/Messages");
    EXPECT_EQ(r.form, (FormParams{{"Author", "agent"}, {"Body", "Hello & bye"},
                                  {"Attributes", R"({"byo_message_id":"u-1"})"}}));
    EXPECT_TRUE(has_webhook_header(r));
}

TEST(Outbound, SendSms) {
    Secret token("tok");
    OutboundCall c = base(Kind::SendSms, token);
    c.to = "+15005550006";
    c.body = "Hi";
    c.status_callback = "https://example.com/cb?x=1";
    HttpRequest r = build_outbound_request(kEndpoints, c);
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.url, "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json");
    EXPECT_EQ(r.form, (FormParams{{"To", "+15005550006"}, {"MessagingServiceSid", "MG1"}, {"Body", "Hi"},
                                  {"StatusCallback", "https://example.com/cb?x=1"}}));
    EXPECT_TRUE(r.headers.empty());
    c.status_callback.clear();
    EXPECT_EQ(build_outbound_request(kEndpoints, c).form.size(), 3u);
    c.messaging_service_sid.clear();
    EXPECT_THROW(build_outbound_request(kEndpoints, c), CoreError);  // neither a service nor a sender
}

// Without a Messaging service the user's own number sends (From); with one, the service picks and From stays out.
TEST(Outbound, SendSmsFromNumber) {
    Secret token("tok");
    OutboundCall c = base(Kind::SendSms, token);
    c.to = "+15005550006";
    c.from = "+15005550001";
    c.body = "Hi";
    EXPECT_EQ(build_outbound_request(kEndpoints, c).form,
              (FormParams{{"To", "+15005550006"}, {"MessagingServiceSid", "MG1"}, {"Body", "Hi"}}));
    c.messaging_service_sid.clear();
    EXPECT_EQ(build_outbound_request(kEndpoints, c).form,
              (FormParams{{"To", "+15005550006"}, {"From", "+15005550001"}, {"Body", "Hi"}}));
}

// MMS: one MediaUrl per URL, in order, after the body; a media-only message sends no Body at all.
TEST(Outbound, SendSmsWithMedia) {
    Secret token("tok");
    OutboundCall c = base(Kind::SendSms, token);
    c.to = "+15005550006";
    c.body = "Look";
    c.media_urls = {"https://example.com/a.jpg", "https://example.com/b.png?sig=x&y=1"};
    EXPECT_EQ(build_outbound_request(kEndpoints, c).form,
              (FormParams{{"To", "+15005550006"}, {"MessagingServiceSid", "MG1"}, {"Body", "Look"},
                          {"MediaUrl", "https://example.com/a.jpg"},
                          {"MediaUrl", "https://example.com/b.png?sig=x&y=1"}}));
    c.body.clear();
    EXPECT_EQ(build_outbound_request(kEndpoints, c).form,
              (FormParams{{"To", "+15005550006"}, {"MessagingServiceSid", "MG1"},
                          {"MediaUrl", "https://example.com/a.jpg"},
                          {"MediaUrl", "https://example.com/b.png?sig=x&y=1"}}));
    c.media_urls.clear();  // without media an empty body is still sent (Twilio answers for it)
    EXPECT_EQ(build_outbound_request(kEndpoints, c).form,
              (FormParams{{"To", "+15005550006"}, {"MessagingServiceSid", "MG1"}, {"Body", ""}}));
}

// Conversations: the media the app uploaded goes as MediaSid; with it, an empty body is left out.
TEST(Outbound, SendConversationMessageWithMedia) {
    Secret token("tok");
    OutboundCall c = base(Kind::SendConversationMessage, token);
    c.body = "Menu";
    c.media_sid = "ME0123456789abcdef0123456789abcdef";
    c.attributes_json = R"({"byo_message_id":"u-1"})";
    HttpRequest r = build_outbound_request(kEndpoints, c);
    EXPECT_EQ(r.url, kConv + "/" + kCH + "/Messages");
    EXPECT_EQ(r.form, (FormParams{{"Body", "Menu"}, {"MediaSid", "ME0123456789abcdef0123456789abcdef"},
                                  {"Attributes", R"({"byo_message_id":"u-1"})"}}));
    c.body.clear();
    EXPECT_EQ(build_outbound_request(kEndpoints, c).form,
              (FormParams{{"MediaSid", "ME0123456789abcdef0123456789abcdef"},
                          {"Attributes", R"({"byo_message_id":"u-1"})"}}));
}

// Click-to-call: To is the agent, From the caller id, the TwiML inline; StatusCallbackEvent once per event.
TEST(Outbound, CreateCall) {
    Secret token("tok");
    OutboundCall c = base(Kind::CreateCall, token);
    c.to = "+15005550200";
    c.from = "+15005550006";
    c.twiml = "<Response><Dial callerId=\"+15005550006\"><Number>+15005550100</Number></Dial></Response>";
    c.status_callback = "https://relay.example.test/twilio/k1/voice_status";
    HttpRequest r = build_outbound_request(kEndpoints, c);
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.url, "https://api.twilio.com/2010-04-01/Accounts/AC1/Calls.json");
    EXPECT_EQ(r.basic_user, "AC1");
    EXPECT_EQ(r.basic_password, &token);
    EXPECT_EQ(r.form, (FormParams{{"To", "+15005550200"}, {"From", "+15005550006"}, {"Twiml", c.twiml},
                                  {"StatusCallback", "https://relay.example.test/twilio/k1/voice_status"},
                                  {"StatusCallbackEvent", "initiated"}, {"StatusCallbackEvent", "ringing"},
                                  {"StatusCallbackEvent", "answered"}, {"StatusCallbackEvent", "completed"}}));
    EXPECT_EQ(encode_form(r.form).substr(0, 64),
              "To=%2B15005550200&From=%2B15005550006&Twiml=%3CResponse%3E%3CDia");
    EXPECT_TRUE(r.headers.empty());
    c.status_callback.clear();
    EXPECT_EQ(build_outbound_request(kEndpoints, c).form.size(), 3u);
    for (std::string OutboundCall::*field : {&OutboundCall::to, &OutboundCall::from, &OutboundCall::twiml}) {
        OutboundCall missing = c;
        (missing.*field).clear();
        EXPECT_THROW(build_outbound_request(kEndpoints, missing), CoreError);
    }
}

TEST(Outbound, Reads) {
    Secret token("tok");
    OutboundCall c = base(Kind::FetchConversation, token);
    HttpRequest r = build_outbound_request(kEndpoints, c);
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.url, kConv + "/" + kCH);
    EXPECT_TRUE(r.form.empty());
    EXPECT_TRUE(r.headers.empty());
    c.conversation_sid = "byo contact/1";
    EXPECT_EQ(build_outbound_request(kEndpoints, c).url, kConv + "/byo%20contact%2F1");

    c = base(Kind::ListConversationMessages, token);
    r = build_outbound_request(kEndpoints, c);
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.url, kConv + "/" + kCH + "/Messages?Order=desc&PageSize=50");

    c = base(Kind::ListMessages, token);
    c.list_to = "+15005550006";
    c.list_from = "+15005550001";
    r = build_outbound_request(kEndpoints, c);
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.url, "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json"
                     "?To=%2B15005550006&From=%2B15005550001&PageSize=50");
    c.list_from.clear();
    EXPECT_EQ(build_outbound_request(kEndpoints, c).url,
              "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?To=%2B15005550006&PageSize=50");

    c = base(Kind::ListCalls, token);
    c.list_to = "+15005550200";
    c.list_from = "+15005550006";
    r = build_outbound_request(kEndpoints, c);
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.url, "https://api.twilio.com/2010-04-01/Accounts/AC1/Calls.json"
                     "?To=%2B15005550200&From=%2B15005550006&PageSize=50");

    // A later page is read from Twilio's link.
    c = base(Kind::ListMessages, token);
    c.list_to = "+15005550006";
    EXPECT_EQ(build_outbound_request(kEndpoints, c).url,
              "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?To=%2B15005550006&PageSize=50");
    c.page_uri = "/2010-04-01/Accounts/AC1/Messages.json?To=%2B15005550006&PageSize=50&Page=1&PageToken=PA1";
    EXPECT_EQ(build_outbound_request(kEndpoints, c).url, "https://api.twilio.com" + c.page_uri);
    c.page_uri = "/2010-04-01/Accounts/AC2/Messages.json?To=%2B15005550006&Page=1";
    EXPECT_THROW(build_outbound_request(kEndpoints, c), CoreError);
    c = base(Kind::ListCalls, token);
    c.list_to = "+15005550200";
    EXPECT_EQ(build_outbound_request(kEndpoints, c).url,
              "https://api.twilio.com/2010-04-01/Accounts/AC1/Calls.json?To=%2B15005550200&PageSize=50");
    c.page_uri = "/2010-04-01/Accounts/AC1/Calls.json?To=%2B15005550200&Page=1";
    EXPECT_EQ(build_outbound_request(kEndpoints, c).url, "https://api.twilio.com" + c.page_uri);
    c.page_uri = "/2010-04-01/Accounts/AC1/Messages.json?To=%2B15005550200&Page=1";
    EXPECT_THROW(build_outbound_request(kEndpoints, c), CoreError);

    c = base(Kind::ListConversationMessages, token);
    c.conversation_sid.clear();
    EXPECT_THROW(build_outbound_request(kEndpoints, c), CoreError);
    c.conversation_sid = kCH;
    c.account_sid.clear();
    EXPECT_THROW(build_outbound_request(kEndpoints, c), CoreError);
}

TEST(Outbound, ClassifiesSuccess) {
    OutboundResult r = classify_outbound(
        answer(201, R"({"sid":"SM1","status":"accepted","num_segments":"2","to":"+1"})"));
    EXPECT_EQ(r.verdict, Verdict::Success);
    EXPECT_EQ(r.http_status, 201);
    EXPECT_EQ(r.sid, "SM1");
    EXPECT_EQ(r.status, "accepted");
    EXPECT_EQ(r.num_segments, 2);
    EXPECT_EQ(r.body["to"], "+1");

    r = classify_outbound(answer(201, R"({"sid":"CH1","state":"active","num_segments":3})"));
    EXPECT_EQ(r.verdict, Verdict::Success);
    EXPECT_EQ(r.status, "active");
    EXPECT_EQ(r.num_segments, 3);

    r = classify_outbound(answer(200, "<html>ok</html>"));
    EXPECT_EQ(r.verdict, Verdict::Ambiguous);
    EXPECT_TRUE(r.body.is_null());
}

TEST(Outbound, ClassifiesErrors) {
    HttpOutcome o = answer(429, R"({"code":20429,"message":"Too Many Requests","status":429})");
    o.retry_after_ms = 3000;
    OutboundResult r = classify_outbound(o);
    EXPECT_EQ(r.verdict, Verdict::Retry);
    EXPECT_EQ(r.error_code, 20429);
    EXPECT_EQ(r.retry_after_ms, 3000);

    EXPECT_EQ(classify_outbound(answer(503, "")).verdict, Verdict::Retry);
    for (long s : {500L, 502L, 504L}) EXPECT_EQ(classify_outbound(answer(s, "{}")).verdict, Verdict::Ambiguous);

    r = classify_outbound(answer(400, R"({"code":21610,"message":"Attempt to send to unsubscribed recipient"})"));
    EXPECT_EQ(r.verdict, Verdict::Final);
    EXPECT_EQ(r.error_code, 21610);
    EXPECT_EQ(r.error_message, "Attempt to send to unsubscribed recipient");
    EXPECT_EQ(r.http_status, 400);
    r = classify_outbound(answer(404, "not json"));
    EXPECT_EQ(r.verdict, Verdict::Final);
    EXPECT_EQ(r.error_code, 0);
    EXPECT_EQ(r.error_message, "HTTP 404");
}

TEST(Outbound, ClassifiesTransport) {
    EXPECT_EQ(classify_outbound(failed(TransportError::Connect, false)).verdict, Verdict::Retry);
    EXPECT_EQ(classify_outbound(failed(TransportError::Tls, false)).verdict, Verdict::Retry);
    EXPECT_EQ(classify_outbound(failed(TransportError::Other, false)).verdict, Verdict::Retry);
    EXPECT_EQ(classify_outbound(failed(TransportError::Timeout, false)).verdict, Verdict::Retry);
    EXPECT_EQ(classify_outbound(failed(TransportError::Timeout, true)).verdict, Verdict::Ambiguous);
    EXPECT_EQ(classify_outbound(failed(TransportError::Other, true)).verdict, Verdict::Ambiguous);
    EXPECT_EQ(classify_outbound(failed(TransportError::Aborted, false)).verdict, Verdict::Retry);
    EXPECT_EQ(classify_outbound(failed(TransportError::Aborted, true)).verdict, Verdict::Ambiguous);
    EXPECT_EQ(classify_outbound(failed(TransportError::Timeout, true)).error_message, "boom");
}

TEST(Outbound, ConversationSidFrom50416) {
    EXPECT_EQ(conversation_sid_from_50416("A binding for this participant and proxy address already exists in "
                                          "Conversation CH0123456789abcdef0123456789ABCDEF"),
              "CH0123456789abcdef0123456789ABCDEF");
    EXPECT_EQ(conversation_sid_from_50416("exists in Conversation CH0123456789abcdef0123456789abcdef."),
              "CH0123456789abcdef0123456789abcdef");
    EXPECT_EQ(conversation_sid_from_50416("CHAT CH0123 too short, XCH0123456789abcdef0123456789abcdef, "
                                          "CH0123456789abcdef0123456789abcdef0 too long"),
              "");
    EXPECT_EQ(conversation_sid_from_50416(""), "");
}

TEST(Outbound, FindByAttribute) {
    json list = {{"messages",
                  {{{"sid", "IM1"}, {"attributes", "{}"}},
                   {{"sid", "IM2"}, {"attributes", "not json"}},
                   {{"sid", "IM3"}, {"attributes", R"({"byo_message_id":"u-2"})"}},
                   {{"sid", "IM4"}, {"attributes", R"({"byo_message_id":"u-1"})"}},
                   {{"sid", "IM5"}, {"attributes", {{"byo_message_id", "u-5"}}}}}}};
    const json* hit = find_by_attribute(list, "messages", "byo_message_id", "u-1");
    ASSERT_NE(hit, nullptr);
    EXPECT_EQ((*hit)["sid"], "IM4");
    ASSERT_NE(find_by_attribute(list, "messages", "byo_message_id", "u-5"), nullptr);
    EXPECT_EQ(find_by_attribute(list, "messages", "byo_message_id", "u-9"), nullptr);
    EXPECT_EQ(find_by_attribute(list, "conversations", "byo_message_id", "u-1"), nullptr);
    EXPECT_EQ(find_by_attribute(json("x"), "messages", "byo_message_id", "u-1"), nullptr);
}

TEST(Outbound, FindSms) {
    json list = {{"messages",
                  {{{"sid", "SM3"}, {"to", "+1"}, {"body", "hi"}, {"date_created", "Wed, 18 Aug 2010 20:01:40 +0000"}},
                   {{"sid", "SM2"}, {"to", "+2"}, {"body", "hi"}, {"date_created", "Wed, 18 Aug 2010 20:01:40 +0000"}},
                   {{"sid", "SM1"}, {"to", "+1"}, {"body", "hi"}, {"date_created", "Tue, 17 Aug 2010 10:00:00 +0000"}}}}};
    auto sid = [&](const std::string& to, const std::string& body, const std::string& not_before) {
        const json* m = find_sms(list, to, body, not_before);
        return m ? (*m)["sid"].get<std::string>() : std::string("none");
    };
    EXPECT_EQ(sid("+1", "hi", "2010-08-18T20:01:40Z"), "SM3");
    EXPECT_EQ(sid("+1", "hi", "2010-08-18 20:01:40.999+00"), "SM3");  // truncated to Twilio's second
    EXPECT_EQ(sid("+1", "hi", "2010-08-18T20:01:41Z"), "none");
    EXPECT_EQ(sid("+1", "hi", "2010-08-18T22:01:40+02:00"), "SM3");
    EXPECT_EQ(sid("+1", "hi", "2010-08-18T22:01:41+0200"), "none");
    EXPECT_EQ(sid("+2", "hi", "2010-08-18T00:00:00Z"), "SM2");
    EXPECT_EQ(sid("+1", "ho", ""), "none");
    EXPECT_EQ(sid("+1", "hi", "not a date"), "SM3");  // date check skipped

    list["messages"][0]["date_created"] = "garbage";  // unreadable date on the item: not filtered out
    EXPECT_EQ(sid("+1", "hi", "2030-01-01T00:00:00Z"), "SM3");
    list["messages"][0]["date_created"] = "Sat, 1 Jan 2000 00:00:00 GMT";
    EXPECT_EQ(sid("+1", "hi", "1999-12-31T23:59:59Z"), "SM3");
    EXPECT_EQ(sid("+1", "hi", "2000-01-01T00:00:01Z"), "SM1");  // the older one still qualifies
    list["messages"][0]["date_created"] = "Tue, 29 Feb 2028 23:00:00 -0100";
    EXPECT_EQ(sid("+1", "hi", "2028-03-01T00:00:00Z"), "SM3");
    EXPECT_EQ(sid("+1", "hi", "2028-03-01T00:00:01Z"), "none");
}

// A lost create is found by To and From among the calls created since the job (less the slack), newest first,
// skipping <Dial> children and calls already recorded on other rows.
TEST(Outbound, FindCall) {
    const auto call = [](const char* sid, const char* to, const char* from, const char* date, json parent = nullptr) {
        return json{{"sid", sid}, {"to", to}, {"from", from}, {"status", "ringing"}, {"date_created", date},
                    {"parent_call_sid", parent}};
    };
    json list = {{"calls",
                  {call("CA4", "+15005550100", "+15005550006", "Wed, 18 Aug 2010 20:01:45 +0000", "CA3"),
                   call("CA3", "+2", "+15005550006", "Wed, 18 Aug 2010 20:01:41 +0000"),
                   call("CA2", "+2", "+15005550006", "Wed, 18 Aug 2010 20:01:40 +0000"),
                   call("CA1", "+2", "+15005550006", "Tue, 17 Aug 2010 10:00:00 +0000")}}};
    auto sid = [&](const std::string& to, const std::string& from, const std::string& not_before, long slack,
                   const std::vector<std::string>& known) {
        const json* c = find_call(list, to, from, not_before, slack, known);
        return c ? (*c)["sid"].get<std::string>() : std::string("none");
    };
    EXPECT_EQ(sid("+2", "+15005550006", "2010-08-18T20:01:40Z", 0, {}), "CA3");  // the newest
    EXPECT_EQ(sid("+2", "+15005550006", "2010-08-18T20:01:40Z", 0, {"CA3"}), "CA2");  // CA3 is another row's
    EXPECT_EQ(sid("+2", "+15005550006", "2010-08-18T20:01:40Z", 0, {"CA3", "CA2"}), "none");  // CA1 too old
    EXPECT_EQ(sid("+2", "+15005550006", "2010-08-18T20:01:42Z", 0, {}), "none");
    EXPECT_EQ(sid("+2", "+15005550006", "2010-08-18T20:01:42Z", 2, {}), "CA3");  // Twilio's clock a bit behind
    EXPECT_EQ(sid("+2", "+15005550009", "2010-08-18T00:00:00Z", 0, {}), "none");  // another caller id
    EXPECT_EQ(sid("+15005550100", "+15005550006", "2010-08-18T00:00:00Z", 0, {}), "none");  // a child leg
    EXPECT_EQ(sid("+2", "+15005550006", "not a date", 0, {"CA3", "CA2"}), "CA1");  // no date check
    EXPECT_EQ(find_call(json::array(), "+2", "+15005550006", "", 0, {}), nullptr);
    EXPECT_EQ(find_call(json{{"calls", "x"}}, "+2", "+15005550006", "", 0, {}), nullptr);
}

// Which links a lookup follows: a page of this account's list, nothing else.
TEST(Outbound, ListPagesAndSince) {
    const std::string ac = "AC00000000000000000000000000000001";
    const std::string to = "+15005550006", q = "To=%2B15005550006";
    const auto page = [&ac](const char* resource, const std::string& query) {
        return "/2010-04-01/Accounts/" + ac + "/" + resource + ".json?" + query;
    };
    EXPECT_TRUE(is_list_page(page("Messages", q + "&Page=2&PageToken=PA9"), ac, "Messages", to));
    EXPECT_TRUE(is_list_page(page("Messages", "PageSize=50&" + q), ac, "Messages", to));
    EXPECT_TRUE(is_list_page(page("Calls", q + "&From=%2B1&Page=1"), ac, "Calls", to));
    EXPECT_FALSE(is_list_page(page("Calls", q + "&Page=1"), ac, "Messages", to));
    EXPECT_FALSE(is_list_page(page("Messages", "Page=1"), ac, "Messages", to));            // not filtered by To
    EXPECT_FALSE(is_list_page(page("Messages", q + "7&Page=1"), ac, "Messages", to));      // another number
    EXPECT_FALSE(is_list_page(page("Messages", "X" + q + "&Page=1"), ac, "Messages", to));  // another filter
    EXPECT_FALSE(is_list_page("/2010-04-01/Accounts/" + ac + "/Messages.json", ac, "Messages", to));
    EXPECT_FALSE(is_list_page("//evil.example" + page("Messages", q), ac, "Messages", to));
    EXPECT_FALSE(is_list_page(page("Messages", q + "&Page=1#frag"), ac, "Messages", to));
    EXPECT_FALSE(is_list_page(page("Messages", q + "&Page=1\n"), ac, "Messages", to));
    EXPECT_FALSE(is_list_page("", ac, "Messages", to));
    EXPECT_FALSE(is_list_page(page("Messages", q), "", "Messages", to));
    EXPECT_FALSE(is_list_page(page("Messages", q), ac, "Messages", ""));

    EXPECT_EQ(next_page_uri(json{{"next_page_uri", "/x?Page=1"}}), "/x?Page=1");
    EXPECT_EQ(next_page_uri(json{{"next_page_uri", nullptr}}), "");
    EXPECT_EQ(next_page_uri(json::array()), "");
}
