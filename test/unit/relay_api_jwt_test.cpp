// JWT signature checks: the RFC 7515 A.1 HS256 example, ES256 and RS256 tokens signed here with OpenSSL against
// a JWKS, and the refusals (wrong key, alg none, HS256 without a secret, unknown kid, malformed tokens).
#include <gtest/gtest.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

#include "relay/jwt_verify.hpp"

using byo::relay::api::JwtKeys;
using byo::relay::api::verify_jwt;

namespace {

std::string b64url(const std::string& bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    while (!out.empty() && out.back() == '=') out.pop_back();
    for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
    return out;
}

std::string bn_bytes(EVP_PKEY* key, const char* name, int width = 0) {
    BIGNUM* bn = nullptr;
    EVP_PKEY_get_bn_param(key, name, &bn);
    std::string out(width ? width : BN_num_bytes(bn), '\0');
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
    BN_free(bn);
    return out;
}

std::string sign(EVP_PKEY* key, const std::string& data) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::size_t len = 0;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
    EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size());
    std::string sig(len, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(data.data()), data.size());
    sig.resize(len);
    EVP_MD_CTX_free(ctx);
    return sig;
}

// DER ECDSA signature -> JWS r || s.
std::string der_to_raw(const std::string& der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ECDSA_SIG* s = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(s), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(s), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(s);
    return raw;
}

std::string token(const std::string& header, const std::string& payload, EVP_PKEY* key, bool ec) {
    const std::string signing = b64url(header) + "." + b64url(payload);
    const std::string sig = sign(key, signing);
    return signing + "." + b64url(ec ? der_to_raw(sig) : sig);
}

std::string hs256(const std::string& secret, const std::string& header, const std::string& payload) {
    const std::string signing = b64url(header) + "." + b64url(payload);
    unsigned char mac[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(signing.data()), signing.size(), mac, &len);
    return signing + "." + b64url(std::string(reinterpret_cast<char*>(mac), len));
}

const std::string kPayload = R"({"sub":"00000000-0000-0000-0000-00000000aa01","role":"authenticated"})";

}  // namespace

TEST(ApiJwt, Rfc7515HS256Example) {
    // RFC 7515 appendix A.1: the key is the JWK "k" value, base64url.
    const std::string k64 = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ+EstJQLr/T+1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow==";
    std::string key(k64.size(), '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(key.data()),
                                  reinterpret_cast<const unsigned char*>(k64.data()), static_cast<int>(k64.size()));
    key.resize(static_cast<std::size_t>(n) - 2);
    JwtKeys keys;
    std::string error;
    ASSERT_TRUE(keys.load(key, "", error));
    const std::string t =
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxl"
        "LmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const auto r = verify_jwt(t, keys);
    ASSERT_TRUE(r.ok) << r.message;
    EXPECT_EQ(r.claims["iss"], "joe");
    EXPECT_FALSE(verify_jwt(t.substr(0, t.size() - 2) + "AA", keys).ok);
}

TEST(ApiJwt, HS256SecretAndRefusals) {
    const std::string secret(40, 's');
    JwtKeys keys;
    std::string error;
    ASSERT_TRUE(keys.load(secret, "", error));
    const std::string h = R"({"alg":"HS256","typ":"JWT"})";
    EXPECT_TRUE(verify_jwt(hs256(secret, h, kPayload), keys).ok);
    EXPECT_EQ(verify_jwt(hs256(std::string(40, 't'), h, kPayload), keys).message, "JWT signature does not verify");
    EXPECT_EQ(verify_jwt(hs256(secret, R"({"alg":"HS384"})", kPayload), keys).message,
              "Wrong or unsupported encoding algorithm");
    const std::string none = b64url(R"({"alg":"none"})") + "." + b64url(kPayload) + ".";
    EXPECT_FALSE(verify_jwt(none, keys).ok);
    EXPECT_EQ(verify_jwt("a.b", keys).message, "Expected 3 parts in JWT");
    EXPECT_EQ(verify_jwt("a.b.c.d", keys).message, "Expected 3 parts in JWT");
    EXPECT_EQ(verify_jwt("a=.b.c", keys).message, "JWT is not base64url");
    EXPECT_EQ(verify_jwt(std::string(9000, 'a'), keys).message, "JWT too long");
    EXPECT_EQ(verify_jwt(hs256(secret, "[1]", kPayload), keys).message, "JWT header is not a JSON object");
    EXPECT_EQ(verify_jwt(hs256(secret, h, "\"x\""), keys).message, "JWT payload is not a JSON object");
}

