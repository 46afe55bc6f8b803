// Drip templates: variables, fallbacks, and the errors enroll and preview report.
#include <gtest/gtest.h>

#include "core/core_error.hpp"
#include "core/drip_template.hpp"

using namespace byo;
using nlohmann::json;

namespace {

std::string sqlstate_of(const std::string& tmpl, const json& vars) {
    try {
        render_template(tmpl, vars);
    } catch (const CoreError& e) {
        return e.sqlstate();
    }
    return "none";
}

}  // namespace

TEST(DripTemplate, RendersVariablesAndLiterals) {
    EXPECT_EQ(render_template("Hi {{first_name}}, see you {{ day }}!", json{{"first_name", "Ada"}, {"day", "Mon"}}),
              "Hi Ada, see you Mon!");
    EXPECT_EQ(render_template("no variables", json::object()), "no variables");
    EXPECT_EQ(render_template("", json::object()), "");
    EXPECT_EQ(render_template("{{a}}{{a}}", json{{"a", "x"}}), "xx");
}

TEST(DripTemplate, NumbersAndBooleansAsJsonWritesThem) {
    EXPECT_EQ(render_template("{{n}} {{f}} {{b}}", json{{"n", 3}, {"f", 2.5}, {"b", true}}), "3 2.5 true");
}

TEST(DripTemplate, FallbackWhenMissingNullOrEmpty) {
    EXPECT_EQ(render_template("Hi {{first_name|there}}", json::object()), "Hi there");
    EXPECT_EQ(render_template("Hi {{first_name|there}}", json{{"first_name", nullptr}}), "Hi there");
    EXPECT_EQ(render_template("Hi {{first_name|there}}", json{{"first_name", ""}}), "Hi there");
    EXPECT_EQ(render_template("Hi {{first_name|there}}", json{{"first_name", "Bo"}}), "Hi Bo");
    // The fallback is kept as written, and may be empty.
    EXPECT_EQ(render_template("Hi{{ name | dear friend}}.", json::object()), "Hi dear friend.");
    EXPECT_EQ(render_template("Hi{{name|}}.", json::object()), "Hi.");
}

TEST(DripTemplate, UnicodePassesThrough) {
    EXPECT_EQ(render_template("\xE4\xBD\xA0\xE5\xA5\xBD {{n}}", json{{"n", "\xF0\x9F\x98\x80"}}),
              "\xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80");
}

TEST(DripTemplate, MissingVariableIs22004NamingIt) {
    try {
        render_template("Hi {{first_name}}", json{{"last_name", "X"}});
        FAIL() << "expected an error";
    } catch (const CoreError& e) {
        EXPECT_EQ(e.sqlstate(), "22004");
        EXPECT_NE(std::string(e.what()).find("first_name"), std::string::npos);
    }
    EXPECT_EQ(sqlstate_of("Hi {{x}}", json{{"x", nullptr}}), "22004");
    EXPECT_EQ(sqlstate_of("Hi {{x}}", json{{"x", ""}}), "22004");
}

TEST(DripTemplate, MalformedTemplatesAre22023) {
    EXPECT_EQ(sqlstate_of("Hi {{first_name", json::object()), "22023");
    EXPECT_EQ(sqlstate_of("Hi {{}}", json::object()), "22023");
    EXPECT_EQ(sqlstate_of("Hi {{ |x}}", json::object()), "22023");
    EXPECT_EQ(sqlstate_of("Hi {{first name}}", json::object()), "22023");
    EXPECT_EQ(sqlstate_of("Hi {{1st}}", json::object()), "22023");
    EXPECT_EQ(sqlstate_of("Hi {{a{{b}}", json::object()), "22023");
    EXPECT_EQ(sqlstate_of("Hi {{a}}", json::array()), "22023");
    EXPECT_EQ(sqlstate_of("Hi {{a}}", json{{"a", json::array()}}), "22023");
    // A lone closing brace pair is text.
    EXPECT_EQ(render_template("a }} b", json::object()), "a }} b");
}

TEST(DripTemplate, RequiredVariablesOncePerNameWithoutFallbacks) {
    EXPECT_EQ(required_variables("{{a}} {{b|x}} {{a}} {{c}}"), (std::vector<std::string>{"a", "c"}));
    EXPECT_TRUE(required_variables("plain").empty());
    const auto all = template_variables("{{a}} {{b|x}}");
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[1].name, "b");
    EXPECT_TRUE(all[1].has_fallback);
    EXPECT_THROW(required_variables("{{a"), CoreError);
}
