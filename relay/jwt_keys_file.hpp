// The API's verification keys, with the JWKS file re-read when it changes (checked at most every 2 s), so keys
// rotate without a restart: write the new JWKS (old and new keys) to the file, later drop the old one.
#pragma once
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "jwt_verify.hpp"

namespace byo::relay::api {

class JwtKeysFile {
public:
    // Loads once; false with `error` when the file cannot be read or parsed (the relay then refuses to start).
    bool init(std::string secret, std::string path, std::string& error);
    // The current keys; a file that changed into something unreadable keeps the previous keys (logged).
    std::shared_ptr<const JwtKeys> current();

private:
    bool reload(std::string& error);  // with the lock held

    std::mutex mutex_;
    std::string secret_, path_;
    std::shared_ptr<const JwtKeys> keys_;
    std::chrono::steady_clock::time_point checked_{};
    std::int64_t mtime_ns_ = -1;
};

}  // namespace byo::relay::api
