#include "core/drip_template.hpp"

#include "core/core_error.hpp"

namespace byo {

namespace {

const char* const kNullValue = "22004";  // null_value_not_allowed: a variable the template needs is missing

// One piece of a template: literal text, or a variable reference.
struct Piece {
    bool is_variable;
    std::string_view text;      // literal text, or the variable's name
    bool has_fallback;
    std::string_view fallback;
};

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool valid_name(std::string_view n) {
    if (n.empty() || n.size() > 63) return false;
    const auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
    if (!alpha(n[0])) return false;
    for (char c : n)
        if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
    return true;
}

[[noreturn]] void malformed(const std::string& why, size_t at) {
    throw CoreError(sqlstate::invalid_parameter_value,
                    "invalid template: " + why + " at character " + std::to_string(at + 1),
                    "Write variables as {{name}} or {{name|fallback}}.");
}

// Splits tmpl into pieces; a fallback runs to the closing "}}" and is kept as written (spaces included).
std::vector<Piece> parse(std::string_view tmpl) {
    std::vector<Piece> out;
    size_t pos = 0;
    while (pos < tmpl.size()) {
        const size_t open = tmpl.find("{{", pos);
        if (open == std::string_view::npos) {
            out.push_back({false, tmpl.substr(pos), false, {}});
            break;
        }
        if (open > pos) out.push_back({false, tmpl.substr(pos, open - pos), false, {}});
        const size_t close = tmpl.find("}}", open + 2);
        if (close == std::string_view::npos) malformed("unclosed {{", open);
        const std::string_view inner = tmpl.substr(open + 2, close - open - 2);
        if (inner.find("{{") != std::string_view::npos) malformed("{{ inside a variable", open);
        const size_t bar = inner.find('|');
        const std::string_view name = trim(inner.substr(0, bar));
        if (!valid_name(name)) malformed("invalid variable name \"" + std::string(name) + "\"", open);
        if (bar == std::string_view::npos)
            out.push_back({true, name, false, {}});
        else
            out.push_back({true, name, true, inner.substr(bar + 1)});
        pos = close + 2;
    }
    return out;
}

// The variable's text, or nothing when it is missing, null or empty.
bool lookup(const nlohmann::json& vars, std::string_view name, std::string& value) {
    const auto it = vars.find(std::string(name));
    if (it == vars.end() || it->is_null()) return false;
    if (it->is_string())
        value = it->get<std::string>();
    else if (it->is_number() || it->is_boolean())
        value = it->dump();
    else
        throw CoreError(sqlstate::invalid_parameter_value,
                        "variable \"" + std::string(name) + "\" must be a string, number or boolean");
    return !value.empty();
}

}  // namespace

std::vector<TemplateVariable> template_variables(std::string_view tmpl) {
    std::vector<TemplateVariable> out;
    for (const Piece& p : parse(tmpl))
        if (p.is_variable) out.push_back({std::string(p.text), p.has_fallback});
    return out;
}

std::vector<std::string> required_variables(std::string_view tmpl) {
    std::vector<std::string> out;
    for (const TemplateVariable& v : template_variables(tmpl)) {
        if (v.has_fallback) continue;
        bool seen = false;
        for (const std::string& o : out) seen = seen || o == v.name;
        if (!seen) out.push_back(v.name);
    }
    return out;
}

std::string render_template(std::string_view tmpl, const nlohmann::json& vars) {
    if (!vars.is_object())
        throw CoreError(sqlstate::invalid_parameter_value, "variables must be a JSON object",
                        "For example {\"first_name\": \"Ada\"}.");
    std::string out;
    std::string value;
    for (const Piece& p : parse(tmpl)) {
        if (!p.is_variable) {
            out += p.text;
        } else if (lookup(vars, p.text, value)) {
            out += value;
        } else if (p.has_fallback) {
            out += p.fallback;
        } else {
            throw CoreError(kNullValue, "template variable \"" + std::string(p.text) + "\" has no value",
                            "Supply it in the enrollment's variables, or give it a fallback: {{" +
                                std::string(p.text) + "|...}}.");
        }
    }
    return out;
}

}  // namespace byo
