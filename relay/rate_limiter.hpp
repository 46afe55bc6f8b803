// Per-user request rate limit for the API: a token bucket per JWT subject, `rate` requests a second with bursts
// of `burst`. Memory is bounded: at most `max_keys` buckets; full (idle) buckets are dropped to make room.
#pragma once
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace byo::relay::api {

class RateLimiter {
public:
    using Clock = std::chrono::steady_clock;

    RateLimiter(double rate, double burst, std::size_t max_keys = 100000);

    // Takes one token from `key`'s bucket: 0 when the request may go, else the whole seconds (>= 1) until a
    // token is there, for Retry-After.
    int take(const std::string& key, Clock::time_point now);

    std::size_t size() const;

private:
    struct Bucket {
        double tokens;
        Clock::time_point at;
    };
    void make_room(Clock::time_point now);  // with the lock held

    const double rate_, burst_;
    const std::size_t max_keys_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace byo::relay::api
