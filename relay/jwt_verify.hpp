// JWT signature verification for the API: HS256 with the project's shared secret, ES256 (P-256) and RS256 with
// public keys from a JWKS document, as Supabase signs its access tokens. The algorithm comes from the key we hold,
// never from the token alone: a token naming an algorithm we have no key for (none, HS384, or HS256 when only a
// JWKS is configured) is refused. Crypto, base64 and JSON are OpenSSL's and nlohmann's; this file only wires them.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace byo::relay::api {

struct JwtResult {
    bool ok = false;
    std::string message;     // why not: fixed texts, never token contents
    nlohmann::json claims;   // the payload, when ok (the claims are not checked here: api_claims.hpp)
    bool unknown_key = false;  // the header's kid names no key we hold (the issuer may have rotated its keys)
};

// A set of verification keys; immutable once built, so requests share one without locks.
class JwtKeys {
public:
    struct PublicKey;  // defined in jwt_verify.cpp (holds an EVP_PKEY)

    // `hs256_secret` (may be empty: no HS256) and a JWKS document's text (may be empty). Keys a JWKS holds that
    // we cannot use (kty oct or OKP, "use" other than "sig", RSA under 2048 bits) are skipped and counted in
    // `skipped`; a document that is not JSON of the form {"keys": [...]} is an error (false, `error` says why).
    bool load(std::string hs256_secret, std::string_view jwks_json, std::string& error);

    std::size_t public_key_count() const { return keys_.size(); }
    std::size_t skipped() const { return skipped_; }
    bool has_hs256() const { return !secret_.empty(); }

private:
    friend JwtResult verify_jwt(std::string_view token, const JwtKeys& keys);
    std::string secret_;
    std::vector<std::shared_ptr<const PublicKey>> keys_;
    std::size_t skipped_ = 0;
};

// Checks the token's form (three base64url parts, at most 8 KiB, a JSON object header and payload) and its
// signature with the key the header's alg and kid select.
JwtResult verify_jwt(std::string_view token, const JwtKeys& keys);

}  // namespace byo::relay::api
