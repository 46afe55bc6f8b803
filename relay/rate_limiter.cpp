#include "rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace byo::relay::api {

RateLimiter::RateLimiter(double rate, double burst, std::size_t max_keys)
    : rate_(rate), burst_(std::max(1.0, burst)), max_keys_(std::max<std::size_t>(1, max_keys)) {}

std::size_t RateLimiter::size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return buckets_.size();
}

void RateLimiter::make_room(Clock::time_point now) {
    // A bucket that has refilled completely holds no state worth keeping: a new one would start full too.
    for (auto it = buckets_.begin(); it != buckets_.end();) {
        const double idle = std::chrono::duration<double>(now - it->second.at).count();
        if (it->second.tokens + idle * rate_ >= burst_) it = buckets_.erase(it);
        else ++it;
    }
}

int RateLimiter::take(const std::string& key, Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = buckets_.find(key);
    if (it == buckets_.end()) {
        if (buckets_.size() >= max_keys_) make_room(now);
        // Still full: that many users are all mid-burst. Refusing newcomers briefly keeps memory bounded.
        if (buckets_.size() >= max_keys_) return 1;
        it = buckets_.emplace(key, Bucket{burst_, now}).first;
    }
    Bucket& b = it->second;
    const double elapsed = std::max(0.0, std::chrono::duration<double>(now - b.at).count());
    b.tokens = std::min(burst_, b.tokens + elapsed * rate_);
    b.at = std::max(b.at, now);
    if (b.tokens >= 1.0) {
        b.tokens -= 1.0;
        return 0;
    }
    const double wait = rate_ > 0 ? (1.0 - b.tokens) / rate_ : 3600.0;
    return std::max(1, static_cast<int>(std::ceil(wait)));
}

}  // namespace byo::relay::api
