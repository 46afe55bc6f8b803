#include <gtest/gtest.h>

#include "core/core_error.hpp"
#include "core/formats.hpp"

using namespace byo;

TEST(Formats, Sids) {
    EXPECT_TRUE(is_sid("AC0123456789abcdef0123456789ABCDEF", "AC"));
    EXPECT_FALSE(is_sid("AC0123456789abcdef0123456789ABCDE", "AC"));
    EXPECT_FALSE(is_sid("MG0123456789abcdef0123456789abcdef", "AC"));
    EXPECT_FALSE(is_sid("AC0123456789abcdef0123456789abcdeg", "AC"));
}

TEST(Formats, E164) {
    EXPECT_TRUE(is_e164("+14155550123"));
    EXPECT_TRUE(is_e164("+441234567890"));
    EXPECT_FALSE(is_e164("14155550123"));
    EXPECT_FALSE(is_e164("+04155550123"));
    EXPECT_FALSE(is_e164("+1415555012345678"));
    EXPECT_FALSE(is_e164("+1 415 555 0123"));
    EXPECT_FALSE(is_e164("+1"));
}

TEST(Formats, ErrorsNeverEchoTheValue) {
    const std::string token = "0123456789abcdef0123456789abcdef";
    try {
        require_sid("account_sid", token, "AC");
        FAIL();
    } catch (const CoreError& e) {
        EXPECT_EQ(e.sqlstate(), "22023");
        EXPECT_EQ(std::string(e.what()).find(token), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("account_sid"), std::string::npos);
    }
    EXPECT_NO_THROW(require_auth_token(token));
    EXPECT_THROW(require_auth_token("SKxyz"), CoreError);
    EXPECT_THROW(require_e164("sms_number", "555"), CoreError);
}
