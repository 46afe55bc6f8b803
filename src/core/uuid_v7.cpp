#include "core/uuid_v7.hpp"

#include <openssl/rand.h>

#include "core/core_error.hpp"

namespace byo {

Uuid uuid_v7_layout(std::uint64_t unix_ms, std::uint32_t sub_ms, std::uint64_t random) {
    Uuid u{};
    for (int i = 0; i < 6; ++i) u[i] = static_cast<std::uint8_t>(unix_ms >> (40 - 8 * i));
    sub_ms &= 0xFFF;
    u[6] = static_cast<std::uint8_t>(0x70 | (sub_ms >> 8));
    u[7] = static_cast<std::uint8_t>(sub_ms);
    u[8] = static_cast<std::uint8_t>(0x80 | ((random >> 56) & 0x3F));
    for (int i = 9; i < 16; ++i) u[i] = static_cast<std::uint8_t>(random >> (8 * (15 - i)));
    return u;
}

Uuid UuidV7Generator::next(std::uint64_t unix_ns, std::uint64_t random) {
    const std::uint64_t ms = unix_ns / 1000000;
    const std::uint64_t sub = (unix_ns % 1000000) * 4096 / 1000000;  // 1/4096 ms steps, < 4096
    std::uint64_t t = (ms << 12) | sub;
    if (t <= last_) t = last_ + 1;
    last_ = t;
    return uuid_v7_layout(t >> 12, static_cast<std::uint32_t>(t & 0xFFF), random);
}

std::uint64_t uuid_random_bits() {
    unsigned char b[8];
    if (RAND_bytes(b, sizeof b) != 1) throw CoreError(sqlstate::internal_error, "could not generate random bytes");
    std::uint64_t r = 0;
    for (unsigned char c : b) r = (r << 8) | c;
    return r;
}

}  // namespace byo
