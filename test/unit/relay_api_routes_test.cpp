// Route matching: every contract route, HEAD as GET, 405 with Allow, 404, the {id} segment, and the CORS policy.
#include <gtest/gtest.h>

#include "relay/api_cors.hpp"
#include "relay/api_routes.hpp"

using namespace byo::relay::api;

TEST(ApiRoutes, EveryContractRoute) {
    const struct { const char* method; const char* path; Route route; } cases[] = {
        {"GET", "/api/twilio/sealing-key", Route::SealingKey},
        {"GET", "/api/twilio/settings", Route::GetSettings},
        {"POST", "/api/twilio/settings", Route::SaveSettings},
        {"DELETE", "/api/twilio/settings", Route::Disconnect},
        {"GET", "/api/twilio/status", Route::Status},
        {"POST", "/api/twilio/status/verify", Route::Verify},
        {"GET", "/api/twilio/conversations", Route::ListConversations},
        {"POST", "/api/twilio/conversations", Route::CreateConversation},
        {"GET", "/api/twilio/conversations/abc/messages", Route::ListConversationMessages},
        {"POST", "/api/twilio/conversations/abc/messages", Route::SendConversationMessage},
        {"GET", "/api/twilio/messages", Route::ListMessages},
        {"POST", "/api/twilio/sms", Route::SendSms},
        {"GET", "/api/twilio/campaigns", Route::Campaigns},
        {"GET", "/api/twilio/analytics", Route::Analytics},
        {"HEAD", "/api/twilio/status", Route::Status},
        {"GET", "/api/twilio/actions", Route::ListActions},
        {"POST", "/api/twilio/actions", Route::CreateActions},
        {"GET", "/api/twilio/actions/current", Route::CurrentAction},
        {"POST", "/api/twilio/actions/next", Route::NextAction},
        {"POST", "/api/twilio/actions/abc/complete", Route::CompleteAction},
        {"POST", "/api/twilio/actions/abc/skip", Route::SkipAction},
        {"POST", "/api/twilio/actions/abc/release", Route::ReleaseAction},
        {"POST", "/api/twilio/calls", Route::Dial},
        {"POST", "/api/twilio/voice/dial", Route::Dial},
        {"GET", "/api/twilio/calls/abc", Route::GetCall},
        {"GET", "/api/twilio/dialer/settings", Route::GetDialerSettings},
        {"PUT", "/api/twilio/dialer/settings", Route::SaveDialerSettings},
        {"GET", "/api/twilio/do-not-call", Route::ListDoNotCall},
        {"POST", "/api/twilio/do-not-call", Route::AddDoNotCall},
        {"DELETE", "/api/twilio/do-not-call", Route::RemoveDoNotCall},
        {"GET", "/api/twilio/messages/abc/media/0", Route::MediaLink},
    };
    for (const auto& c : cases) {
        const auto m = match_route(c.method, c.path);
        EXPECT_EQ(m.kind, RouteMatch::Found) << c.method << ' ' << c.path;
        EXPECT_EQ(m.route, c.route) << c.method << ' ' << c.path;
    }
    EXPECT_EQ(match_route("GET", "/api/twilio/conversations/abc/messages").id, "abc");
    EXPECT_EQ(match_route("POST", "/api/twilio/actions/a1/complete").id, "a1");
    EXPECT_EQ(match_route("GET", "/api/twilio/calls/c1").id, "c1");
    const RouteMatch media = match_route("GET", "/api/twilio/messages/m1/media/12");
    EXPECT_EQ(media.id, "m1");
    EXPECT_EQ(media.n, "12");
    // {n} is a position: 1-2 digits, nothing else
    for (const char* p : {"/api/twilio/messages/m1/media/", "/api/twilio/messages/m1/media/123",
                          "/api/twilio/messages/m1/media/x", "/api/twilio/messages/m1/media/-1",
                          "/api/twilio/messages/a/b/media/0", "/api/twilio/messages//media/0"})
        EXPECT_EQ(match_route("GET", p).kind, RouteMatch::NotFound) << p;
    EXPECT_EQ(match_route("POST", "/api/twilio/messages/m1/media/0").kind, RouteMatch::WrongMethod);
}

