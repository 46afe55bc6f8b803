// Retry delays for Twilio requests (429 and 5xx): exponential backoff with full jitter, so many senders that
// failed together do not retry together. Randomness is passed in, which keeps the functions pure and testable.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>

namespace byo {

// Uniform in [0, min(cap, base * 2^(attempt-1))], drawn from `random_bits`. `attempt` is 1-based (below 1
// counts as 1); any attempt is safe, the doubling saturates at `cap`. A non-positive base or cap gives 0.
std::chrono::milliseconds full_jitter_backoff(int attempt, std::chrono::milliseconds base,
                                              std::chrono::milliseconds cap, std::uint64_t random_bits);

// The jittered delay, but never less than the Retry-After Twilio sent (which is honoured even above `cap`).
std::chrono::milliseconds retry_delay(int attempt, std::optional<std::chrono::milliseconds> retry_after,
                                      std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                      std::uint64_t random_bits);

}  // namespace byo
