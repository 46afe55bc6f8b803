#include "redact.hpp"

#include <algorithm>
#include <cctype>

namespace byo::relay {

namespace {

bool is_hex_key(std::string_view segment) {
    return segment.size() >= 16 &&
           std::all_of(segment.begin(), segment.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

// Case-insensitive search, so "PASSWORD=" in a user's conninfo is caught as well.
std::size_t find_ci(std::string_view haystack, std::string_view needle) {
    auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                          [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
    return it == haystack.end() ? std::string_view::npos : static_cast<std::size_t>(it - haystack.begin());
}

}  // namespace

std::string masked_path(std::string_view target) {
    const std::string_view path = target.substr(0, target.find('?'));
    std::string out;
    out.reserve(path.size());
    std::size_t start = 0;
    while (start <= path.size()) {
        const std::size_t slash = path.find('/', start);
        const std::size_t end = slash == std::string_view::npos ? path.size() : slash;
        const std::string_view segment = path.substr(start, end - start);
        out += is_hex_key(segment) ? std::string_view("<key>") : segment;
        if (slash == std::string_view::npos) break;
        out += '/';
        start = slash + 1;
    }
    return out;
}

std::vector<std::string> query_names(std::string_view target) {
    std::vector<std::string> names;
    const std::size_t q = target.find('?');
    if (q == std::string_view::npos) return names;
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        const std::string_view name = pair.substr(0, pair.find('='));
        if (!name.empty()) names.emplace_back(name);
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return names;
}

std::string redact_db_message(std::string_view message) {
    // Keep the marker itself ("password authentication failed" says what went wrong), drop what follows it.
    // libpq quotes the offending token of a bad percent-escape, which may be a piece of the password.
    std::size_t cut = message.size();
    for (std::string_view marker : {"password", "percent-encoded", "missing \"=\" after", "invalid connection option"})
        if (const std::size_t at = find_ci(message, marker); at != std::string_view::npos)
            cut = std::min(cut, at + marker.size());
    for (std::string_view scheme : {"postgresql://", "postgres://"}) cut = std::min(cut, find_ci(message, scheme));
    std::string out(message.substr(0, cut));
    if (cut < message.size()) out += " [redacted]";
    for (char& c : out)
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    while (!out.empty() && out.back() == ' ') out.pop_back();
    if (out.size() > 300) out = out.substr(0, 300) + "...";
    return out;
}

}  // namespace byo::relay
