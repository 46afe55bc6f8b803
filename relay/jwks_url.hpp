// The API's verification keys fetched over HTTPS from BYO_TWILIO_JWKS_URL (Supabase publishes its signing keys at
// https://<ref>.supabase.co/auth/v1/.well-known/jwks.json): once at start, then on a background thread every
// refresh period and early when a token names an unknown kid (jwks_refresh.hpp). Requests never wait on a fetch:
// they read the last good key set, which a failed fetch leaves in place.
#pragma once
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "jwks_refresh.hpp"
#include "jwt_verify.hpp"

namespace byo::relay::api {

struct JwksUrlSettings {
    std::string hs256_secret;   // kept beside the fetched keys (may be empty)
    std::string url;            // https:// only
    std::string ca_file;        // empty: the system's trust store
    std::chrono::seconds refresh{300};
};

class JwksUrl {
public:
    // Fetches once (bounded by the fetch timeouts) and starts the refresh thread. A failed first fetch is logged
    // and leaves only the HS256 secret in use until a later fetch succeeds; the relay still starts.
    explicit JwksUrl(JwksUrlSettings settings);
    ~JwksUrl();
    JwksUrl(const JwksUrl&) = delete;
    JwksUrl& operator=(const JwksUrl&) = delete;

    std::shared_ptr<const JwtKeys> current();
    // A token named a kid no key has: wake the thread for an early fetch (rate-limited; never blocks on it).
    void unknown_kid();

private:
    void run();
    void fetch(const char* trigger);  // without the lock held

    const JwksUrlSettings settings_;
    std::mutex mutex_;
    std::condition_variable wake_;
    JwksRefreshPolicy policy_;
    std::shared_ptr<const JwtKeys> keys_;
    bool early_ = false, stop_ = false;
    std::thread thread_;
};

}  // namespace byo::relay::api
