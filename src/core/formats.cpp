#include "core/formats.hpp"

#include <cctype>
#include <string>

#include "core/core_error.hpp"

namespace byo {

namespace {

bool hex_run(std::string_view s) {
    for (unsigned char c : s)
        if (!std::isxdigit(c)) return false;
    return true;
}

}  // namespace

bool is_sid(std::string_view value, std::string_view prefix) {
    return value.size() == prefix.size() + 32 && value.substr(0, prefix.size()) == prefix &&
           hex_run(value.substr(prefix.size()));
}

bool is_e164(std::string_view value) {
    if (value.size() < 3 || value.size() > 16 || value[0] != '+' || value[1] == '0') return false;
    for (unsigned char c : value.substr(1))
        if (!std::isdigit(c)) return false;
    return true;
}

bool is_auth_token(std::string_view value) { return value.size() == 32 && hex_run(value); }

void require_sid(std::string_view field, std::string_view value, std::string_view prefix) {
    if (!is_sid(value, prefix))
        throw CoreError(sqlstate::invalid_parameter_value,
                        std::string(field) + " must be \"" + std::string(prefix) + "\" followed by 32 hexadecimal "
                        "digits (" + std::to_string(prefix.size() + 32) + " characters)",
                        "Copy it from the Twilio console.");
}

void require_e164(std::string_view field, std::string_view value) {
    if (!is_e164(value))
        throw CoreError(sqlstate::invalid_parameter_value,
                        std::string(field) + " must be an E.164 phone number: '+', country code and number, "
                        "digits only, at most 15 digits",
                        "For example +14155550123.");
}

void require_auth_token(std::string_view value) {
    if (!is_auth_token(value))
        throw CoreError(sqlstate::invalid_parameter_value, "auth_token must be 32 hexadecimal digits",
                        "Use the account's Auth Token from the Twilio console (not an API key secret).");
}

}  // namespace byo
