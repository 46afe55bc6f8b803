// The relay's check that the database hands out webhook URLs on the relay's own base (public_url_check.hpp):
// equal bases pass, whatever their trailing slashes; any other difference, or no base at all, is reported with
// both values so the operator can see which one to change.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "relay/public_url_check.hpp"

using byo::relay::public_url_mismatch;

namespace {

bool contains(const std::optional<std::string>& text, const std::string& needle) {
    return text && text->find(needle) != std::string::npos;
}

}  // namespace

TEST(RelayPublicUrlCheck, SameBaseAgrees) {
    EXPECT_EQ(public_url_mismatch("https://relay.example.com", std::string("https://relay.example.com")), std::nullopt);
    EXPECT_EQ(public_url_mismatch("https://relay.example.com/hooks", std::string("https://relay.example.com/hooks/")),
              std::nullopt);
    EXPECT_EQ(public_url_mismatch("https://relay.example.com/", std::string("https://relay.example.com//")),
              std::nullopt);
}

TEST(RelayPublicUrlCheck, AnyOtherDifferenceIsReportedWithBothValues) {
    const auto host = public_url_mismatch("https://relay.example.com", std::string("https://hooks.example.com"));
    EXPECT_TRUE(contains(host, "(https://relay.example.com)"));
    EXPECT_TRUE(contains(host, "(https://hooks.example.com)"));
    EXPECT_TRUE(contains(host, "403"));
    // Twilio signs the URL as entered: scheme, case, port and path prefix all count.
    EXPECT_TRUE(public_url_mismatch("https://relay.example.com", std::string("http://relay.example.com")));
    EXPECT_TRUE(public_url_mismatch("https://relay.example.com", std::string("https://Relay.example.com")));
    EXPECT_TRUE(public_url_mismatch("https://relay.example.com", std::string("https://relay.example.com:443")));
    EXPECT_TRUE(public_url_mismatch("https://relay.example.com", std::string("https://relay.example.com/hooks")));
    EXPECT_TRUE(public_url_mismatch("https://relay.example.com/hooks", std::string("https://relay.example.com")));
}

TEST(RelayPublicUrlCheck, NoBaseInTheDatabaseIsReported) {
    for (const std::optional<std::string>& unset : {std::optional<std::string>(), std::optional<std::string>(""),
                                                    std::optional<std::string>("/")}) {
        const auto problem = public_url_mismatch("https://relay.example.com/", unset);
        EXPECT_TRUE(contains(problem, "not set")) << problem.value_or("(agrees)");
        EXPECT_TRUE(contains(problem, "set it to BYO_TWILIO_PUBLIC_URL (https://relay.example.com)"));
    }
}
