#include "api_claims.hpp"

#include <cctype>

namespace byo::relay::api {

namespace {

ClaimCheck reject(std::string why) { return {false, std::move(why), {}}; }

bool audience_matches(const nlohmann::json& aud, const std::string& expected) {
    if (aud.is_string()) return aud.get<std::string>() == expected;
    if (!aud.is_array()) return false;
    for (const auto& a : aud)
        if (a.is_string() && a.get<std::string>() == expected) return true;
    return false;
}

// A NumericDate as whole seconds; false when absent-but-required or not a number.
bool numeric_date(const nlohmann::json& claims, const char* name, double& out) {
    const auto it = claims.find(name);
    if (it == claims.end() || !it->is_number()) return false;
    out = it->get<double>();
    return true;
}

}  // namespace

bool is_uuid(const std::string& s) {
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
    }
    return true;
}

ClaimCheck check_claims(const nlohmann::json& claims, std::int64_t now, const ClaimRules& rules) {
    if (!claims.is_object()) return reject("JWT claims are not a JSON object");
    double exp = 0, nbf = 0;
    // Required, unlike RFC 7519: a token that never expires would be a password that cannot be changed.
    if (!numeric_date(claims, "exp", exp)) return reject("JWT has no numeric exp claim");
    if (static_cast<double>(now) >= exp + static_cast<double>(rules.leeway_seconds)) return reject("JWT expired");
    if (claims.contains("nbf")) {
        if (!numeric_date(claims, "nbf", nbf)) return reject("JWT nbf claim is not a number");
        if (static_cast<double>(now + rules.leeway_seconds) < nbf) return reject("JWT not yet valid");
    }
    // Required too (PostgREST lets a missing aud pass): a token minted for another audience must not work here.
    const auto aud = claims.find("aud");
    if (aud == claims.end() || !audience_matches(*aud, rules.audience)) return reject("JWT not in audience");
    if (!rules.issuer.empty()) {
        const auto iss = claims.find("iss");
        if (iss == claims.end() || !iss->is_string() || iss->get<std::string>() != rules.issuer)
            return reject("JWT issuer not accepted");
    }
    const auto role = claims.find("role");
    if (role == claims.end() || !role->is_string()) return reject("JWT has no role claim");
    const std::string r = role->get<std::string>();
    if (r != "authenticated") {
        // Only names we know are echoed; anything else could be arbitrary text from the token.
        const bool known = r == "anon" || r == "service_role";
        return reject("JWT role " + (known ? r : std::string("(other)")) +
                      " may not use this API: sign in as a user (role authenticated)");
    }
    const auto sub = claims.find("sub");
    if (sub == claims.end() || !sub->is_string() || !is_uuid(sub->get<std::string>()))
        return reject("JWT sub claim is not a user id (UUID)");
    return {true, {}, sub->get<std::string>()};
}

}  // namespace byo::relay::api
