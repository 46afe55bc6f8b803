// The API's per-user token bucket: burst, refill, Retry-After, users apart, bounded memory.
#include <gtest/gtest.h>

#include "relay/rate_limiter.hpp"

using byo::relay::api::RateLimiter;
using namespace std::chrono_literals;

TEST(ApiRateLimiter, BurstThenRefill) {
    RateLimiter r(2, 5);
    const auto t0 = RateLimiter::Clock::now();
    for (int i = 0; i < 5; ++i) EXPECT_EQ(r.take("a", t0), 0) << i;
    EXPECT_EQ(r.take("a", t0), 1);              // 0.5 s until the next token: Retry-After 1
    EXPECT_EQ(r.take("b", t0), 0);              // another user has their own bucket
    EXPECT_EQ(r.take("a", t0 + 500ms), 0);      // one token back
    EXPECT_EQ(r.take("a", t0 + 500ms), 1);
}

TEST(ApiRateLimiter, RetryAfterRoundsUp) {
    RateLimiter r(0.1, 1);
    const auto t0 = RateLimiter::Clock::now();
    EXPECT_EQ(r.take("a", t0), 0);
    EXPECT_EQ(r.take("a", t0), 10);
}

TEST(ApiRateLimiter, MemoryIsBounded) {
    RateLimiter r(1, 2, 3);
    const auto t0 = RateLimiter::Clock::now();
    for (const char* k : {"a", "b", "c"}) EXPECT_EQ(r.take(k, t0), 0);
    EXPECT_EQ(r.take("d", t0), 1);  // every bucket mid-burst: a newcomer waits
    EXPECT_EQ(r.size(), 3u);
    EXPECT_EQ(r.take("d", t0 + 2s), 0);  // the others refilled and were dropped
    EXPECT_LE(r.size(), 3u);
}
