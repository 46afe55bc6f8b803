// The app-facing HTTP API under /api/twilio/ (docs/http-api.md): CORS, the route, the JWT, the per-user rate
// limit and the body are checked on the event loop, in that order, and only then does one SQL call go to the
// API's executor (api_executor.hpp). Everything the database says comes back as JSON.
#pragma once
#include <memory>

#include "api_config.hpp"
#include "api_cors.hpp"
#include "api_executor.hpp"
#include "db_pool.hpp"
#include "http_server.hpp"
#include "jwks_url.hpp"
#include "jwt_keys_file.hpp"
#include "rate_limiter.hpp"

namespace byo::relay::api {

class ApiService {
public:
    // Throws ConfigError when the keys cannot be loaded.
    ApiService(const ApiConfig& config, std::chrono::milliseconds db_timeout);
    ~ApiService();

    // Any request whose path starts with /api/.
    void handle(HttpRequest&& req, Responder reply);
    void stop();

    int pool_size() const { return pool_.size(); }

private:
    const ApiConfig& config_;
    const std::chrono::milliseconds db_timeout_;
    CorsPolicy cors_;
    RateLimiter limiter_;
    JwtKeysFile keys_file_;           // the secret and BYO_TWILIO_JWKS_FILE, or
    std::unique_ptr<JwksUrl> keys_url_;  // the secret and BYO_TWILIO_JWKS_URL
    DbPool pool_;
    ApiExecutor executor_;
};

// The answer for an API request the API is switched off for (no BYO_TWILIO_API_DATABASE_URL).
HttpResponse api_disabled_response();

}  // namespace byo::relay::api
