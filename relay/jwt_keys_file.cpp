#include "jwt_keys_file.hpp"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "json_log.hpp"

namespace byo::relay::api {

namespace {

constexpr std::size_t kMaxJwks = 256 * 1024;

std::int64_t mtime_of(const std::string& path) {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) return -1;
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

}  // namespace

bool JwtKeysFile::init(std::string secret, std::string path, std::string& error) {
    std::lock_guard<std::mutex> lock(mutex_);
    secret_ = std::move(secret);
    path_ = std::move(path);
    checked_ = std::chrono::steady_clock::now();
    return reload(error);
}

bool JwtKeysFile::reload(std::string& error) {
    std::string text;
    if (!path_.empty()) {
        mtime_ns_ = mtime_of(path_);
        std::ifstream in(path_, std::ios::binary);
        if (!in) {
            error = "BYO_TWILIO_JWKS_FILE cannot be read";
            return false;
        }
        std::ostringstream ss;
        ss << in.rdbuf();
        text = ss.str();
        if (text.size() > kMaxJwks) {
            error = "BYO_TWILIO_JWKS_FILE is over 256 KiB";
            return false;
        }
    }
    auto keys = std::make_shared<JwtKeys>();
    if (!keys->load(secret_, text, error)) return false;
    if (!path_.empty())
        log_event("jwks_loaded", {{"keys", keys->public_key_count()}, {"skipped", keys->skipped()}});
    keys_ = std::move(keys);
    return true;
}

std::shared_ptr<const JwtKeys> JwtKeysFile::current() {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (!path_.empty() && now - checked_ >= std::chrono::seconds(2)) {
        checked_ = now;
        if (mtime_of(path_) != mtime_ns_) {
            std::string error;
            if (!reload(error)) log_event("jwks_error", {{"message", error}, {"kept", "previous keys"}});
        }
    }
    return keys_;
}

}  // namespace byo::relay::api
