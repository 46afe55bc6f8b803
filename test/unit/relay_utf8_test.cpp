// valid_utf8: what PostgreSQL would refuse as text (SQLSTATE 22021) the relay refuses first, with 400.
#include <gtest/gtest.h>

#include <string>

#include "relay/utf8.hpp"

using byo::relay::valid_utf8;

TEST(RelayUtf8, AsciiAndWellFormedTextPass) {
    EXPECT_TRUE(valid_utf8(""));
    EXPECT_TRUE(valid_utf8("Body=hi&From=%2B14155550100"));
    EXPECT_TRUE(valid_utf8("Gr\xC3\xBC\xC3\x9F" "e \xE2\x9C\x93"));  // Grüße ✓
    EXPECT_TRUE(valid_utf8("\xF0\x9F\x98\x80"));                      // U+1F600, 4 bytes
    EXPECT_TRUE(valid_utf8("\xC2\x80"));                              // U+0080, smallest 2-byte
    EXPECT_TRUE(valid_utf8("\xE0\xA0\x80"));                          // U+0800, smallest 3-byte
    EXPECT_TRUE(valid_utf8("\xED\x9F\xBF"));                          // U+D7FF, just below the surrogates
    EXPECT_TRUE(valid_utf8("\xEE\x80\x80"));                          // U+E000, just above them
    EXPECT_TRUE(valid_utf8("\xF4\x8F\xBF\xBF"));                      // U+10FFFF, the largest
}

TEST(RelayUtf8, StrayAndTruncatedBytesFail) {
    EXPECT_FALSE(valid_utf8("\xFF"));
    EXPECT_FALSE(valid_utf8("abc\x80"));          // a continuation byte with no lead
    EXPECT_FALSE(valid_utf8("\xC3"));             // lead byte at the end
    EXPECT_FALSE(valid_utf8("\xE2\x9C"));         // 3-byte form cut short
    EXPECT_FALSE(valid_utf8("\xE2\x9C" "a"));     // ... followed by ASCII
    EXPECT_FALSE(valid_utf8("\xF0\x9F\x98"));     // 4-byte form cut short
    EXPECT_FALSE(valid_utf8("Body=caf\xE9"));     // Latin-1 é
}

TEST(RelayUtf8, OverlongFormsFail) {
    EXPECT_FALSE(valid_utf8("\xC0\xAF"));          // '/' in 2 bytes
    EXPECT_FALSE(valid_utf8("\xC1\xBF"));
    EXPECT_FALSE(valid_utf8("\xE0\x80\xAF"));      // '/' in 3 bytes
    EXPECT_FALSE(valid_utf8("\xE0\x9F\xBF"));      // U+07FF in 3 bytes
    EXPECT_FALSE(valid_utf8("\xF0\x80\x80\xAF"));  // '/' in 4 bytes
    EXPECT_FALSE(valid_utf8("\xF0\x8F\xBF\xBF"));  // U+FFFF in 4 bytes
    EXPECT_FALSE(valid_utf8("\xC0\x80"));          // NUL in 2 bytes (modified UTF-8)
}

TEST(RelayUtf8, SurrogatesAndBeyondUnicodeFail) {
    EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));              // U+D800
    EXPECT_FALSE(valid_utf8("\xED\xBF\xBF"));              // U+DFFF
    EXPECT_FALSE(valid_utf8("\xED\xA0\xBD\xED\xB8\x80"));  // CESU-8 pair for U+1F600
    EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80"));          // U+110000
    EXPECT_FALSE(valid_utf8("\xF5\x80\x80\x80"));
    EXPECT_FALSE(valid_utf8("\xF8\x88\x80\x80\x80"));      // 5-byte form
}

TEST(RelayUtf8, OneBadByteAnywhereFails) {
    std::string s(70000, 'a');
    EXPECT_TRUE(valid_utf8(s));
    s[69999] = '\x80';
    EXPECT_FALSE(valid_utf8(s));
    s[69999] = 'a';
    s[0] = '\xFE';
    EXPECT_FALSE(valid_utf8(s));
}
