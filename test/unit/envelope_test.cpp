#include <gtest/gtest.h>

#include "core/core_error.hpp"
#include "core/envelope.hpp"

using namespace byo;

namespace {

const std::string kHexA = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const std::string kHexB = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

std::string sqlstate_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const CoreError& e) {
        return e.sqlstate();
    }
    return "none";
}

}  // namespace

TEST(Keyring, ParsesBareAndNamedKeys) {
    Keyring bare = Keyring::parse(kHexA);
    EXPECT_EQ(bare.current().id, "default");
    Keyring two = Keyring::parse(" k2:" + kHexB + " , default:" + kHexA);
    EXPECT_EQ(two.current().id, "k2");
    ASSERT_NE(two.find("default"), nullptr);
    EXPECT_EQ(two.find("default")->bytes[1], 0x11);
    EXPECT_EQ(two.ids(), (std::vector<std::string>{"k2", "default"}));
    EXPECT_TRUE(Keyring::parse("").empty());
}

TEST(Keyring, RejectsBadSpecsWithoutEchoingKeys) {
    for (const std::string spec : {kHexA.substr(2), "k1:" + kHexA + ",k1:" + kHexB, "bad id:" + kHexA,
                                   kHexA + ",", "zz" + kHexA.substr(2)}) {
        try {
            Keyring::parse(spec);
            FAIL() << "accepted a bad spec";
        } catch (const CoreError& e) {
            EXPECT_EQ(e.sqlstate(), "22023");
            EXPECT_EQ(std::string(e.what()).find(kHexA.substr(4, 20)), std::string::npos);
        }
    }
    EXPECT_EQ(sqlstate_of([] { Keyring::parse("").current(); }), "55000");
}

TEST(Envelope, RoundTripAndLayout) {
    Keyring ring = Keyring::parse("k1:" + kHexA);
    const std::string ctx = envelope_context("user-1", "AC00");
    Bytes env = seal_envelope(ring.current(), "0123456789abcdef0123456789abcdef", ctx);
    EXPECT_EQ(env[0], 1);
    EXPECT_EQ(env[1], 2);
    EXPECT_EQ(env.size(), 2u + 2 + 12 + 32 + 16);
    EXPECT_EQ(envelope_key_id(env), "k1");
    EXPECT_EQ(std::string(open_envelope(ring, env, ctx).view()), "0123456789abcdef0123456789abcdef");
    // Fresh nonce each time.
    EXPECT_NE(seal_envelope(ring.current(), "same", ctx), seal_envelope(ring.current(), "same", ctx));
}

TEST(Envelope, BoundToItsRow) {
    Keyring ring = Keyring::parse("k1:" + kHexA);
    Bytes env = seal_envelope(ring.current(), "secret", envelope_context("user-1", "AC00"));
    EXPECT_EQ(sqlstate_of([&] { open_envelope(ring, env, envelope_context("user-2", "AC00")); }), "XX001");
    EXPECT_EQ(sqlstate_of([&] { open_envelope(ring, env, envelope_context("user-1", "AC01")); }), "XX001");
}

TEST(Envelope, DetectsTamperingAndBadInput) {
    Keyring ring = Keyring::parse("k1:" + kHexA);
    const std::string ctx = envelope_context("u", "AC");
    Bytes env = seal_envelope(ring.current(), "secret", ctx);
    for (std::size_t i = 4; i < env.size(); ++i) {
        Bytes bad = env;
        bad[i] ^= 0x01;
        EXPECT_EQ(sqlstate_of([&] { open_envelope(ring, bad, ctx); }), "XX001") << "byte " << i;
    }
    Bytes truncated(env.begin(), env.begin() + 10);
    EXPECT_EQ(sqlstate_of([&] { open_envelope(ring, truncated, ctx); }), "22023");
    Bytes wrong_version = env;
    wrong_version[0] = 9;
    EXPECT_EQ(sqlstate_of([&] { open_envelope(ring, wrong_version, ctx); }), "22023");
}

TEST(Envelope, RotationNeedsOldKeyUntilResealed) {
    Keyring old_ring = Keyring::parse("k1:" + kHexA);
    const std::string ctx = envelope_context("u", "AC");
    Bytes env = seal_envelope(old_ring.current(), "secret", ctx);
    Keyring rotated = Keyring::parse("k2:" + kHexB + ",k1:" + kHexA);
    EXPECT_EQ(std::string(open_envelope(rotated, env, ctx).view()), "secret");
    Bytes resealed = seal_envelope(rotated.current(), open_envelope(rotated, env, ctx).view(), ctx);
    EXPECT_EQ(envelope_key_id(resealed), "k2");
    Keyring only_new = Keyring::parse("k2:" + kHexB);
    EXPECT_EQ(sqlstate_of([&] { open_envelope(only_new, env, ctx); }), "55000");
    EXPECT_EQ(std::string(open_envelope(only_new, resealed, ctx).view()), "secret");
    // Same key bytes under another id: the id is authenticated, so relabelling fails.
    Bytes relabelled = env;
    relabelled[2] = 'k';
    relabelled[3] = '2';
    Keyring same_bytes = Keyring::parse("k2:" + kHexA);
    EXPECT_EQ(sqlstate_of([&] { open_envelope(same_bytes, relabelled, ctx); }), "XX001");
}
