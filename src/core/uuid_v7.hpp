// Time-ordered UUIDs (RFC 9562 version 7) for the ids of rows written at a high rate (messages, conversations).
// A random (version 4) primary key sends every insert to a random leaf of its B-tree, so at scale each insert
// reads and dirties a page no other recent insert touched; version 7 ids grow with time and land on the index's
// right edge. Measured in docs/benchmarks.md. PostgreSQL 18 has uuidv7(); this is the same layout for 15-17.
#pragma once
#include <array>
#include <cstdint>

namespace byo {

using Uuid = std::array<std::uint8_t, 16>;

// Layout: 48-bit Unix time in milliseconds, version 7, 12 bits of sub-millisecond time (RFC 9562, method 3), the
// variant, then 62 random bits. `sub_ms` is taken modulo 4096; `random` supplies the last 62 bits.
Uuid uuid_v7_layout(std::uint64_t unix_ms, std::uint32_t sub_ms, std::uint64_t random);

// Ids from one generator strictly increase, even when the clock stands still or steps back: the time part then
// moves one step past the last id's (RFC 9562, section 6.2). Not thread-safe: one per backend.
class UuidV7Generator {
public:
    // `unix_ns` the wall clock in nanoseconds, `random` 64 random bits (the low 62 are used).
    Uuid next(std::uint64_t unix_ns, std::uint64_t random);

private:
    std::uint64_t last_ = 0;  // the last id's 60-bit time part: milliseconds << 12 | sub-millisecond steps
};

// 8 bytes from OpenSSL's CSPRNG; throws CoreError (XX000) if it fails.
std::uint64_t uuid_random_bits();

}  // namespace byo
