#include "core/sms_segments.hpp"

#include <climits>
#include <cstddef>

namespace byo {

namespace {

// The GSM 03.38 default alphabet in code order (0x00-0x7F), without the escape at 0x1B.
constexpr std::u16string_view kGsmBasic =
    u"@£$¥èéùìòÇ\nØø\rÅå"
    u"Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    u" !\"#¤%&'()*+,-./"
    u"0123456789:;<=>?"
    u"¡ABCDEFGHIJKLMNO"
    u"PQRSTUVWXYZÄÖÑÜ§"
    u"¿abcdefghijklmno"
    u"pqrstuvwxyzäöñüà";
static_assert(kGsmBasic.size() == 127, "GSM-7 basic set has 128 codes, one of them the escape");

// Characters reached through the escape, so each costs two septets.
constexpr std::u16string_view kGsmExtension = u"\f^{}\\[~]|€";
static_assert(kGsmExtension.size() == 10, "GSM-7 extension table as Twilio encodes it");

constexpr char32_t kMalformed = 0xFFFFFFFF;

// Decodes the code point at s[i] and advances past it. Anything not well-formed UTF-8 (bad lead or
// continuation byte, truncation, overlong form, surrogate, beyond U+10FFFF) consumes one byte only.
char32_t next_code_point(std::string_view s, std::size_t& i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned b0 = byte(i);
    if (b0 < 0x80) return ++i, b0;
    const std::size_t len = (b0 >> 5) == 0x6 ? 2 : (b0 >> 4) == 0xE ? 3 : (b0 >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return ++i, kMalformed;
    char32_t cp = b0 & (0xFFu >> (len + 1));
    for (std::size_t k = 1; k < len; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) return ++i, kMalformed;
        cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    static constexpr char32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinimum[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return ++i, kMalformed;
    i += len;
    return cp;
}

// Septets for one character in GSM-7, or 0 when GSM-7 cannot carry it.
std::size_t gsm_septets(char32_t cp) {
    if (cp > 0xFFFF) return 0;
    const char16_t c = static_cast<char16_t>(cp);
    if (kGsmBasic.find(c) != std::u16string_view::npos) return 1;
    if (kGsmExtension.find(c) != std::u16string_view::npos) return 2;
    return 0;
}

// UTF-16 code units for one character; a malformed byte becomes U+FFFD, a single unit.
std::size_t utf16_units(char32_t cp) { return cp != kMalformed && cp > 0xFFFF ? 2 : 1; }

// Segments for `total` units when each character's units must stay within one segment: one segment when
// everything fits, otherwise filled greedily because a boundary that would split a character moves before it.
template <typename UnitsOf>
std::size_t segments(std::string_view body, std::size_t total, std::size_t single, std::size_t per_part,
                     UnitsOf units_of) {
    if (total == 0) return 0;
    if (total <= single) return 1;
    std::size_t count = 1, used = 0;
    for (std::size_t i = 0; i < body.size();) {
        const std::size_t units = units_of(next_code_point(body, i));
        if (used + units > per_part) {
            ++count;
            used = 0;
        }
        used += units;
    }
    return count;
}

int saturate(std::size_t n) { return n > static_cast<std::size_t>(INT_MAX) ? INT_MAX : static_cast<int>(n); }

}  // namespace

SegmentCount count_sms_segments(std::string_view utf8_body) {
    bool gsm = true;
    std::size_t septets = 0, utf16 = 0;
    for (std::size_t i = 0; i < utf8_body.size();) {
        const char32_t cp = next_code_point(utf8_body, i);
        const std::size_t s = cp == kMalformed ? 0 : gsm_septets(cp);
        gsm = gsm && s != 0;
        septets += s;
        utf16 += utf16_units(cp);
    }
    if (gsm) {
        const auto units = [](char32_t cp) { return gsm_septets(cp); };
        return {saturate(segments(utf8_body, septets, 160, 153, units)), false, saturate(septets)};
    }
    return {saturate(segments(utf8_body, utf16, 70, 67, utf16_units)), true, saturate(utf16)};
}

}  // namespace byo
