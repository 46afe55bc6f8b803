// Strict UTF-8 validation (RFC 3629), as PostgreSQL checks text parameters: no overlong forms, no surrogates
// (CESU-8), nothing past U+10FFFF. The relay checks a webhook before its SQL call, so that bad input is the
// sender's 400 instead of a database error (SQLSTATE 22021) answered 503 and retried forever. Header-only: pure.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace byo::relay {

inline bool valid_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned char c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        std::uint32_t cp = 0;
        if (c >= 0xC2 && c <= 0xDF) {  // 0xC0 and 0xC1 could only start overlong forms
            len = 2, cp = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3, cp = c & 0x0Fu;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4, cp = c & 0x07u;
        } else {
            return false;  // a continuation byte where a character should start, or 0xF5..0xFF
        }
        if (n - i < len) return false;
        for (std::size_t k = 1; k < len; ++k) {
            const unsigned char d = p[i + k];
            if ((d & 0xC0u) != 0x80u) return false;
            cp = (cp << 6) | (d & 0x3Fu);
        }
        if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return false;  // overlong, surrogate
        if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return false;                 // overlong, too large
        i += len;
    }
    return true;
}

}  // namespace byo::relay
