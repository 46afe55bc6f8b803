// What a verified JWT must say before the API runs anything as its user: the checks on the claims, after the
// signature (jwt_verify.hpp) is known good. Pure, so each rule is unit-tested.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace byo::relay::api {

struct ClaimRules {
    std::string audience = "authenticated";  // `aud` must be it, or an array holding it
    std::string issuer;                      // when set, `iss` must equal it
    std::int64_t leeway_seconds = 30;        // clock skew allowed on exp and nbf
};

struct ClaimCheck {
    bool ok = false;
    std::string message;  // why not: safe to show the client (no claim values but the role)
    std::string sub;      // the user id, when ok
};

// exp (required, a number, not past), nbf (if present, not future), aud, iss, role (required; only
// "authenticated": an anon or service_role token authenticates no user of this API) and sub (a UUID).
ClaimCheck check_claims(const nlohmann::json& claims, std::int64_t now_seconds, const ClaimRules& rules);

// 8-4-4-4-12 hexadecimal digits.
bool is_uuid(const std::string& s);

}  // namespace byo::relay::api
