// What the relay logs about requests and the database (relay/redact.hpp: masked_path, query_names,
// redact_db_message) and the base URL comparison (relay/public_url_check.hpp: public_url_mismatch).
// Input: line 1 a raw request target (or a libpq message), line 2 the database's webhook_base_url (absent: unset).
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>

#include "fuzz_common.hpp"
#include "relay/public_url_check.hpp"
#include "relay/redact.hpp"

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view whole = fuzz::as_view(data, size);
    std::string_view rest = whole;
    const std::string_view target = fuzz::take_line(rest);
    const bool has_base = !rest.empty() || (size > 0 && whole.back() == '\n');
    const std::string_view base = fuzz::take_line(rest);

    // No segment of 16 or more hex digits (a webhook key, a SID's digits) survives masking.
    for (std::string_view input : {target, whole}) {
        const std::string masked = byo::relay::masked_path(input);
        FUZZ_CHECK(masked.find('?') == std::string::npos);
        for (std::string_view segment : fuzz::split(masked, '/')) {
            const bool all_hex = segment.size() >= 16 &&
                segment.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
            FUZZ_CHECK(!all_hex);
        }
        // Names only: no value, no separator.
        for (const std::string& name : byo::relay::query_names(input)) {
            FUZZ_CHECK(!name.empty());
            FUZZ_CHECK(name.find_first_of("=&") == std::string::npos);
        }
    }

    // A database message: one line, capped, and nothing after a password marker or a connection URI.
    const std::string msg = byo::relay::redact_db_message(whole);
    FUZZ_CHECK(msg.find_first_of("\r\n\t") == std::string::npos);
    FUZZ_CHECK(msg.size() <= 303);
    const std::string low = lower(msg);
    FUZZ_CHECK(low.find("postgresql://") == std::string::npos && low.find("postgres://") == std::string::npos);
    const std::size_t pw = low.find("password");
    if (pw != std::string::npos) {
        const std::string after = low.substr(pw + 8);
        FUZZ_CHECK(after.empty() || after == " [redacted]" || after == "..." ||
                   (after.size() > 3 && after.compare(after.size() - 3, 3, "...") == 0 && pw + 8 + after.size() >= 300));
    }

    const std::optional<std::string> db = has_base ? std::optional<std::string>(std::string(base)) : std::nullopt;
    const std::optional<std::string> problem = byo::relay::public_url_mismatch(target, db);
    if (!db) FUZZ_CHECK(problem.has_value());
    FUZZ_CHECK(!byo::relay::public_url_mismatch(target, std::string(target) + "/").has_value() ||
               std::string_view(target).find_first_not_of('/') == std::string_view::npos);
    return 0;
}
