// Small text helpers shared by core and boundary code.
#pragma once
#include <string_view>

namespace byo {

// Without the ASCII whitespace around it (space, \t, \n, \v, \f, \r), as a pasted key or token arrives.
inline std::string_view trim_space(std::string_view s) {
    const auto space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return s;
}

}  // namespace byo
