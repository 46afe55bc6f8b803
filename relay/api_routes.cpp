#include "api_routes.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace byo::relay::api {

namespace {

constexpr std::string_view kPrefix = "/api/twilio/";
constexpr std::size_t kMaxIdSegment = 64;

struct Entry {
    std::string_view path;  // after the prefix; "{id}" matches one segment
    std::string_view method;
    Route route;
};

constexpr std::array<Entry, 30> kRoutes{{
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
    {"actions", "GET", Route::ListActions},
    {"actions", "POST", Route::CreateActions},
    {"actions/current", "GET", Route::CurrentAction},
    {"actions/next", "POST", Route::NextAction},
    {"actions/{id}/complete", "POST", Route::CompleteAction},
    {"actions/{id}/skip", "POST", Route::SkipAction},
    {"actions/{id}/release", "POST", Route::ReleaseAction},
    {"calls", "POST", Route::Dial},
    {"voice/dial", "POST", Route::Dial},  // the name issue 21 gives the same call
    {"calls/{id}", "GET", Route::GetCall},
    {"dialer/settings", "GET", Route::GetDialerSettings},
    {"dialer/settings", "PUT", Route::SaveDialerSettings},
    {"do-not-call", "GET", Route::ListDoNotCall},
    {"do-not-call", "POST", Route::AddDoNotCall},
    {"do-not-call", "DELETE", Route::RemoveDoNotCall},
    {"messages/{id}/media/{n}", "GET", Route::MediaLink},
}};

// Matches `rest` against a pattern; on a match, the {id} segment (if any) in `id` and a trailing {n} (1-2 digits)
// in `n`.
bool matches(std::string_view pattern, std::string_view rest, std::string& id, std::string& n) {
    constexpr std::string_view kN = "/{n}";
    if (pattern.size() > kN.size() && pattern.substr(pattern.size() - kN.size()) == kN) {
        const auto slash = rest.rfind('/');
        if (slash == std::string_view::npos) return false;
        const std::string_view last = rest.substr(slash + 1);
        if (last.empty() || last.size() > 2 ||
            !std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return false;
        std::string unused;
        if (!matches(pattern.substr(0, pattern.size() - kN.size()), rest.substr(0, slash), id, unused)) return false;
        n = std::string(last);
        return true;
    }
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
        std::string id, n;
        if (!matches(e.path, rest, id, n)) continue;
        out.allow += (out.allow.empty() ? "" : ", ") + std::string(e.method);
        if (e.method == m) {
            out.kind = RouteMatch::Found;
            out.route = e.route;
            out.id = std::move(id);
            out.n = std::move(n);
        }
    }
    if (out.kind != RouteMatch::Found && !out.allow.empty()) out.kind = RouteMatch::WrongMethod;
    if (out.kind == RouteMatch::WrongMethod && method == "OPTIONS") out.kind = RouteMatch::Found;
    return out;
}

Body takes_body(Route r) {
    switch (r) {
    case Route::SaveSettings: case Route::CreateConversation: case Route::SendConversationMessage:
    case Route::SendSms: case Route::CreateActions: case Route::CompleteAction: case Route::Dial:
    case Route::SaveDialerSettings: case Route::AddDoNotCall:
        return Body::Required;
    case Route::SkipAction:
        return Body::Optional;
    default:
        return Body::None;
    }
}

bool prefers_rollback(const std::string& prefer) {
    std::string p;
    for (char c : prefer)
        if (c != ' ' && c != '\t') p += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::size_t start = 0;
    for (;;) {
        const auto comma = p.find(',', start);
        if (p.compare(start, comma == std::string::npos ? std::string::npos : comma - start, "tx=rollback") == 0)
            return true;
        if (comma == std::string::npos) return false;
        start = comma + 1;
    }
}

}  // namespace byo::relay::api
