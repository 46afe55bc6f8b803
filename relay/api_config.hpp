// The API's settings (BYO_TWILIO_API_*, BYO_TWILIO_JWT_*, BYO_TWILIO_WEB_DIR), read beside the webhook settings
// (config.hpp). The API is on when BYO_TWILIO_API_DATABASE_URL is set; it then needs a JWT secret or a JWKS
// (file or URL).
#pragma once
#include <cstddef>
#include <functional>
#include <string>

namespace byo::relay::api {

struct ApiConfig {
    bool enabled = false;
    std::string database_url;   // the authenticator-like role's conninfo; never logged
    int pool_size = 4;
    std::size_t queue_max = 256;
    std::string jwt_secret;     // HS256; at least 32 characters when set; never logged
    std::string jwks_file;      // ES256/RS256 public keys; re-read when the file changes
    std::string jwks_url;       // or the same fetched over HTTPS (not both)
    std::string jwks_ca_file;   // CA bundle for the URL's certificate; empty: the system's
    int jwks_refresh_seconds = 300;
    std::string jwt_aud = "authenticated";
    std::string jwt_iss;        // optional
    double rate = 10;           // requests per second per user
    double burst = 20;
    std::size_t body_limit = 65536;
    std::string cors_origins;
    std::string web_dir;        // served at /ui/; empty: the installed or source web/ directory
};

// Throws ConfigError (config.hpp) naming the variable at fault.
ApiConfig load_api_config(const std::function<const char*(const char*)>& getenv);

// The --help lines for these variables.
const char* api_help_text();

}  // namespace byo::relay::api
