// Token buckets and concurrency caps driven by explicit time points, so nothing sleeps.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/core_error.hpp"
#include "core/rate_limiter.hpp"

using namespace byo;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

const RateLimiter::Clock::time_point t0 = RateLimiter::Clock::time_point() + std::chrono::hours(1);
const milliseconds kNow(0);

}  // namespace

TEST(RateLimiter, OnePerSecond) {
    RateLimiter rl(1, 1);
    EXPECT_EQ(rl.try_take("u", 1, t0), kNow);
    EXPECT_EQ(rl.try_take("u", 1, t0), milliseconds(1000));
    EXPECT_EQ(rl.try_take("u", 1, t0 + milliseconds(400)), milliseconds(600));
    EXPECT_EQ(rl.try_take("u", 1, t0 + seconds(1)), kNow);
    EXPECT_EQ(rl.try_take("u", 1, t0 + seconds(1)), milliseconds(1000));
}

TEST(RateLimiter, BurstThenSteadyRate) {
    RateLimiter rl(10, 5);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(rl.try_take("u", 1, t0), kNow) << i;
    EXPECT_EQ(rl.try_take("u", 1, t0), milliseconds(100));
    EXPECT_EQ(rl.try_take("u", 2, t0), milliseconds(200));
    EXPECT_EQ(rl.try_take("u", 1, t0 + milliseconds(100)), kNow);
    EXPECT_EQ(rl.try_take("u", 1, t0 + milliseconds(100)), milliseconds(100));
    // A long quiet spell refills to the burst, not beyond it.
    EXPECT_EQ(rl.try_take("u", 5, t0 + seconds(100)), kNow);
    EXPECT_EQ(rl.try_take("u", 1, t0 + seconds(100)), milliseconds(100));
}

TEST(RateLimiter, FractionalRateRoundsWaitUp) {
    RateLimiter rl(3, 1);
    EXPECT_EQ(rl.try_take("u", 1, t0), kNow);
    milliseconds wait = rl.try_take("u", 1, t0);
    EXPECT_EQ(wait, milliseconds(334));
    EXPECT_EQ(rl.try_take("u", 1, t0 + wait), kNow);
}

TEST(RateLimiter, WaitingTheReturnedTimeSucceeds) {
    RateLimiter rl(7, 3);
    auto now = t0;
    for (int i = 0; i < 200; ++i) {
        const double cost = 0.1 + (i % 7) * 0.3;
        milliseconds wait = rl.try_take("u", cost, now);
        if (wait > kNow) {
            now += wait;
            ASSERT_EQ(rl.try_take("u", cost, now), kNow) << i;
        }
    }
}

TEST(RateLimiter, KeysAreIsolated) {
    RateLimiter rl(1, 1);
    EXPECT_EQ(rl.try_take("alice", 1, t0), kNow);
    EXPECT_GT(rl.try_take("alice", 1, t0), kNow);
    EXPECT_EQ(rl.try_take("bob", 1, t0), kNow);
    EXPECT_EQ(rl.size(), 2u);
}

TEST(RateLimiter, PerKeyOverride) {
    RateLimiter rl(1, 1);
    rl.set_rate("AC_fast", 100, 10);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(rl.try_take("AC_fast", 1, t0), kNow) << i;
    EXPECT_EQ(rl.try_take("AC_fast", 1, t0), milliseconds(10));
    EXPECT_EQ(rl.try_take("AC_other", 1, t0), kNow);
    EXPECT_EQ(rl.try_take("AC_other", 1, t0), milliseconds(1000));
}

TEST(RateLimiter, OverrideClampsExistingBucket) {
    RateLimiter rl(1, 10);
    EXPECT_EQ(rl.try_take("u", 1, t0), kNow);  // 9 left
    rl.set_rate("u", 1, 2);
    EXPECT_EQ(rl.try_take("u", 2, t0), kNow);
    EXPECT_EQ(rl.try_take("u", 1, t0), milliseconds(1000));
}

TEST(RateLimiter, CostAboveBurst) {
    RateLimiter rl(1, 2);
    // Allowed from a full bucket, which then owes the difference.
    EXPECT_EQ(rl.try_take("u", 5, t0), kNow);
    EXPECT_EQ(rl.try_take("u", 1, t0), milliseconds(4000));
    EXPECT_EQ(rl.try_take("u", 1, t0 + milliseconds(3999)), milliseconds(1));
    EXPECT_EQ(rl.try_take("u", 1, t0 + seconds(4)), kNow);
    // From a bucket that is not full it waits until the bucket is full, not for the whole cost.
    EXPECT_EQ(rl.try_take("v", 1, t0), kNow);
    EXPECT_EQ(rl.try_take("v", 5, t0), milliseconds(1000));
    EXPECT_EQ(rl.try_take("v", 5, t0 + seconds(1)), kNow);
}

