// Tenant keys in webhook URLs (core/webhook_url.hpp): webhook_key_from_url and url_under_base.
// Input: line 1 a webhook URL, line 2 a base URL (byo_twilio.webhook_base_url).
#include <cstdint>
#include <string>

#include "core/webhook_url.hpp"
#include "fuzz_common.hpp"

namespace {

bool is_key(const std::string& k) {
    if (k == "platform") return true;
    return k.size() >= 16 && k.size() <= 64 && k.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
}

void check_key(std::string_view url) {
    const std::optional<std::string> key = byo::webhook_key_from_url(url);
    if (!key) return;
    FUZZ_CHECK(is_key(*key));
    // The key is a whole segment right after "/twilio/", followed by '/', '?', '#' or the end.
    const std::string segment = "/twilio/" + *key;
    bool whole = false;
    for (std::size_t at = url.find(segment); at != std::string_view::npos && !whole; at = url.find(segment, at + 1)) {
        const std::size_t after = at + segment.size();
        whole = after == url.size() || url[after] == '/' || url[after] == '?' || url[after] == '#';
    }
    FUZZ_CHECK(whole);
    // Of the path: never from a query or fragment (the authority ends at the first '/', '?' or '#').
    const std::size_t scheme = url.find("://");
    const std::size_t end = url.find_first_of("?#", scheme == std::string_view::npos ? 0 : scheme + 3);
    FUZZ_CHECK(end == std::string_view::npos || url.find(segment) < end);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view whole = fuzz::as_view(data, size);
    std::string_view rest = whole;
    const std::string_view url = fuzz::take_line(rest);
    const std::string_view base = fuzz::take_line(rest);

    check_key(whole);
    check_key(url);

    const bool under = byo::url_under_base(url, base);
    std::string_view trimmed = base;
    while (!trimmed.empty() && trimmed.back() == '/') trimmed.remove_suffix(1);
    if (under) FUZZ_CHECK(!trimmed.empty() && url.substr(0, trimmed.size()) == trimmed);
    FUZZ_CHECK(!byo::url_under_base(url, ""));
    if (!trimmed.empty()) {
        // The base itself and anything below it are under it; a longer host name is not.
        FUZZ_CHECK(byo::url_under_base(trimmed, base));
        FUZZ_CHECK(byo::url_under_base(std::string(trimmed) + "/twilio/platform/sms", base));
        FUZZ_CHECK(byo::url_under_base(std::string(trimmed) + "?x=1", base));
        FUZZ_CHECK(!byo::url_under_base(std::string(trimmed) + "x", base));
    }
    return 0;
}
