// From a request to its SQL call: query parsing (percent-decoding, limits, repeats) and the parameters per route.
#include <gtest/gtest.h>

#include "relay/api_sql.hpp"

using namespace byo::relay::api;

TEST(ApiSql, ParsesQueries) {
    QueryParams q;
    std::string error;
    ASSERT_TRUE(parse_query("from=2026-01-01&to=2026-01-31&campaign=&x=%41%2B", q, error)) << error;
    EXPECT_EQ(q["from"], "2026-01-01");
    EXPECT_EQ(q["x"], "A+");
    QueryParams r;
    EXPECT_FALSE(parse_query("a=1&a=2", r, error));
    QueryParams s;
    EXPECT_FALSE(parse_query("a=%00", s, error));
    QueryParams t;
    EXPECT_FALSE(parse_query("a=%FF", t, error));
    QueryParams u;
    EXPECT_FALSE(parse_query("a=" + std::string(600, 'x'), u, error));
    std::string many;
    for (int i = 0; i < 17; ++i) many += "p" + std::to_string(i) + "=1&";
    QueryParams v;
    EXPECT_FALSE(parse_query(many, v, error));
}

TEST(ApiSql, PagesAndAnalyticsParams) {
    QueryParams q{{"limit", "10"}, {"before", "0190a1b2-0000-7000-8000-000000000001"}};
    auto b = build_call(Route::ListMessages, "", q, {});
    ASSERT_TRUE(b.ok);
    EXPECT_TRUE(b.call.read_only);
    ASSERT_EQ(b.call.params.size(), 4u);
    EXPECT_EQ(b.call.params[0], "10");
    EXPECT_EQ(b.call.params[1], "0190a1b2-0000-7000-8000-000000000001");  // an id cursor
    EXPECT_FALSE(b.call.params[2].has_value());
    EXPECT_FALSE(b.call.params[3].has_value());
    q["before"] = "2026-01-01T00:00:00Z";
    b = build_call(Route::ListConversationMessages, "cid", q, {});
    EXPECT_FALSE(b.call.params[1].has_value());
    EXPECT_EQ(b.call.params[2], "2026-01-01T00:00:00Z");  // a time cursor
    EXPECT_EQ(b.call.params[3], "cid");
    b = build_call(Route::Analytics, "", {{"to", "2026-01-31"}, {"campaign", ""}}, {});
    ASSERT_EQ(b.call.params.size(), 3u);
    EXPECT_FALSE(b.call.params[0].has_value());  // missing: SQL NULL, and analytics says 22023
    EXPECT_FALSE(b.call.params[2].has_value());  // empty counts as absent
}

TEST(ApiSql, BodiesTakeStringsOrNull) {
    nlohmann::json body = {{"account_sid", "AC1"}, {"auth_token", "bt1:x"}, {"sms_number", nullptr}};
    auto b = build_call(Route::SaveSettings, "", {}, body);
    ASSERT_TRUE(b.ok);
    EXPECT_FALSE(b.call.read_only);
    ASSERT_EQ(b.call.params.size(), 5u);
    EXPECT_EQ(b.call.params[1], "bt1:x");
    EXPECT_FALSE(b.call.params[4].has_value());
    body["account_sid"] = 5;
    b = build_call(Route::SaveSettings, "", {}, body);
    EXPECT_FALSE(b.ok);
    EXPECT_EQ(b.message, "\"account_sid\" must be a string");
    b = build_call(Route::SendConversationMessage, "conv", {}, {{"body", "hi"}});
    ASSERT_TRUE(b.ok);
    EXPECT_EQ(b.call.params[0], "conv");
    EXPECT_EQ(b.call.params[1], "hi");
    ASSERT_EQ(b.call.params.size(), 3u);
    EXPECT_FALSE(b.call.params[2].has_value());  // no media
}

// Media travel as the JSON text of an array of strings; anything else is a 400 before any SQL runs.
TEST(ApiSql, SendsTakeMediaLists) {
    auto b = build_call(Route::SendSms, "", {},
                        {{"to", "+15005550006"}, {"media_urls", {"https://example.com/a.jpg", "https://e.com/b"}}});
    ASSERT_TRUE(b.ok);
    ASSERT_EQ(b.call.params.size(), 3u);
    EXPECT_FALSE(b.call.params[1].has_value());  // media only
    EXPECT_EQ(nlohmann::json::parse(*b.call.params[2]),
              nlohmann::json({"https://example.com/a.jpg", "https://e.com/b"}));
    b = build_call(Route::SendConversationMessage, "conv", {},
                   {{"media_sids", {"ME0123456789abcdef0123456789abcdef"}}});
    ASSERT_TRUE(b.ok);
    EXPECT_EQ(*b.call.params[2], R"(["ME0123456789abcdef0123456789abcdef"])");
    b = build_call(Route::SendSms, "", {}, {{"to", "+15005550006"}, {"media_urls", "https://example.com/a.jpg"}});
    EXPECT_FALSE(b.ok);
    EXPECT_EQ(b.message, "\"media_urls\" must be an array of strings");
    b = build_call(Route::SendConversationMessage, "conv", {}, {{"media_sids", {"ME1", 2}}});
    EXPECT_FALSE(b.ok);
    EXPECT_EQ(b.message, "\"media_sids\" must be an array of strings");
}

