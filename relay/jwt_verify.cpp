#include "jwt_verify.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>

#include <optional>

namespace byo::relay::api {

namespace {

constexpr std::size_t kMaxToken = 8192;

template <typename T, void (*Free)(T*)>
struct Deleter {
    void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using BldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using SigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

// base64url (RFC 4648 §5, unpadded) → bytes: the alphabet is mapped to standard base64 and padded, then OpenSSL
// decodes it. Anything outside the alphabet (padding, whitespace included) is refused here, since
// EVP_DecodeBlock itself would skip surrounding whitespace.
std::optional<std::string> base64url_decode(std::string_view in) {
    if (in.size() % 4 == 1) return std::nullopt;
    std::string b64;
    b64.reserve(in.size() + 3);
    for (char c : in) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) b64 += c;
        else if (c == '-') b64 += '+';
        else if (c == '_') b64 += '/';
        else return std::nullopt;
    }
    const std::size_t pad = (4 - b64.size() % 4) % 4;
    b64.append(pad, '=');
    std::string out(b64.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
    if (n < 0 || static_cast<std::size_t>(n) < pad) return std::nullopt;
    out.resize(static_cast<std::size_t>(n) - pad);  // EVP_DecodeBlock counts the padding's zero bytes
    return out;
}

std::optional<nlohmann::json> json_object(std::string_view text) {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    return j;
}

std::string string_member(const nlohmann::json& j, const char* name) {
    const auto it = j.find(name);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Builds a public key from OSSL_PARAMs (OpenSSL 3's provider interface; the import checks an EC point is on the curve).
PkeyPtr from_params(const char* type, OSSL_PARAM_BLD* bld) {
    ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    EVP_PKEY* pkey = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
        EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0)
        return nullptr;
    return PkeyPtr(pkey);
}

PkeyPtr ec_p256_key(const nlohmann::json& jwk) {
    const auto x = base64url_decode(string_member(jwk, "x")), y = base64url_decode(string_member(jwk, "y"));
    if (!x || !y || x->size() != 32 || y->size() != 32) return nullptr;
    const std::string point = std::string(1, '\x04') + *x + *y;  // SEC 1 uncompressed point
    BldPtr bld(OSSL_PARAM_BLD_new());
    if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()))
        return nullptr;
    return from_params("EC", bld.get());
}

PkeyPtr rsa_key(const nlohmann::json& jwk) {
    const auto n = base64url_decode(string_member(jwk, "n")), e = base64url_decode(string_member(jwk, "e"));
    if (!n || !e || n->empty() || e->empty() || n->size() > 1024 || e->size() > 8) return nullptr;
    BnPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr));
    BnPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr));
    if (!bn_n || !bn_e || BN_num_bits(bn_n.get()) < 2048) return nullptr;
    BldPtr bld(OSSL_PARAM_BLD_new());
    if (!bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
        !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()))
        return nullptr;
    return from_params("RSA", bld.get());
}

bool digest_verify(EVP_PKEY* key, std::string_view signed_part, const unsigned char* sig, std::size_t sig_len) {
    MdCtxPtr ctx(EVP_MD_CTX_new());
    return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
           EVP_DigestVerify(ctx.get(), sig, sig_len, reinterpret_cast<const unsigned char*>(signed_part.data()),
                            signed_part.size()) == 1;
}

// JWS ES256 signatures are r || s, 32 bytes each (RFC 7518 §3.4); OpenSSL verifies DER, so re-encode.
bool verify_es256(EVP_PKEY* key, std::string_view signed_part, const std::string& sig) {
    if (sig.size() != 64) return false;
    const auto* raw = reinterpret_cast<const unsigned char*>(sig.data());
    SigPtr ecdsa(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(raw, 32, nullptr);
    BIGNUM* s = BN_bin2bn(raw + 32, 32, nullptr);
    if (!ecdsa || !r || !s || ECDSA_SIG_set0(ecdsa.get(), r, s) != 1) {
        BN_free(r);
        BN_free(s);
        return false;
    }
    unsigned char* der = nullptr;
    const int der_len = i2d_ECDSA_SIG(ecdsa.get(), &der);
    if (der_len <= 0) return false;
    const bool ok = digest_verify(key, signed_part, der, static_cast<std::size_t>(der_len));
    OPENSSL_free(der);
    return ok;
}

bool verify_hs256(const std::string& secret, std::string_view signed_part, const std::string& sig) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
              reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size(), mac, &mac_len))
        return false;
    return sig.size() == mac_len && CRYPTO_memcmp(mac, sig.data(), mac_len) == 0;  // constant time
}

