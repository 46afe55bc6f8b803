#include "api_config.hpp"

#include <sys/stat.h>

#include <cstdlib>

#include "config.hpp"

#ifndef BYO_WEB_INSTALL_DIR
#define BYO_WEB_INSTALL_DIR ""
#endif
#ifndef BYO_WEB_SOURCE_DIR
#define BYO_WEB_SOURCE_DIR ""
#endif

namespace byo::relay::api {

namespace {

std::string env(const std::function<const char*(const char*)>& getenv, const char* name) {
    const char* v = getenv(name);
    return v ? std::string(v) : std::string();
}

double number(const std::string& text, const char* name, double lo, double hi) {
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !(v >= lo && v <= hi))
        throw ConfigError(std::string(name) + " must be a number from " + std::to_string(lo) + " to " +
                          std::to_string(hi) + ", got \"" + text + "\"");
    return v;
}

bool is_dir(const std::string& path) {
    struct stat st{};
    return !path.empty() && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

ApiConfig load_api_config(const std::function<const char*(const char*)>& getenv) {
    ApiConfig c;
    c.database_url = env(getenv, "BYO_TWILIO_API_DATABASE_URL");
    c.enabled = !c.database_url.empty();
    c.jwt_secret = env(getenv, "BYO_TWILIO_JWT_SECRET");
    c.jwks_file = env(getenv, "BYO_TWILIO_JWKS_FILE");
    c.jwks_url = env(getenv, "BYO_TWILIO_JWKS_URL");
    c.jwks_ca_file = env(getenv, "BYO_TWILIO_JWKS_CA_FILE");
    if (auto v = env(getenv, "BYO_TWILIO_JWKS_REFRESH_SECONDS"); !v.empty())
        c.jwks_refresh_seconds = static_cast<int>(number(v, "BYO_TWILIO_JWKS_REFRESH_SECONDS", 1, 86400));
    if (auto v = env(getenv, "BYO_TWILIO_JWT_AUD"); !v.empty()) c.jwt_aud = v;
    c.jwt_iss = env(getenv, "BYO_TWILIO_JWT_ISS");
    if (auto v = env(getenv, "BYO_TWILIO_API_POOL_SIZE"); !v.empty())
        c.pool_size = static_cast<int>(number(v, "BYO_TWILIO_API_POOL_SIZE", 1, 1000));
    if (auto v = env(getenv, "BYO_TWILIO_API_QUEUE_MAX"); !v.empty())
        c.queue_max = static_cast<std::size_t>(number(v, "BYO_TWILIO_API_QUEUE_MAX", 1, 1000000));
    if (auto v = env(getenv, "BYO_TWILIO_API_RATE"); !v.empty()) c.rate = number(v, "BYO_TWILIO_API_RATE", 0.001, 1e6);
    if (auto v = env(getenv, "BYO_TWILIO_API_BURST"); !v.empty()) c.burst = number(v, "BYO_TWILIO_API_BURST", 1, 1e6);
    if (auto v = env(getenv, "BYO_TWILIO_API_BODY_LIMIT"); !v.empty())
        c.body_limit = static_cast<std::size_t>(number(v, "BYO_TWILIO_API_BODY_LIMIT", 1, 64 * 1024 * 1024));
    c.cors_origins = env(getenv, "BYO_TWILIO_API_CORS_ORIGINS");
    c.web_dir = env(getenv, "BYO_TWILIO_WEB_DIR");
    if (c.web_dir.empty()) c.web_dir = is_dir(BYO_WEB_INSTALL_DIR) ? BYO_WEB_INSTALL_DIR : BYO_WEB_SOURCE_DIR;

    if (c.enabled) {
        if (c.jwt_secret.empty() && c.jwks_file.empty() && c.jwks_url.empty())
            throw ConfigError("BYO_TWILIO_API_DATABASE_URL is set: the API also needs BYO_TWILIO_JWT_SECRET "
                              "and/or BYO_TWILIO_JWKS_FILE or BYO_TWILIO_JWKS_URL");
        if (!c.jwks_file.empty() && !c.jwks_url.empty())
            throw ConfigError("BYO_TWILIO_JWKS_FILE and BYO_TWILIO_JWKS_URL are both set: use one of them");
        if (!c.jwks_url.empty() && c.jwks_url.rfind("https://", 0) != 0)
            throw ConfigError("BYO_TWILIO_JWKS_URL must start with https://");
        // Supabase's secrets are 40+ characters; a short one could be guessed offline from any token.
        if (!c.jwt_secret.empty() && c.jwt_secret.size() < 32)
            throw ConfigError("BYO_TWILIO_JWT_SECRET must be at least 32 characters");
    }
    return c;
}

const char* api_help_text() {
    return R"(
App API (/api/twilio/..., on when BYO_TWILIO_API_DATABASE_URL is set; docs/http-api.md):
  BYO_TWILIO_API_DATABASE_URL libpq conninfo of the API's login role (NOINHERIT, granted
                              only anon and authenticated); its own pool
  BYO_TWILIO_JWT_SECRET       HS256 secret (the project's JWT secret), >= 32 characters
  BYO_TWILIO_JWKS_FILE        JWKS file with ES256/RS256 public keys, re-read on change
  BYO_TWILIO_JWKS_URL         or an https:// URL to fetch the JWKS from (not both), e.g.
                              https://<ref>.supabase.co/auth/v1/.well-known/jwks.json
  BYO_TWILIO_JWKS_REFRESH_SECONDS  refetch period; also early on an unknown kid [300]
  BYO_TWILIO_JWKS_CA_FILE     CA bundle for the JWKS URL's certificate        [system's]
  BYO_TWILIO_JWT_AUD          required audience                                  [authenticated]
  BYO_TWILIO_JWT_ISS          required issuer, e.g. https://<ref>.supabase.co/auth/v1   [not checked]
  BYO_TWILIO_API_POOL_SIZE    API database connections                                [4]
  BYO_TWILIO_API_QUEUE_MAX    API calls waiting for a connection; more get 503        [256]
  BYO_TWILIO_API_RATE         requests per second per user (token bucket)             [10]
  BYO_TWILIO_API_BURST        burst per user                                          [20]
  BYO_TWILIO_API_BODY_LIMIT   largest API body in bytes (also capped by BODY_LIMIT)   [65536]
  BYO_TWILIO_API_CORS_ORIGINS comma list of browser origins allowed, or *              [none]
  BYO_TWILIO_WEB_DIR          directory served at /ui/                    [installed or source web/]
)";
}

}  // namespace byo::relay::api
