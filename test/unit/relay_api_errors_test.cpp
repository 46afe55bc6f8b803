// SQLSTATE -> HTTP status for the API (docs/http-api.md), the failed Twilio check from DETAIL, and the error body.
#include <gtest/gtest.h>

#include "relay/api_errors.hpp"

using byo::relay::api::error_body;
using byo::relay::api::status_for_sql_error;

namespace {
int status(const char* state, const char* detail = "") { return status_for_sql_error(state, detail).status; }
}  // namespace

TEST(ApiErrors, MapsTheContractTable) {
    EXPECT_EQ(status("22023"), 400);
    EXPECT_EQ(status("22P02"), 400);
    EXPECT_EQ(status("23502"), 400);
    EXPECT_EQ(status("23514"), 400);
    EXPECT_EQ(status("42501"), 403);
    EXPECT_EQ(status("28000"), 403);
    EXPECT_EQ(status("P0002"), 404);
    EXPECT_EQ(status("42704"), 404);
    EXPECT_EQ(status("02000"), 404);
    EXPECT_EQ(status("23505"), 409);
    EXPECT_EQ(status("55000"), 409);
    EXPECT_EQ(status("55006"), 409);
    EXPECT_EQ(status("57014"), 504);
    EXPECT_EQ(status("XX000"), 500);
    EXPECT_EQ(status("PT418"), 418);
    EXPECT_EQ(status("PT4x8"), 500);
}

TEST(ApiErrors, UnavailableIs503WithRetryAfter) {
    for (const char* s : {"08000", "08006", "53300", "57P01", "57P03", ""}) {
        const auto e = status_for_sql_error(s, "");
        EXPECT_EQ(e.status, 503) << s;
        EXPECT_TRUE(e.retry_after) << s;
    }
    EXPECT_FALSE(status_for_sql_error("22023", "").retry_after);
}

TEST(ApiErrors, FailedTwilioCheckIs422NamingTheCheck) {
    const auto e = status_for_sql_error("28000", "failed check: credentials");
    EXPECT_EQ(e.status, 422);
    ASSERT_TRUE(e.check.has_value());
    EXPECT_EQ(*e.check, "credentials");
    EXPECT_EQ(status_for_sql_error("42704", "failed check: messaging_service\nmore").check.value(), "messaging_service");
    EXPECT_FALSE(status_for_sql_error("28000", "no user").check.has_value());
    EXPECT_EQ(status("28000", "the check failed: x"), 403);  // only a DETAIL that starts so
}

TEST(ApiErrors, BodyHasNullsForMissingFieldsAndCheckOnlyWhenSet) {
    const auto b = error_body("22023", "bad", "", "fix it");
    EXPECT_EQ(b["error"]["code"], "22023");
    EXPECT_EQ(b["error"]["message"], "bad");
    EXPECT_TRUE(b["error"]["detail"].is_null());
    EXPECT_EQ(b["error"]["hint"], "fix it");
    EXPECT_FALSE(b["error"].contains("check"));
    EXPECT_EQ(error_body("28000", "m", "failed check: account", "", std::string("account"))["error"]["check"], "account");
}
