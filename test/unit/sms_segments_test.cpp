// Segment counts at the GSM-7 and UCS-2 boundaries, including characters that must not straddle a segment.
#include <gtest/gtest.h>

#include <string>

#include "core/sms_segments.hpp"

using namespace byo;

namespace {

std::string repeat(const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
}

const std::string kHan = "\xE4\xBD\xA0";        // U+4F60, not in GSM-7: one UTF-16 unit
const std::string kEmoji = "\xF0\x9F\x98\x80";  // U+1F600: a surrogate pair
const std::string kEuro = "\xE2\x82\xAC";       // extension table

void expect_count(const std::string& body, int segments, bool ucs2, int units) {
    SegmentCount c = count_sms_segments(body);
    EXPECT_EQ(c.segments, segments);
    EXPECT_EQ(c.ucs2, ucs2);
    EXPECT_EQ(c.units, units);
}

}  // namespace

TEST(SmsSegments, Empty) { expect_count("", 0, false, 0); }

TEST(SmsSegments, Gsm7Boundaries) {
    expect_count("a", 1, false, 1);
    expect_count(repeat("a", 160), 1, false, 160);
    expect_count(repeat("a", 161), 2, false, 161);
    expect_count(repeat("a", 306), 2, false, 306);
    expect_count(repeat("a", 307), 3, false, 307);
}

TEST(SmsSegments, ExtensionCharactersTakeTwoSeptets) {
    expect_count(kEuro, 1, false, 2);
    expect_count("{", 1, false, 2);
    for (const char* c : {"^", "{", "}", "\\", "[", "~", "]", "|", "\f"}) expect_count(c, 1, false, 2);
    expect_count(repeat("a", 158) + "{", 1, false, 160);
    expect_count(repeat("a", 159) + "{", 2, false, 161);
}

TEST(SmsSegments, ExtensionCharacterIsNotSplit) {
    // The '{' at position 153 would straddle the first boundary, so it opens the second segment.
    expect_count(repeat("a", 152) + "{" + repeat("a", 10), 2, false, 164);
    expect_count(repeat("a", 152) + "{" + repeat("a", 152), 3, false, 306);
    expect_count(repeat("a", 151) + "{" + repeat("a", 153), 2, false, 306);
    expect_count(repeat("a", 152) + kEuro + repeat("a", 151), 2, false, 305);
}

TEST(SmsSegments, WholeBasicSetIsGsm7) {
    const std::string basic =
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
        "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
    expect_count(basic, 1, false, 127);
}

TEST(SmsSegments, CharactersOutsideGsm7) {
    for (const char* c : {"`", "\t", "ç", "á", "Ä\xCC\x88", "\xE2\x80\x99", "\x01"}) {
        SegmentCount count = count_sms_segments(c);
        EXPECT_TRUE(count.ucs2) << c;
    }
}

TEST(SmsSegments, Ucs2Boundaries) {
    expect_count(repeat(kHan, 70), 1, true, 70);
    expect_count(repeat(kHan, 71), 2, true, 71);
    expect_count(repeat(kHan, 134), 2, true, 134);
    expect_count(repeat(kHan, 135), 3, true, 135);
}

TEST(SmsSegments, EmojiIsTwoUnits) {
    expect_count(kEmoji, 1, true, 2);
    expect_count(repeat(kEmoji, 35), 1, true, 70);
    expect_count(repeat(kEmoji, 36), 2, true, 72);
}

TEST(SmsSegments, SurrogatePairIsNotSplit) {
    // The pair would take units 67 and 68, so it opens the second segment.
    expect_count(repeat(kHan, 66) + kEmoji + repeat(kHan, 66), 3, true, 134);
    expect_count(repeat(kHan, 65) + kEmoji + repeat(kHan, 67), 2, true, 134);
}

TEST(SmsSegments, OneEmojiMakesGsmTextUcs2) {
    expect_count("Hello " + kEmoji, 1, true, 8);
    expect_count(repeat("a", 69) + kEmoji, 2, true, 71);
    expect_count("{" + kEmoji, 1, true, 3);  // extension characters are one unit in UCS-2
}

TEST(SmsSegments, InvalidUtf8CountsEachBadByte) {
    expect_count("a\xFF" "b", 1, true, 3);
    expect_count("\xE4\xBD", 1, true, 2);                  // truncated sequence
    expect_count("\xC0\x80", 1, true, 2);                  // overlong NUL
    expect_count("\xED\xA0\x80", 1, true, 3);              // encoded surrogate
    expect_count("\xF4\x90\x80\x80", 1, true, 4);          // beyond U+10FFFF
    expect_count("\x80" + kHan, 1, true, 2);               // stray continuation, then a good character
    expect_count(repeat("\xFF", 71), 2, true, 71);
}