TEST(ApiSql, DialerQueue) {
    auto b = build_call(Route::ListActions, "", {{"status", "open,in_progress"}, {"limit", "5"}}, {});
    ASSERT_TRUE(b.ok);
    EXPECT_TRUE(b.call.read_only);
    EXPECT_EQ(b.call.params[0], "open,in_progress");
    EXPECT_EQ(b.call.params[1], "5");
    b = build_call(Route::ListActions, "", {{"status", "open,closed"}}, {});
    EXPECT_FALSE(b.ok);  // a typo would list nothing, silently
    b = build_call(Route::CreateActions, "", {}, {{"kind", "call"}, {"title", "Ann"}, {"priority", 5}});
    ASSERT_TRUE(b.ok);
    ASSERT_EQ(b.call.params.size(), 8u);
    EXPECT_EQ(b.call.params[5], "5");  // a number travels as its text; SQL casts it
    EXPECT_FALSE(b.call.params[2].has_value());
    b = build_call(Route::CreateActions, "", {}, {{"kind", "call"}, {"title", nlohmann::json::object()}});
    EXPECT_FALSE(b.ok);
    b = build_call(Route::CreateActions, "", {},
                   {{"actions", {{{"kind", "call"}, {"title", "A"}}, {{"kind", "text"}, {"title", "B"}}}}});
    ASSERT_TRUE(b.ok);
    ASSERT_EQ(b.call.params.size(), 1u);
    EXPECT_EQ(nlohmann::json::parse(*b.call.params[0]).size(), 2u);
    b = build_call(Route::CreateActions, "", {}, {{"actions", "x"}});
    EXPECT_FALSE(b.ok);
    b = build_call(Route::CompleteAction, "a1", {}, {{"outcome", "busy"}});
    ASSERT_TRUE(b.ok);
    EXPECT_FALSE(b.call.read_only);
    EXPECT_EQ(b.call.params[0], "a1");
    EXPECT_EQ(b.call.params[1], "busy");
    EXPECT_FALSE(b.call.params[2].has_value());
    b = build_call(Route::SkipAction, "a1", {}, nlohmann::json::object());
    ASSERT_TRUE(b.ok);
    EXPECT_EQ(b.call.params.size(), 2u);
}

TEST(ApiSql, DialerCallsSettingsDoNotCall) {
    auto b = build_call(Route::Dial, "", {}, {{"lead_phone", "+15005550100"}, {"time_zone", "America/Chicago"}});
    ASSERT_TRUE(b.ok);
    ASSERT_EQ(b.call.params.size(), 4u);
    EXPECT_FALSE(b.call.params[0].has_value());
    EXPECT_EQ(b.call.params[1], "+15005550100");
    b = build_call(Route::GetCall, "c1", {}, {});
    ASSERT_TRUE(b.ok);
    ASSERT_NE(b.call.not_found, nullptr);  // an id that is not the user's is a 404
    b = build_call(Route::SaveDialerSettings, "", {}, {{"auto_advance", false}, {"calling_hours_start", "09:00"}});
    ASSERT_TRUE(b.ok);
    EXPECT_EQ(b.call.params[4], "false");
    EXPECT_EQ(b.call.params[1], "09:00");
    b = build_call(Route::SaveDialerSettings, "", {}, {{"auto_advance", {true}}});
    EXPECT_FALSE(b.ok);
    b = build_call(Route::RemoveDoNotCall, "", {}, {});
    EXPECT_FALSE(b.ok);  // which number?
    b = build_call(Route::RemoveDoNotCall, "", {{"phone", "+15005550100"}}, {});
    ASSERT_TRUE(b.ok);
    EXPECT_FALSE(b.call.read_only);
    b = build_call(Route::ListDoNotCall, "", {{"phone", "+15005550100"}}, {});
    ASSERT_TRUE(b.ok);
    EXPECT_TRUE(b.call.read_only);
}
