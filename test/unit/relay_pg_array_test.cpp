#include "relay/pg_array.hpp"

#include <gtest/gtest.h>

using byo::relay::text_array_binary;

namespace {
std::string bytes(std::initializer_list<int> b) {
    std::string s;
    for (int x : b) s += static_cast<char>(x);
    return s;
}
}  // namespace

TEST(RelayPgArray, EmptyArrayHasNoDimensions) {
    EXPECT_EQ(text_array_binary({}), bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25}));
}

TEST(RelayPgArray, ElementsAreLengthPrefixedBigEndian) {
    const std::string ab = "ab", empty;
    const std::string expected = bytes({0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 25, 0, 0, 0, 2, 0, 0, 0, 1}) +
                                 bytes({0, 0, 0, 2}) + "ab" + bytes({0, 0, 0, 0});
    EXPECT_EQ(text_array_binary({&ab, &empty}), expected);
}

TEST(RelayPgArray, NullIsMinusOneAndSetsTheFlag) {
    const std::string xs(256, 'x');
    const std::string expected = bytes({0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 25, 0, 0, 0, 2, 0, 0, 0, 1}) +
                                 bytes({0xFF, 0xFF, 0xFF, 0xFF}) + bytes({0, 0, 1, 0}) + std::string(256, 'x');
    EXPECT_EQ(text_array_binary({nullptr, &xs}), expected);
}

TEST(RelayPgArray, BytesPassThroughUntouched) {
    const std::string value = "a,\"b\"\\{c}\n\xC3\xA9";
    const std::string out = text_array_binary({&value});
    EXPECT_EQ(out.substr(out.size() - value.size()), value);
    EXPECT_EQ(out.substr(20, 4), bytes({0, 0, 0, static_cast<int>(value.size())}));
}
