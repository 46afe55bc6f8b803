#include "core/sql_array.hpp"

#include <gtest/gtest.h>

using byo::sql_array_literal;

TEST(SqlArray, QuotesEveryElement) {
    EXPECT_EQ(sql_array_literal({}), "{}");
    EXPECT_EQ(sql_array_literal({std::string("a")}), R"({"a"})");
    EXPECT_EQ(sql_array_literal({std::string("a,b"), std::string("{c}"), std::string(" d ")}),
              R"({"a,b","{c}"," d "})");
    EXPECT_EQ(sql_array_literal({std::string("")}), R"({""})");
}

TEST(SqlArray, NullIsUnquotedAndTheWordNullIsNot) {
    EXPECT_EQ(sql_array_literal({std::nullopt, std::string("NULL")}), R"({NULL,"NULL"})");
}

TEST(SqlArray, EscapesQuoteAndBackslashOnly) {
    EXPECT_EQ(sql_array_literal({std::string("say \"hi\"")}), R"({"say \"hi\""})");
    EXPECT_EQ(sql_array_literal({std::string("C:\\x")}), R"({"C:\\x"})");
    // Newlines, tabs and UTF-8 pass through: inside quotes array_in keeps them as they are.
    EXPECT_EQ(sql_array_literal({std::string("a\nb\t\xC3\xA9")}), "{\"a\nb\t\xC3\xA9\"}");
}
