#include "api_cors.hpp"

namespace byo::relay::api {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '/')) s.remove_suffix(1);
    return s;
}

}  // namespace

CorsPolicy::CorsPolicy(std::string_view list) {
    while (!list.empty()) {
        const auto comma = list.find(',');
        const std::string_view item = trim(list.substr(0, comma));
        if (item == "*") any_ = true;
        else if (!item.empty()) origins_.emplace_back(item);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
}

bool CorsPolicy::allows(std::string_view origin) const {
    if (origin.empty() || origin == "null") return false;  // "null": sandboxed frames and file: pages
    if (any_) return true;
    for (const auto& o : origins_)
        if (o == origin) return true;
    return false;
}

HeaderList CorsPolicy::answer_headers(std::string_view origin) const {
    HeaderList h;
    if (any_ || !origins_.empty()) h.emplace_back("Vary", "Origin");  // caches must not mix answers per origin
    if (!allows(origin)) return h;
    h.emplace_back("Access-Control-Allow-Origin", std::string(origin));
    h.emplace_back("Access-Control-Expose-Headers", "Retry-After, Preference-Applied");
    return h;
}

HeaderList CorsPolicy::preflight_headers(std::string_view origin, const std::string& allow) const {
    HeaderList h = answer_headers(origin);
    if (!allows(origin)) return h;
    h.emplace_back("Access-Control-Allow-Methods", allow + ", OPTIONS");
    h.emplace_back("Access-Control-Allow-Headers", "authorization, content-type, prefer");
    h.emplace_back("Access-Control-Max-Age", "600");
    return h;
}

}  // namespace byo::relay::api
