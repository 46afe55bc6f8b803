// application/x-www-form-urlencoded bodies and query strings (encoded with libcurl's escaper).
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace byo {

// Name/value pairs in body order; a repeated name appears once per occurrence.
using FormParams = std::vector<std::pair<std::string, std::string>>;

// '&'-separated pairs; '+' is a space; %XX decoded; a pair without '=' has an empty value; empty pairs skipped.
FormParams parse_form(std::string_view body);

// The query string of a URL (after '?', before '#'), or empty.
std::string_view url_query(std::string_view url);

// Percent-encodes pairs into a form body (libcurl's escaper: RFC 3986 unreserved characters kept).
std::string encode_form(const FormParams& params);

// Params from a JSON object whose values are strings or arrays of strings. Throws CoreError 22023 otherwise.
FormParams params_from_json(std::string_view json_text);

// Length of the well-formed UTF-8 sequence at s[i] (no overlongs, surrogates, CESU-8 or code points past
// U+10FFFF), or 0 when there is none. Decoded form values are bytes: this tells which of them are text.
std::size_t utf8_sequence(std::string_view s, std::size_t i);

}  // namespace byo
