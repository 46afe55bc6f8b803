// UUIDv7 layout (RFC 9562 test vector), version and variant bits, and strict order from one generator.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "core/uuid_v7.hpp"

using namespace byo;

namespace {

std::string hex(const Uuid& u) {
    std::string s;
    char b[3];
    for (std::size_t i = 0; i < u.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
        std::snprintf(b, sizeof b, "%02x", u[i]);
        s += b;
    }
    return s;
}

std::uint64_t millis(const Uuid& u) {
    std::uint64_t ms = 0;
    for (int i = 0; i < 6; ++i) ms = (ms << 8) | u[i];
    return ms;
}

}  // namespace

// RFC 9562, appendix A.6: 2022-02-22 19:22:22 UTC = 0x017F22E279B0 ms, rand_a 0xCC3, rand_b 0x18C4DC0C0C07398F.
TEST(UuidV7, RfcExampleLayout) {
    EXPECT_EQ(hex(uuid_v7_layout(0x017F22E279B0ull, 0xCC3, 0x18C4DC0C0C07398Full)),
              "017f22e2-79b0-7cc3-98c4-dc0c0c07398f");
}

TEST(UuidV7, VersionAndVariantWhateverTheRandomBits) {
    for (std::uint64_t r : {0ull, ~0ull, 0x3FFFFFFFFFFFFFFFull, 0xC000000000000000ull}) {
        const Uuid u = uuid_v7_layout(1, 0xFFFF, r);
        EXPECT_EQ(u[6] >> 4, 7) << hex(u);
        EXPECT_EQ(u[8] >> 6, 2) << hex(u);
        EXPECT_EQ(u[6] & 0x0F, 0x0F) << "sub-millisecond bits are taken modulo 4096";
    }
}

TEST(UuidV7, TimePartFromTheClock) {
    UuidV7Generator g;
    // 1.5 ms after 0x017F22E279B0 ms: sub-millisecond step 2048 of 4096.
    const Uuid u = g.next(0x017F22E279B0ull * 1000000 + 500000, 0);
    EXPECT_EQ(hex(u).substr(0, 19), "017f22e2-79b0-7800-");
}

TEST(UuidV7, StrictlyIncreasingWhenTheClockStandsStillOrStepsBack) {
    UuidV7Generator g;
    const std::uint64_t t = 1764000000000ull * 1000000;
    Uuid prev = g.next(t, ~0ull);
    for (int i = 0; i < 10000; ++i) {
        // Random bits that would sort the ids backwards if the time part did not move.
        const Uuid u = g.next(i % 2 ? t : t - 1000000, ~0ull - static_cast<std::uint64_t>(i));
        ASSERT_LT(prev, u) << "at " << i << ": " << hex(prev) << " then " << hex(u);
        prev = u;
    }
    // 10,000 steps of 1/4096 ms past a clock that did not move: 2 ms and 1,808 steps on.
    EXPECT_EQ(millis(prev), 1764000000000ull + 2);
    EXPECT_EQ(((prev[6] & 0x0F) << 8) | prev[7], 1808);
}

TEST(UuidV7, RandomBitsDiffer) { EXPECT_NE(uuid_random_bits(), uuid_random_bits()); }
