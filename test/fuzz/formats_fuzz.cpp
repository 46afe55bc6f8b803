// What users type into settings and what Twilio reports back: SIDs, E.164 numbers and auth tokens
// (core/formats.hpp), and message statuses (core/message_status.hpp).
// Input: one value.
#include <cstdint>
#include <string>

#include "core/core_error.hpp"
#include "core/formats.hpp"
#include "core/message_status.hpp"
#include "fuzz_common.hpp"

namespace {

// A require_* error: 22023, and its text is the same whatever the wrong value was (it never echoes the value:
// a token pasted into the wrong field must not reach an error message).
template <typename F>
std::string error_of(F&& call) {
    try {
        call();
    } catch (const byo::CoreError& e) {
        FUZZ_CHECK(e.sqlstate() == "22023");
        return std::string(e.what()) + "|" + e.hint();
    }
    return {};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view value = fuzz::as_view(data, size);

    for (const char* prefix : {"AC", "IS", "MG", "CH", "MB", "SM", "PN"}) {
        const bool sid = byo::is_sid(value, prefix);
        if (sid) FUZZ_CHECK(value.size() == 34 && value.substr(0, 2) == prefix);
        const std::string err = error_of([&] { byo::require_sid("account_sid", value, prefix); });
        FUZZ_CHECK(err.empty() == sid);
        if (!sid) FUZZ_CHECK(err == error_of([&] { byo::require_sid("account_sid", "", prefix); }));
    }
    // The value as the prefix too (prefixes come from code, but nothing may break on an odd one).
    byo::is_sid(value, value);

    const bool e164 = byo::is_e164(value);
    if (e164) FUZZ_CHECK(value.size() >= 3 && value.size() <= 16 && value[0] == '+' && value[1] != '0');
    const std::string e164_err = error_of([&] { byo::require_e164("sms_number", value); });
    FUZZ_CHECK(e164_err.empty() == e164);
    if (!e164) FUZZ_CHECK(e164_err == error_of([&] { byo::require_e164("sms_number", ""); }));

    const bool token = byo::is_auth_token(value);
    if (token) FUZZ_CHECK(value.size() == 32);
    const std::string token_err = error_of([&] { byo::require_auth_token(value); });
    FUZZ_CHECK(token_err.empty() == token);
    if (!token) FUZZ_CHECK(token_err == error_of([&] { byo::require_auth_token(""); }));

    const int rank = byo::status_rank(value);
    FUZZ_CHECK(rank >= 0 && rank <= 5);
    FUZZ_CHECK(byo::is_delivery_status(value) == (rank > 0));
    return 0;
}
