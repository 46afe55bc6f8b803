// Admission control for outbound sends: a token bucket per key (user id or account SID) so one sender cannot
// exceed Twilio's throughput, and a cap on requests in flight per key. Both are safe to share between threads.
#pragma once
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace byo {

class RateLimiter {
public:
    using Clock = std::chrono::steady_clock;

    // Buckets refill at `default_rate_per_second` tokens up to `default_burst`. Throws CoreError 22023 unless
    // both are finite and positive.
    RateLimiter(double default_rate_per_second, double default_burst);

    // Per-key override (same validation); an existing bucket keeps its tokens, clamped to the new burst.
    void set_rate(const std::string& key, double rate_per_second, double burst);

    // Takes `cost` tokens (SMS segments) for key at `now` if available and returns 0ms; otherwise takes
    // nothing and returns how long until they would be available (>0). A cost above the burst is allowed when
    // the bucket is full (so a long message is never starved) and drives it negative. Throws CoreError 22023
    // for a negative or non-finite cost.
    std::chrono::milliseconds try_take(const std::string& key, double cost, Clock::time_point now);

    // Number of buckets held.
    std::size_t size() const;

    // Drops buckets that are full again and idle for more than 60 s, to bound memory; a dropped key starts
    // over with a full bucket, which is what it would have anyway.
    void forget_idle(Clock::time_point now);

private:
    struct Rate {
        double per_second;
        double burst;
    };
    struct Bucket {
        double tokens;
        Clock::time_point last;  // when tokens was last brought up to date (the last take)
    };

    Rate rate_for(const std::string& key) const;

    mutable std::mutex mutex_;
    Rate default_;
    std::unordered_map<std::string, Rate> overrides_;
    std::unordered_map<std::string, Bucket> buckets_;
};

class ConcurrencyCap {
public:
    // Throws CoreError 22023 when max_per_key < 1.
    explicit ConcurrencyCap(int max_per_key);

    // Reserves a slot for key; false (nothing reserved) when key already has max_per_key in flight.
    bool try_acquire(const std::string& key);

    // Frees a slot taken by try_acquire; releasing a key with nothing in flight does nothing.
    void release(const std::string& key);

    int in_flight(const std::string& key) const;

private:
    mutable std::mutex mutex_;
    int max_per_key_;
    std::unordered_map<std::string, int> in_flight_;  // only keys with slots taken, so memory stays bounded
};

}  // namespace byo
