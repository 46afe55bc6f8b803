// PostgreSQL's text form of a one-dimensional array, for passing many values as one parameter: the relay sends a
// batch of webhooks this way, and handle_webhooks hands its inbound texts to one INSERT the same way.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace byo {

// {"a","b\"c",NULL}: every element quoted (so commas, braces, spaces and the word NULL survive), `"` and `\`
// escaped with a backslash; nullopt is an unquoted NULL. Readable by array_in for any element type.
std::string sql_array_literal(const std::vector<std::optional<std::string>>& values);

}  // namespace byo
