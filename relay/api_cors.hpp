// CORS for the API: which browser origins may call it (BYO_TWILIO_API_CORS_ORIGINS), and the headers a preflight
// and an actual answer carry. Credentials are a bearer token, never cookies, so no Allow-Credentials. Pure.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace byo::relay::api {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

class CorsPolicy {
public:
    CorsPolicy() = default;
    // A comma list of origins ("https://app.example.com, http://localhost:3000"), compared exactly (scheme, host
    // and port; a trailing "/" is dropped), or "*" for any origin. Empty: no cross-origin access.
    explicit CorsPolicy(std::string_view list);

    bool allows(std::string_view origin) const;
    // For an answer to a request carrying `origin` (empty: none): Access-Control-Allow-Origin and
    // Access-Control-Expose-Headers when allowed; always Vary: Origin when an origin list is configured.
    HeaderList answer_headers(std::string_view origin) const;
    // For a preflight (OPTIONS) of a path taking `allow`: the answer's headers when `origin` is allowed.
    HeaderList preflight_headers(std::string_view origin, const std::string& allow) const;

private:
    std::vector<std::string> origins_;
    bool any_ = false;
};

}  // namespace byo::relay::api