TEST(ApiRoutes, DialerPathsDoNotOverlap) {
    // "next" and "current" are routes, not ids; an id route needs its verb.
    EXPECT_EQ(match_route("GET", "/api/twilio/actions/next").kind, RouteMatch::WrongMethod);
    EXPECT_EQ(match_route("GET", "/api/twilio/actions/next").allow, "POST");
    EXPECT_EQ(match_route("POST", "/api/twilio/actions/current").allow, "GET");
    EXPECT_EQ(match_route("POST", "/api/twilio/actions/abc").kind, RouteMatch::NotFound);
    EXPECT_EQ(match_route("GET", "/api/twilio/calls/a/b").kind, RouteMatch::NotFound);
    EXPECT_EQ(match_route("PATCH", "/api/twilio/dialer/settings").allow, "GET, PUT");
    EXPECT_EQ(match_route("PUT", "/api/twilio/do-not-call").allow, "GET, POST, DELETE");
    EXPECT_EQ(takes_body(Route::SkipAction), Body::Optional);
    EXPECT_EQ(takes_body(Route::Dial), Body::Required);
    EXPECT_EQ(takes_body(Route::NextAction), Body::None);
}

TEST(ApiRoutes, WrongMethodListsAllowed) {
    auto m = match_route("PUT", "/api/twilio/settings");
    EXPECT_EQ(m.kind, RouteMatch::WrongMethod);
    EXPECT_EQ(m.allow, "GET, POST, DELETE");
    m = match_route("GET", "/api/twilio/sms");
    EXPECT_EQ(m.kind, RouteMatch::WrongMethod);
    EXPECT_EQ(m.allow, "POST");
    m = match_route("OPTIONS", "/api/twilio/sms");
    EXPECT_EQ(m.kind, RouteMatch::Found);  // a preflight
    EXPECT_EQ(m.allow, "POST");
}

TEST(ApiRoutes, UnknownPathsAre404) {
    for (const char* p : {"/api/twilio/", "/api/twilio", "/api/twilio/settings/", "/api/twilio/nope",
                          "/api/twilio/conversations//messages", "/api/twilio/conversations/a/b/messages",
                          "/api/other/status", "/twilio/status"})
        EXPECT_EQ(match_route("GET", p).kind, RouteMatch::NotFound) << p;
    const std::string long_id = "/api/twilio/conversations/" + std::string(65, 'a') + "/messages";
    EXPECT_EQ(match_route("GET", long_id).kind, RouteMatch::NotFound);
}

TEST(ApiRoutes, PreferRollback) {
    EXPECT_TRUE(prefers_rollback("tx=rollback"));
    EXPECT_TRUE(prefers_rollback("return=minimal, TX = Rollback"));
    EXPECT_FALSE(prefers_rollback("tx=commit"));
    EXPECT_FALSE(prefers_rollback("tx=rollbackx"));
    EXPECT_FALSE(prefers_rollback(""));
}

TEST(ApiCors, OnlyListedOrigins) {
    const CorsPolicy p(" https://app.example.com/, http://localhost:3000 ");
    EXPECT_TRUE(p.allows("https://app.example.com"));
    EXPECT_TRUE(p.allows("http://localhost:3000"));
    EXPECT_FALSE(p.allows("https://evil.example.com"));
    EXPECT_FALSE(p.allows("https://app.example.com.evil.com"));
    EXPECT_FALSE(p.allows("null"));
    EXPECT_FALSE(p.allows(""));
    const auto h = p.answer_headers("https://app.example.com");
    ASSERT_EQ(h.size(), 3u);
    EXPECT_EQ(h[1].second, "https://app.example.com");
    const auto denied = p.answer_headers("https://evil.example.com");
    ASSERT_EQ(denied.size(), 1u);  // Vary only
    EXPECT_EQ(denied[0].first, "Vary");
    const auto pre = p.preflight_headers("http://localhost:3000", "GET, POST");
    bool methods = false, headers = false;
    for (const auto& [k, v] : pre) {
        if (k == "Access-Control-Allow-Methods") methods = v == "GET, POST, OPTIONS";
        if (k == "Access-Control-Allow-Headers") headers = v == "authorization, content-type, prefer";
    }
    EXPECT_TRUE(methods && headers);
}

TEST(ApiCors, StarAndNone) {
    EXPECT_TRUE(CorsPolicy("*").allows("https://any.example"));
    EXPECT_FALSE(CorsPolicy("").allows("https://any.example"));
    EXPECT_TRUE(CorsPolicy("").answer_headers("https://any.example").empty());
}
