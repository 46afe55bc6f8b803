#include "api_routes.hpp"

#include <array>

namespace byo::relay::api {

namespace {

constexpr std::string_view kPrefix = "/api/twilio/";
constexpr std::size_t kMaxIdSegment = 64;

struct Entry {
    std::string_view path;  // after the prefix; "{id}" matches one segment
    std::string_view method;
    Route route;
};

constexpr std::array<Entry, 14> kRoutes{{
    {"sealing-key", "GET", Route::SealingKey},
    {"settings", "GET", Route::GetSettings},
    {"settings", "POST", Route::SaveSettings},
    {"settings", "DELETE", Route::Disconnect},
    {"status", "GET", Route::Status},
    {"status/verify", "POST", Route::Verify},
    {"conversations", "GET", Route::ListConversations},
    {"conversations", "POST", Route::CreateConversation},
    {"conversations/{id}/messages", "GET", Route::ListConversationMessages},
    {"conversations/{id}/messages", "POST", Route::SendConversationMessage},
    {"messages", "GET", Route::ListMessages},
    {"sms", "POST", Route::SendSms},
    {"campaigns", "GET", Route::Campaigns},
    {"analytics", "GET", Route::Analytics},
}};

// Matches `rest` against a pattern; on a match, the {id} segment (if any) in `id`.
bool matches(std::string_view pattern, std::string_view rest, std::string& id) {
    const auto hole = pattern.find("{id}");
    if (hole == std::string_view::npos) return pattern == rest;
    const std::string_view before = pattern.substr(0, hole), after = pattern.substr(hole + 4);
    if (rest.size() <= before.size() + after.size() || rest.substr(0, before.size()) != before ||
        rest.substr(rest.size() - after.size()) != after)
        return false;
    const std::string_view seg = rest.substr(before.size(), rest.size() - before.size() - after.size());
    if (seg.empty() || seg.size() > kMaxIdSegment || seg.find('/') != std::string_view::npos) return false;
    id = std::string(seg);
    return true;
}

}  // namespace

RouteMatch match_route(std::string_view method, std::string_view path) {
    RouteMatch out;
    if (path.substr(0, kPrefix.size()) != kPrefix) return out;
    const std::string_view rest = path.substr(kPrefix.size());
    const std::string_view m = method == "HEAD" ? std::string_view("GET") : method;
    for (const Entry& e : kRoutes) {
        std::string id;
        if (!matches(e.path, rest, id)) continue;
        out.allow += (out.allow.empty() ? "" : ", ") + std::string(e.method);
        if (e.method == m) {
            out.kind = RouteMatch::Found;
            out.route = e.route;
            out.id = std::move(id);
        }
    }
    if (out.kind != RouteMatch::Found && !out.allow.empty()) out.kind = RouteMatch::WrongMethod;
    if (out.kind == RouteMatch::WrongMethod && method == "OPTIONS") out.kind = RouteMatch::Found;
    return out;
}

bool takes_body(Route r) {
    return r == Route::SaveSettings || r == Route::CreateConversation || r == Route::SendConversationMessage ||
           r == Route::SendSms;
}

}  // namespace byo::relay::api
