#include "core/token_seal.hpp"

#include <gtest/gtest.h>

#include <functional>

#include "core/core_error.hpp"

using namespace byo;

namespace {

const std::string kHex1(64, 'a');
const std::string kHex2 = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const char* kUser = "7b6f2d0e-8f1c-4d2a-9a57-2f1f6c1d0e11";
const char* kSid = "AC0123456789abcdef0123456789abcdef";
const char* kToken = "0123456789abcdef0123456789abcdef";

std::string sqlstate_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const CoreError& e) {
        return e.sqlstate();
    }
    return "none";
}

}  // namespace

TEST(TokenSeal, RoundTripsForItsOwnerAndAccount) {
    const Keyring ring = Keyring::parse("k1:" + kHex1);
    const std::string sealed = seal_token(sealing_public_key(ring), kToken, kUser, kSid);
    EXPECT_TRUE(looks_sealed(sealed));
    EXPECT_EQ(sealed.rfind("bt1:k1:", 0), 0u);
    EXPECT_EQ(sealed.find(kToken), std::string::npos);
    EXPECT_EQ(open_sealed_token(ring, sealed, kUser, kSid).view(), kToken);
}

TEST(TokenSeal, EverySealIsFresh) {
    const Keyring ring = Keyring::parse("k1:" + kHex1);
    const SealingPublicKey pub = sealing_public_key(ring);
    EXPECT_NE(seal_token(pub, kToken, kUser, kSid), seal_token(pub, kToken, kUser, kSid));
    EXPECT_EQ(sealing_public_key(ring).public_key_base64, pub.public_key_base64);  // derived, stable
}

TEST(TokenSeal, DoesNotOpenForAnotherOwnerOrAccount) {
    const Keyring ring = Keyring::parse("k1:" + kHex1);
    const std::string sealed = seal_token(sealing_public_key(ring), kToken, kUser, kSid);
    EXPECT_EQ(sqlstate_of([&] { open_sealed_token(ring, sealed, "platform", kSid); }), "28000");
    EXPECT_EQ(sqlstate_of([&] { open_sealed_token(ring, sealed, kUser, "AC0123456789abcdef0123456789abcdee"); }),
              "28000");
}

TEST(TokenSeal, RefusesAnyAlteredByte) {
    const Keyring ring = Keyring::parse("k1:" + kHex1);
    const std::string sealed = seal_token(sealing_public_key(ring), kToken, kUser, kSid);
    const std::size_t box = sealed.rfind(':') + 1, eph = sealed.find(':', 4) + 1;
    for (std::size_t i : {eph, eph + 10, box, box + 20, sealed.size() - 4}) {
        std::string bad = sealed;
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        const std::string state = sqlstate_of([&] { open_sealed_token(ring, bad, kUser, kSid); });
        EXPECT_TRUE(state == "28000" || state == "22023") << i << " " << state;
    }
}

TEST(TokenSeal, OpensUnderAnOlderKeyAfterRotation) {
    const Keyring old_ring = Keyring::parse("k1:" + kHex1);
    const std::string sealed = seal_token(sealing_public_key(old_ring), kToken, kUser, kSid);
    const Keyring rotated = Keyring::parse("k2:" + kHex2 + ",k1:" + kHex1);
    EXPECT_EQ(sealing_public_key(rotated).key_id, "k2");
    EXPECT_EQ(open_sealed_token(rotated, sealed, kUser, kSid).view(), kToken);
    const Keyring only_new = Keyring::parse("k2:" + kHex2);
    EXPECT_EQ(sqlstate_of([&] { open_sealed_token(only_new, sealed, kUser, kSid); }), "55000");
}

TEST(TokenSeal, MalformedInputIsA22023ThatNeverEchoesIt) {
    const Keyring ring = Keyring::parse("k1:" + kHex1);
    for (const std::string bad :
         {std::string("bt1:"), std::string("bt1:k1"), std::string("bt1:k1:AAAA"), std::string("bt1:k1:AAAA:BBBB:CC"),
          std::string("bt1:k\x01:AAAA:BBBB"), std::string("bt1:k1:@@@@:BBBB"), std::string("bt1:k1:AAAA:BBBB"),
          "bt1:k1:" + std::string(2000, 'A') + ":AAAA", std::string("secret-plaintext")}) {
        try {
            open_sealed_token(ring, bad, kUser, kSid);
            ADD_FAILURE() << bad;
        } catch (const CoreError& e) {
            EXPECT_EQ(e.sqlstate(), "22023") << bad;
            EXPECT_EQ(std::string(e.what()).find("secret-plaintext"), std::string::npos);
        }
    }
}

TEST(TokenSeal, AllZeroEphemeralKeyIsRefused) {
    const Keyring ring = Keyring::parse("k1:" + kHex1);
    // The X25519 point 0 has low order: the shared secret would be all zeros.
    const std::string sealed = "bt1:k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:" + std::string(44, 'A');
    EXPECT_EQ(sqlstate_of([&] { open_sealed_token(ring, sealed, kUser, kSid); }), "22023");
}
