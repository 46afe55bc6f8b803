#include <gtest/gtest.h>

#include "core/core_error.hpp"
#include "core/form.hpp"

using namespace byo;

TEST(Form, DecodesPlusPercentAndRepeats) {
    FormParams p = parse_form("Body=Hello+W%C3%B6rld%21&To=%2B1555&Body=two&Flag&&Empty=");
    ASSERT_EQ(p.size(), 5u);
    EXPECT_EQ(p[0], (std::pair<std::string, std::string>{"Body", "Hello W\xC3\xB6rld!"}));
    EXPECT_EQ(p[1].second, "+1555");
    EXPECT_EQ(p[2].second, "two");
    EXPECT_EQ(p[3], (std::pair<std::string, std::string>{"Flag", ""}));
    EXPECT_EQ(p[4], (std::pair<std::string, std::string>{"Empty", ""}));
}

TEST(Form, KeepsMalformedPercentAndNul) {
    FormParams p = parse_form("a=100%&b=%zz&c=x%00y");
    EXPECT_EQ(p[0].second, "100%");
    EXPECT_EQ(p[1].second, "%zz");
    EXPECT_EQ(p[2].second, std::string("x\0y", 3));
    FormParams q = parse_form("a=%4&b=%%41&c=%c3%B6&d=%2b+%20&e%3D=1");
    EXPECT_EQ(q[0].second, "%4");
    EXPECT_EQ(q[1].second, "%A");
    EXPECT_EQ(q[2].second, "\xC3\xB6");
    EXPECT_EQ(q[3].second, "+  ");
    EXPECT_EQ(q[4].first, "e=");
}

TEST(Form, EncodeRoundTrips) {
    FormParams in = {{"To", "+1 555"}, {"Body", "a&b=c/ü"}};
    EXPECT_EQ(parse_form(encode_form(in)), in);
    EXPECT_EQ(encode_form({{"To", "+1"}}), "To=%2B1");
}

TEST(Form, UrlQuery) {
    EXPECT_EQ(url_query("https://h/p?a=1&b=2#frag"), "a=1&b=2");
    EXPECT_EQ(url_query("https://h/p"), "");
}

TEST(Form, ParamsFromJson) {
    FormParams p = params_from_json(R"({"A":"1","B":["x","y"]})");
    ASSERT_EQ(p.size(), 3u);
    EXPECT_EQ(p[1], (std::pair<std::string, std::string>{"B", "x"}));
    EXPECT_THROW(params_from_json("[1]"), CoreError);
    EXPECT_THROW(params_from_json(R"({"A":1})"), CoreError);
    EXPECT_THROW(params_from_json(R"({"A":[1]})"), CoreError);
    EXPECT_THROW(params_from_json("not json"), CoreError);
}
