// Format checks for what users type into settings: SIDs, E.164 numbers, auth tokens.
#pragma once
#include <string_view>

namespace byo {

// Two-letter prefix (e.g. "AC") followed by exactly 32 hexadecimal digits.
bool is_sid(std::string_view value, std::string_view prefix);

// '+' then 2-15 digits, the first not 0.
bool is_e164(std::string_view value);

// An account auth token: 32 hexadecimal digits.
bool is_auth_token(std::string_view value);

// Throws CoreError 22023 naming the field and the expected form; never echoes the value (a token pasted into
// the wrong field must not end up in an error message).
void require_sid(std::string_view field, std::string_view value, std::string_view prefix);
void require_e164(std::string_view field, std::string_view value);
void require_auth_token(std::string_view value);

}  // namespace byo
