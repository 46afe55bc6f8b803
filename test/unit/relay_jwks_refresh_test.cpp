// The JWKS URL's refetch schedule: every period, and early on an unknown kid at most once per 30 s.
#include <gtest/gtest.h>

#include "relay/jwks_refresh.hpp"

using byo::relay::api::JwksRefreshPolicy;
using std::chrono::seconds;

TEST(JwksRefresh, NextFetchIsAPeriodAfterTheLastOne) {
    JwksRefreshPolicy p(seconds(300));
    const auto t0 = JwksRefreshPolicy::Clock::time_point{} + seconds(1000);
    p.fetched(t0);
    EXPECT_EQ(p.next_due(), t0 + seconds(300));
    p.fetched(t0 + seconds(7));  // an early fetch pushes the schedule back too
    EXPECT_EQ(p.next_due(), t0 + seconds(307));
}

TEST(JwksRefresh, UnknownKidFetchesAtMostOncePer30Seconds) {
    JwksRefreshPolicy p(seconds(300));
    const auto t0 = JwksRefreshPolicy::Clock::time_point{} + seconds(1000);
    p.fetched(t0);
    EXPECT_TRUE(p.unknown_kid(t0 + seconds(1)));   // right after the start fetch: still allowed
    EXPECT_FALSE(p.unknown_kid(t0 + seconds(2)));
    EXPECT_FALSE(p.unknown_kid(t0 + seconds(30)));
    EXPECT_TRUE(p.unknown_kid(t0 + seconds(31)));
    EXPECT_FALSE(p.unknown_kid(t0 + seconds(60)));
}

TEST(JwksRefresh, TheGapIsConfigurable) {
    JwksRefreshPolicy p(seconds(60), seconds(5));
    const auto t0 = JwksRefreshPolicy::Clock::time_point{} + seconds(1000);
    EXPECT_TRUE(p.unknown_kid(t0));
    EXPECT_FALSE(p.unknown_kid(t0 + seconds(4)));
    EXPECT_TRUE(p.unknown_kid(t0 + seconds(5)));
}
