// Drip step templates: text with variables, "Hi {{first_name}}" or, with a fallback used when the variable is
// missing, null or empty, "Hi {{first_name|there}}". Parsed here (no PostgreSQL headers) so that enroll,
// preview and the drip tick all agree on one grammar.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace byo {

struct TemplateVariable {
    std::string name;
    bool has_fallback;
};

// The variables a template uses, in order of appearance (repeats kept). Throws CoreError 22023 on a malformed
// template: an unclosed "{{", an empty or invalid name (letters, digits, '_', starting with a letter or '_').
std::vector<TemplateVariable> template_variables(std::string_view tmpl);

// The names a template needs the variables to supply (used without a fallback), each once, in order.
std::vector<std::string> required_variables(std::string_view tmpl);

// Renders tmpl with vars (a JSON object: strings as they are, numbers and booleans as JSON writes them).
// Throws CoreError 22023 on a malformed template or when vars is not an object, and 22004 naming the variable
// when one without a fallback is missing, null or empty.
std::string render_template(std::string_view tmpl, const nlohmann::json& vars);

}  // namespace byo
