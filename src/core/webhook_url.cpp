#include "core/webhook_url.hpp"

namespace byo {

namespace {

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool is_key(std::string_view s) {
    if (s == "platform") return true;
    if (s.size() < 16 || s.size() > 64) return false;
    for (char c : s)
        if (!is_hex(c)) return false;
    return true;
}

}  // namespace

std::optional<std::string> webhook_key_from_url(std::string_view url) {
    constexpr std::string_view marker = "/twilio/";
    // Only the path counts: a query value that happens to contain "/twilio/<hex>" names no tenant.
    // The authority ends at the first '/', '?' or '#' (RFC 3986): a '/' inside a query or fragment starts no path.
    const std::size_t scheme = url.find("://");
    const std::size_t path_start = url.find_first_of("/?#", scheme == std::string_view::npos ? 0 : scheme + 3);
    if (path_start == std::string_view::npos || url[path_start] != '/') return std::nullopt;
    const std::size_t path_end = url.find_first_of("?#", path_start);
    const std::string_view path =
        url.substr(path_start, path_end == std::string_view::npos ? url.size() - path_start : path_end - path_start);
    for (std::size_t at = path.find(marker); at != std::string_view::npos; at = path.find(marker, at + 1)) {
        const std::size_t begin = at + marker.size();
        const std::size_t end = path.find('/', begin);
        const std::string_view segment =
            path.substr(begin, end == std::string_view::npos ? path.size() - begin : end - begin);
        if (is_key(segment)) return std::string(segment);
    }
    return std::nullopt;
}

bool url_under_base(std::string_view url, std::string_view base) {
    while (!base.empty() && base.back() == '/') base.remove_suffix(1);
    if (base.empty() || url.substr(0, base.size()) != base) return false;
    return url.size() == base.size() || url[base.size()] == '/' || url[base.size()] == '?' || url[base.size()] == '#';
}

}  // namespace byo
