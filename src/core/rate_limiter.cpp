#include "core/rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "core/core_error.hpp"

namespace byo {

namespace {

// Absorbs floating-point drift, so waiting exactly the returned time always succeeds.
constexpr double kSlack = 1e-9;

constexpr auto kIdleLimit = std::chrono::seconds(60);

void check_rate(double rate_per_second, double burst) {
    if (!std::isfinite(rate_per_second) || rate_per_second <= 0 || !std::isfinite(burst) || burst <= 0)
        throw CoreError(sqlstate::invalid_parameter_value, "rate limit rate and burst must be positive numbers");
}

double seconds_between(RateLimiter::Clock::time_point from, RateLimiter::Clock::time_point to) {
    return std::chrono::duration<double>(to - from).count();
}

// Milliseconds to accumulate `shortfall` tokens, rounded up and at least 1 so "wait" is never 0.
std::chrono::milliseconds wait_for(double shortfall, double rate_per_second) {
    const double ms = std::ceil(shortfall / rate_per_second * 1000.0);
    if (!(ms < 9.0e18)) return std::chrono::milliseconds::max();  // a tiny rate; also avoids UB converting
    return std::chrono::milliseconds(std::max<long long>(1, static_cast<long long>(ms)));
}

}  // namespace

RateLimiter::RateLimiter(double default_rate_per_second, double default_burst)
    : default_{default_rate_per_second, default_burst} {
    check_rate(default_rate_per_second, default_burst);
}

void RateLimiter::set_rate(const std::string& key, double rate_per_second, double burst) {
    check_rate(rate_per_second, burst);
    std::lock_guard<std::mutex> lock(mutex_);
    overrides_[key] = Rate{rate_per_second, burst};
    auto it = buckets_.find(key);
    if (it != buckets_.end()) it->second.tokens = std::min(it->second.tokens, burst);
}

RateLimiter::Rate RateLimiter::rate_for(const std::string& key) const {
    auto it = overrides_.find(key);
    return it == overrides_.end() ? default_ : it->second;
}

std::chrono::milliseconds RateLimiter::try_take(const std::string& key, double cost, Clock::time_point now) {
    if (!std::isfinite(cost) || cost < 0)
        throw CoreError(sqlstate::invalid_parameter_value, "rate limit cost must be a non-negative number");
    std::lock_guard<std::mutex> lock(mutex_);
    const Rate rate = rate_for(key);
    auto [it, created] = buckets_.try_emplace(key, Bucket{rate.burst, now});
    Bucket& b = it->second;
    if (!created && now > b.last) {  // a time point earlier than the last one refills nothing
        b.tokens = std::min(rate.burst, b.tokens + rate.per_second * seconds_between(b.last, now));
        b.last = now;
    }
    // Above the burst the bucket can never hold `cost`, so a full bucket is enough.
    const double needed = std::min(cost, rate.burst);
    if (b.tokens + kSlack >= needed) {
        b.tokens -= cost;
        return std::chrono::milliseconds(0);
    }
    return wait_for(needed - b.tokens, rate.per_second);
}

std::size_t RateLimiter::size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return buckets_.size();
}

void RateLimiter::forget_idle(Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = buckets_.begin(); it != buckets_.end();) {
        const Rate rate = rate_for(it->first);
        const Bucket& b = it->second;
        // Only a bucket that has refilled can go: forgetting one still in debt would forgive the debt.
        const bool idle = now - b.last > kIdleLimit;
        const bool full = b.tokens + rate.per_second * seconds_between(b.last, now) + kSlack >= rate.burst;
        it = idle && full ? buckets_.erase(it) : std::next(it);
    }
}

ConcurrencyCap::ConcurrencyCap(int max_per_key) : max_per_key_(max_per_key) {
    if (max_per_key < 1)
        throw CoreError(sqlstate::invalid_parameter_value, "concurrency cap must be at least 1");
}

bool ConcurrencyCap::try_acquire(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    int& n = in_flight_[key];
    if (n >= max_per_key_) return false;
    ++n;
    return true;
}

void ConcurrencyCap::release(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = in_flight_.find(key);
    if (it == in_flight_.end()) return;
    if (--it->second <= 0) in_flight_.erase(it);
}

int ConcurrencyCap::in_flight(const std::string& key) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = in_flight_.find(key);
    return it == in_flight_.end() ? 0 : it->second;
}

}  // namespace byo
