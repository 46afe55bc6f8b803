// Full-jitter bounds, the cap, overflow at large attempts, and Retry-After.
#include <gtest/gtest.h>

#include <climits>
#include <cstdint>

#include "core/backoff.hpp"

using namespace byo;
using std::chrono::milliseconds;

namespace {

// A fixed sequence of well-mixed 64-bit values (SplitMix64), standing in for the caller's RNG.
std::uint64_t mix(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

}  // namespace

TEST(Backoff, EndpointsOfTheRange) {
    EXPECT_EQ(full_jitter_backoff(1, milliseconds(100), milliseconds(10000), 0), milliseconds(0));
    EXPECT_EQ(full_jitter_backoff(1, milliseconds(100), milliseconds(10000), 100), milliseconds(100));
    EXPECT_EQ(full_jitter_backoff(1, milliseconds(100), milliseconds(10000), 101), milliseconds(0));
    EXPECT_EQ(full_jitter_backoff(3, milliseconds(100), milliseconds(10000), 400), milliseconds(400));
    EXPECT_EQ(full_jitter_backoff(3, milliseconds(100), milliseconds(10000), 401), milliseconds(0));
}

TEST(Backoff, StaysWithinBoundsAndSpreads) {
    std::uint64_t state = 42;
    for (int attempt = 1; attempt <= 8; ++attempt) {
        const milliseconds ceiling(100 << (attempt - 1));
        milliseconds lowest = ceiling, highest(0);
        for (int i = 0; i < 2000; ++i) {
            milliseconds d = full_jitter_backoff(attempt, milliseconds(100), milliseconds(60000), mix(state));
            ASSERT_GE(d.count(), 0);
            ASSERT_LE(d, ceiling);
            lowest = std::min(lowest, d);
            highest = std::max(highest, d);
        }
        EXPECT_LT(lowest, ceiling / 10) << attempt;
        EXPECT_GT(highest, ceiling * 9 / 10) << attempt;
    }
}

TEST(Backoff, CappedAtCap) {
    const milliseconds cap(5000);
    EXPECT_EQ(full_jitter_backoff(10, milliseconds(100), cap, 5000), cap);  // 100 * 512 > cap
    EXPECT_EQ(full_jitter_backoff(10, milliseconds(100), cap, 5001), milliseconds(0));
    EXPECT_EQ(full_jitter_backoff(1, milliseconds(9000), cap, 5000), cap);  // base alone above cap
    std::uint64_t state = 7;
    for (int i = 0; i < 1000; ++i) EXPECT_LE(full_jitter_backoff(20, milliseconds(100), cap, mix(state)), cap);
}

TEST(Backoff, LargeAttemptsDoNotOverflow) {
    const milliseconds cap = std::chrono::hours(1);
    for (int attempt : {30, 62, 63, 64, 65, 100, 1000, INT_MAX}) {
        EXPECT_EQ(full_jitter_backoff(attempt, milliseconds(1), cap, cap.count()), cap) << attempt;
        EXPECT_LE(full_jitter_backoff(attempt, milliseconds(1), cap, UINT64_MAX), cap) << attempt;
    }
    const milliseconds huge = milliseconds::max();
    EXPECT_LE(full_jitter_backoff(3, huge / 2, huge, UINT64_MAX), huge);
    EXPECT_GE(full_jitter_backoff(3, huge / 2, huge, UINT64_MAX).count(), 0);
    EXPECT_EQ(full_jitter_backoff(INT_MAX, milliseconds(1), huge, static_cast<std::uint64_t>(huge.count())), huge);
}

TEST(Backoff, DegenerateInputs) {
    EXPECT_EQ(full_jitter_backoff(0, milliseconds(100), milliseconds(1000), 100), milliseconds(100));
    EXPECT_EQ(full_jitter_backoff(INT_MIN, milliseconds(100), milliseconds(1000), 100), milliseconds(100));
    EXPECT_EQ(full_jitter_backoff(3, milliseconds(0), milliseconds(1000), 12345), milliseconds(0));
    EXPECT_EQ(full_jitter_backoff(3, milliseconds(100), milliseconds(0), 12345), milliseconds(0));
    EXPECT_EQ(full_jitter_backoff(3, milliseconds(-5), milliseconds(1000), 12345), milliseconds(0));
}

TEST(Backoff, RetryAfterHonoured) {
    const milliseconds base(100), cap(10000);
    EXPECT_EQ(retry_delay(1, std::nullopt, base, cap, 77), milliseconds(77));
    EXPECT_EQ(retry_delay(1, milliseconds(30000), base, cap, 77), milliseconds(30000));  // even above cap
    EXPECT_EQ(retry_delay(1, milliseconds(2000), base, cap, 77), milliseconds(2000));
    EXPECT_EQ(retry_delay(3, milliseconds(10), base, cap, 400), milliseconds(400));  // jitter is longer
    EXPECT_EQ(retry_delay(1, milliseconds(0), base, cap, 50), milliseconds(50));
    EXPECT_EQ(retry_delay(1, milliseconds(-100), base, cap, 50), milliseconds(50));
}