JwtResult reject(const char* why) { return {false, why, {}}; }

}  // namespace

struct JwtKeys::PublicKey {
    std::string kid;
    std::string alg;  // ES256 or RS256, from the key's type
    PkeyPtr pkey;
};

bool JwtKeys::load(std::string hs256_secret, std::string_view jwks_json, std::string& error) {
    secret_ = std::move(hs256_secret);
    keys_.clear();
    skipped_ = 0;
    if (jwks_json.empty()) return true;
    const auto doc = json_object(jwks_json);
    if (!doc || !doc->contains("keys") || !(*doc)["keys"].is_array()) {
        error = "the JWKS is not a JSON object with a \"keys\" array";
        return false;
    }
    for (const auto& jwk : (*doc)["keys"]) {
        if (!jwk.is_object()) { ++skipped_; continue; }
        const std::string kty = string_member(jwk, "kty"), use = string_member(jwk, "use");
        const std::string alg = string_member(jwk, "alg");
        auto key = std::make_shared<PublicKey>();
        key->kid = string_member(jwk, "kid");
        if (kty == "EC" && string_member(jwk, "crv") == "P-256") {
            key->alg = "ES256";
            key->pkey = ec_p256_key(jwk);
        } else if (kty == "RSA") {
            key->alg = "RS256";
            key->pkey = rsa_key(jwk);
        }
        if (!key->pkey || (!use.empty() && use != "sig") || (!alg.empty() && alg != key->alg)) {
            ++skipped_;
            continue;
        }
        keys_.push_back(std::move(key));
    }
    return true;
}

JwtResult verify_jwt(std::string_view token, const JwtKeys& keys) {
    if (token.empty()) return reject("empty JWT");
    if (token.size() > kMaxToken) return reject("JWT too long");
    const auto dot1 = token.find('.');
    const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
        return reject("Expected 3 parts in JWT");
    const auto header_text = base64url_decode(token.substr(0, dot1));
    const auto payload_text = base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
    const auto sig = base64url_decode(token.substr(dot2 + 1));
    if (!header_text || !payload_text || !sig) return reject("JWT is not base64url");
    const auto header = json_object(*header_text);
    if (!header) return reject("JWT header is not a JSON object");
    const std::string alg = string_member(*header, "alg"), kid = string_member(*header, "kid");
    const std::string_view signed_part = token.substr(0, dot2);

    bool verified = false;
    if (alg == "HS256") {
        if (!keys.has_hs256()) return reject("Wrong or unsupported encoding algorithm");
        verified = verify_hs256(keys.secret_, signed_part, *sig);
    } else if (alg == "ES256" || alg == "RS256") {
        bool any_key = false;
        for (const auto& key : keys.keys_) {
            // With a kid, only that key; without one, every key of the algorithm (as PostgREST does).
            if (key->alg != alg || (!kid.empty() && key->kid != kid)) continue;
            any_key = true;
            verified = alg == "ES256" ? verify_es256(key->pkey.get(), signed_part, *sig)
                                      : digest_verify(key->pkey.get(), signed_part,
                                                      reinterpret_cast<const unsigned char*>(sig->data()), sig->size());
            if (verified) break;
        }
        if (!any_key) {
            JwtResult r = reject("JWT key id not found");
            r.unknown_key = !kid.empty();
            return r;
        }
    } else {
        return reject("Wrong or unsupported encoding algorithm");
    }
    if (!verified) return reject("JWT signature does not verify");
    auto claims = json_object(*payload_text);
    if (!claims) return reject("JWT payload is not a JSON object");
    return {true, {}, std::move(*claims)};
}

}  // namespace byo::relay::api