TEST(ApiJwt, ES256AndRS256FromAJwks) {
    EVP_PKEY* ec = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    EVP_PKEY* rsa = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
    EVP_PKEY* other = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    ASSERT_TRUE(ec && rsa && other);
    const std::string jwks = R"({"keys":[{"kty":"EC","crv":"P-256","kid":"e1","use":"sig","x":")" +
                             b64url(bn_bytes(ec, OSSL_PKEY_PARAM_EC_PUB_X, 32)) + R"(","y":")" +
                             b64url(bn_bytes(ec, OSSL_PKEY_PARAM_EC_PUB_Y, 32)) +
                             R"("},{"kty":"RSA","kid":"r1","alg":"RS256","n":")" +
                             b64url(bn_bytes(rsa, OSSL_PKEY_PARAM_RSA_N)) + R"(","e":")" +
                             b64url(bn_bytes(rsa, OSSL_PKEY_PARAM_RSA_E)) +
                             R"("},{"kty":"oct","k":"c2VjcmV0"},{"kty":"OKP","crv":"Ed25519","x":"AA"}]})";
    JwtKeys keys;
    std::string error;
    ASSERT_TRUE(keys.load("", jwks, error)) << error;
    EXPECT_EQ(keys.public_key_count(), 2u);
    EXPECT_EQ(keys.skipped(), 2u);

    auto r = verify_jwt(token(R"({"alg":"ES256","kid":"e1"})", kPayload, ec, true), keys);
    EXPECT_TRUE(r.ok) << r.message;
    r = verify_jwt(token(R"({"alg":"ES256"})", kPayload, ec, true), keys);  // no kid: every ES256 key is tried
    EXPECT_TRUE(r.ok) << r.message;
    r = verify_jwt(token(R"({"alg":"RS256","kid":"r1"})", kPayload, rsa, false), keys);
    EXPECT_TRUE(r.ok) << r.message;
    EXPECT_EQ(verify_jwt(token(R"({"alg":"ES256","kid":"e1"})", kPayload, other, true), keys).message,
              "JWT signature does not verify");
    EXPECT_EQ(verify_jwt(token(R"({"alg":"ES256","kid":"nope"})", kPayload, ec, true), keys).message,
              "JWT key id not found");
    // An unknown kid is flagged so a JWKS fetched from a URL is fetched again; a wrong signature is not.
    EXPECT_TRUE(verify_jwt(token(R"({"alg":"ES256","kid":"nope"})", kPayload, ec, true), keys).unknown_key);
    EXPECT_FALSE(verify_jwt(token(R"({"alg":"ES256","kid":"e1"})", kPayload, other, true), keys).unknown_key);
    EXPECT_EQ(verify_jwt(token(R"({"alg":"RS256","kid":"e1"})", kPayload, rsa, false), keys).message,
              "JWT key id not found");  // a kid of another algorithm
    // HS256 is refused when only a JWKS is configured, whatever the token is signed with.
    EXPECT_EQ(verify_jwt(hs256("x", R"({"alg":"HS256"})", kPayload), keys).message,
              "Wrong or unsupported encoding algorithm");
    EXPECT_FALSE(keys.load("", "{\"nokeys\":1}", error));
    EVP_PKEY_free(ec);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(other);
}
