#include "core/sql_array.hpp"

namespace byo {

std::string sql_array_literal(const std::vector<std::optional<std::string>>& values) {
    std::size_t size = 2;
    for (const auto& v : values) size += v ? v->size() + 3 : 5;
    std::string out;
    out.reserve(size + size / 16);
    out += '{';
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i) out += ',';
        if (!values[i]) {
            out += "NULL";
            continue;
        }
        out += '"';
        for (char c : *values[i]) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    }
    out += '}';
    return out;
}

}  // namespace byo
