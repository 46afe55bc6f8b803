// When the relay fetches the JWKS from BYO_TWILIO_JWKS_URL again: on a fixed period, and early when a token names
// a key id we do not hold (the issuer has rotated its keys), but such early fetches at most once per `min_gap`, so
// a stream of tokens with made-up kids cannot turn the relay into a flood of requests to the issuer.
// Pure logic with the clock passed in, so tests need no waiting; the caller holds whatever lock guards it.
#pragma once
#include <chrono>

namespace byo::relay::api {

class JwksRefreshPolicy {
public:
    using Clock = std::chrono::steady_clock;

    JwksRefreshPolicy(std::chrono::seconds every, std::chrono::seconds min_gap = std::chrono::seconds(30))
        : every_(every), min_gap_(min_gap) {}

    // A fetch (successful or not) ended at `now`: the next scheduled one is a period later.
    void fetched(Clock::time_point now) { next_due_ = now + every_; }
    Clock::time_point next_due() const { return next_due_; }

    // A token named an unknown kid at `now`: true when an early fetch should start now.
    bool unknown_kid(Clock::time_point now) {
        if (early_before_ && now - last_early_ < min_gap_) return false;
        early_before_ = true;
        last_early_ = now;
        return true;
    }

private:
    std::chrono::seconds every_, min_gap_;
    Clock::time_point next_due_{};
    Clock::time_point last_early_{};
    bool early_before_ = false;
};

}  // namespace byo::relay::api