TEST(RateLimiter, ZeroCostAndEarlierTimePoints) {
    RateLimiter rl(1, 1);
    EXPECT_EQ(rl.try_take("u", 1, t0 + seconds(10)), kNow);
    EXPECT_EQ(rl.try_take("u", 0, t0 + seconds(10)), kNow);
    EXPECT_EQ(rl.try_take("u", 1, t0), milliseconds(1000));  // going back in time refills nothing
    EXPECT_EQ(rl.try_take("u", 1, t0 + seconds(11)), kNow);
}

TEST(RateLimiter, RejectsBadArguments) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    EXPECT_THROW(RateLimiter(0, 1), CoreError);
    EXPECT_THROW(RateLimiter(1, 0), CoreError);
    EXPECT_THROW(RateLimiter(-1, 1), CoreError);
    EXPECT_THROW(RateLimiter(nan, 1), CoreError);
    EXPECT_THROW(RateLimiter(1, inf), CoreError);
    RateLimiter rl(1, 1);
    EXPECT_THROW(rl.set_rate("u", 0, 1), CoreError);
    EXPECT_THROW(rl.try_take("u", -1, t0), CoreError);
    EXPECT_THROW(rl.try_take("u", nan, t0), CoreError);
    try {
        rl.try_take("u", inf, t0);
        FAIL();
    } catch (const CoreError& e) {
        EXPECT_EQ(e.sqlstate(), "22023");
    }
}

TEST(RateLimiter, TinyRateWaitDoesNotOverflow) {
    RateLimiter rl(1e-300, 1);
    EXPECT_EQ(rl.try_take("u", 1, t0), kNow);
    EXPECT_EQ(rl.try_take("u", 1, t0), milliseconds::max());
}

TEST(RateLimiter, ForgetIdleDropsOnlyFullIdleBuckets) {
    RateLimiter rl(1, 1);
    rl.set_rate("slow", 0.01, 1);
    EXPECT_EQ(rl.try_take("a", 1, t0), kNow);
    EXPECT_EQ(rl.try_take("b", 1, t0), kNow);
    EXPECT_EQ(rl.try_take("slow", 1, t0), kNow);
    rl.forget_idle(t0 + seconds(30));
    EXPECT_EQ(rl.size(), 3u);
    EXPECT_EQ(rl.try_take("b", 1, t0 + seconds(50)), kNow);
    rl.forget_idle(t0 + seconds(61));
    EXPECT_EQ(rl.size(), 2u);  // "a" went; "b" was used 11 s ago; "slow" has not refilled
    rl.forget_idle(t0 + seconds(99));
    EXPECT_EQ(rl.size(), 2u);  // "slow" holds 0.99 of its 1 token
    rl.forget_idle(t0 + seconds(111));
    EXPECT_EQ(rl.size(), 0u);
    EXPECT_EQ(rl.try_take("a", 1, t0 + seconds(200)), kNow);  // a forgotten key starts full
    EXPECT_EQ(rl.size(), 1u);
}

TEST(RateLimiter, ForgetIdleKeepsBucketsInDebt) {
    RateLimiter rl(1, 1);
    EXPECT_EQ(rl.try_take("u", 100, t0), kNow);  // owes 99 s
    rl.forget_idle(t0 + seconds(90));
    EXPECT_EQ(rl.size(), 1u);
    EXPECT_EQ(rl.try_take("u", 1, t0 + seconds(90)), milliseconds(10000));
}

TEST(ConcurrencyCap, AcquireUpToLimit) {
    ConcurrencyCap cap(2);
    EXPECT_TRUE(cap.try_acquire("a"));
    EXPECT_TRUE(cap.try_acquire("a"));
    EXPECT_FALSE(cap.try_acquire("a"));
    EXPECT_EQ(cap.in_flight("a"), 2);
    EXPECT_TRUE(cap.try_acquire("b"));
    EXPECT_EQ(cap.in_flight("b"), 1);
    EXPECT_EQ(cap.in_flight("c"), 0);
}

TEST(ConcurrencyCap, ReleaseFreesASlot) {
    ConcurrencyCap cap(1);
    EXPECT_TRUE(cap.try_acquire("a"));
    EXPECT_FALSE(cap.try_acquire("a"));
    cap.release("a");
    EXPECT_EQ(cap.in_flight("a"), 0);
    EXPECT_TRUE(cap.try_acquire("a"));
    cap.release("a");
    cap.release("a");  // nothing in flight: no-op, no negative count
    cap.release("never");
    EXPECT_EQ(cap.in_flight("a"), 0);
    EXPECT_EQ(cap.in_flight("never"), 0);
    EXPECT_TRUE(cap.try_acquire("a"));
    EXPECT_FALSE(cap.try_acquire("a"));
}

TEST(ConcurrencyCap, RejectsNonPositiveLimit) {
    EXPECT_THROW(ConcurrencyCap(0), CoreError);
    EXPECT_THROW(ConcurrencyCap(-3), CoreError);
}
