#include "core/backoff.hpp"

#include <algorithm>

namespace byo {

std::chrono::milliseconds full_jitter_backoff(int attempt, std::chrono::milliseconds base,
                                              std::chrono::milliseconds cap, std::uint64_t random_bits) {
    if (base.count() <= 0 || cap.count() <= 0) return std::chrono::milliseconds(0);
    const std::uint64_t b = static_cast<std::uint64_t>(base.count());
    const std::uint64_t c = static_cast<std::uint64_t>(cap.count());
    const unsigned doublings = static_cast<unsigned>(std::max(attempt, 1) - 1);
    // Compare before shifting: base << doublings would overflow long before a large attempt reaches `cap`.
    const std::uint64_t ceiling = doublings >= 63 || b > (c >> doublings) ? c : b << doublings;
    // ceiling < 2^63, so ceiling + 1 cannot wrap; the modulo bias is below ceiling / 2^64, far under 1 ms.
    return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(random_bits % (ceiling + 1)));
}

std::chrono::milliseconds retry_delay(int attempt, std::optional<std::chrono::milliseconds> retry_after,
                                      std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                      std::uint64_t random_bits) {
    const std::chrono::milliseconds jitter = full_jitter_backoff(attempt, base, cap, random_bits);
    return retry_after ? std::max(*retry_after, jitter) : jitter;
}

}  // namespace byo
