// The claims a verified JWT must carry before the API runs SQL as its user.
#include <gtest/gtest.h>

#include "relay/api_claims.hpp"

using byo::relay::api::check_claims;
using byo::relay::api::ClaimRules;
using nlohmann::json;

namespace {
constexpr std::int64_t kNow = 1'800'000'000;
const char* kSub = "00000000-0000-0000-0000-00000000aa01";

json good() {
    return {{"sub", kSub}, {"role", "authenticated"}, {"aud", "authenticated"}, {"exp", kNow + 3600}, {"iat", kNow}};
}
std::string why(const json& c, ClaimRules r = {}) { return check_claims(c, kNow, r).message; }
}  // namespace

TEST(ApiClaims, AcceptsAUserToken) {
    const auto c = check_claims(good(), kNow, {});
    EXPECT_TRUE(c.ok) << c.message;
    EXPECT_EQ(c.sub, kSub);
    json arr = good();
    arr["aud"] = json::array({"other", "authenticated"});
    EXPECT_TRUE(check_claims(arr, kNow, {}).ok);
}

TEST(ApiClaims, ExpiryWithLeeway) {
    json c = good();
    c["exp"] = kNow - 10;  // within the 30 s leeway
    EXPECT_TRUE(check_claims(c, kNow, {}).ok);
    c["exp"] = kNow - 31;
    EXPECT_EQ(why(c), "JWT expired");
    c.erase("exp");
    EXPECT_EQ(why(c), "JWT has no numeric exp claim");
    c["exp"] = "soon";
    EXPECT_EQ(why(c), "JWT has no numeric exp claim");
}

TEST(ApiClaims, NotBefore) {
    json c = good();
    c["nbf"] = kNow + 20;
    EXPECT_TRUE(check_claims(c, kNow, {}).ok);
    c["nbf"] = kNow + 120;
    EXPECT_EQ(why(c), "JWT not yet valid");
    c["nbf"] = "x";
    EXPECT_EQ(why(c), "JWT nbf claim is not a number");
}

TEST(ApiClaims, AudienceIsRequired) {
    json c = good();
    c["aud"] = "anon";
    EXPECT_EQ(why(c), "JWT not in audience");
    c.erase("aud");
    EXPECT_EQ(why(c), "JWT not in audience");
    c["aud"] = json::array();
    EXPECT_EQ(why(c), "JWT not in audience");
    ClaimRules r;
    r.audience = "my-app";
    c["aud"] = "my-app";
    EXPECT_TRUE(check_claims(c, kNow, r).ok);
}

TEST(ApiClaims, IssuerWhenConfigured) {
    ClaimRules r;
    r.issuer = "https://ref.supabase.co/auth/v1";
    EXPECT_EQ(why(good(), r), "JWT issuer not accepted");
    json c = good();
    c["iss"] = r.issuer;
    EXPECT_TRUE(check_claims(c, kNow, r).ok);
}

TEST(ApiClaims, OnlyTheAuthenticatedRole) {
    json c = good();
    c["role"] = "anon";
    EXPECT_NE(why(c).find("role anon may not use this API"), std::string::npos);
    c["role"] = "service_role";
    EXPECT_NE(why(c).find("role service_role"), std::string::npos);
    c["role"] = "postgres\"; DROP";
    EXPECT_NE(why(c).find("role (other)"), std::string::npos);  // never echoes arbitrary text
    c.erase("role");
    EXPECT_EQ(why(c), "JWT has no role claim");
}

TEST(ApiClaims, SubMustBeAUuid) {
    json c = good();
    c["sub"] = "not-a-uuid";
    EXPECT_EQ(why(c), "JWT sub claim is not a user id (UUID)");
    c.erase("sub");
    EXPECT_EQ(why(c), "JWT sub claim is not a user id (UUID)");
    EXPECT_FALSE(check_claims(json::array(), kNow, {}).ok);
}
