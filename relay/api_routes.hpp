// The API's routes: which method and path is which call. Pure, unit-tested; the SQL of each is in api_sql.cpp.
#pragma once
#include <string>
#include <string_view>

namespace byo::relay::api {

enum class Route {
    SealingKey, GetSettings, SaveSettings, Disconnect, Status, Verify,
    ListConversations, CreateConversation, ListConversationMessages, SendConversationMessage,
    ListMessages, SendSms, Campaigns, Analytics,
    // The dialer (api_dialer_sql.cpp): the manual-actions queue, click-to-call, dialer settings, do-not-call.
    ListActions, CreateActions, CurrentAction, NextAction, CompleteAction, SkipAction, ReleaseAction,
    Dial, GetCall, GetDialerSettings, SaveDialerSettings, ListDoNotCall, AddDoNotCall, RemoveDoNotCall,
    // A short-lived link to a message's media (302 to it).
    MediaLink,
};

struct RouteMatch {
    enum Kind { Found, NotFound, WrongMethod } kind = NotFound;
    Route route = Route::Status;
    std::string id;     // the {id} path segment, undecoded (SQL casts it to uuid: anything else is a 400)
    std::string n;      // a trailing {n} segment: 1-2 decimal digits (media positions)
    std::string allow;  // the methods the path takes, for Allow and CORS preflights ("GET, POST")
};

// `path` without the query. HEAD is matched as GET; OPTIONS as whatever the path takes (see api_cors.hpp).
RouteMatch match_route(std::string_view method, std::string_view path);

// Whether a route reads a JSON object body: Required (a body must come, as application/json), Optional (no body
// counts as {}: skip and next take at most notes), or None (a body is ignored).
enum class Body { None, Optional, Required };
Body takes_body(Route r);

// Whether a Prefer header value asks for "tx=rollback" (PostgREST's spelling: preferences comma-separated, any
// case, any spacing): the call runs and answers, and nothing it wrote is kept.
bool prefers_rollback(const std::string& prefer);

}  // namespace byo::relay::api
