// The API's routes: which method and path is which call. Pure, unit-tested; the SQL of each is in api_sql.cpp.
#pragma once
#include <string>
#include <string_view>

namespace byo::relay::api {

enum class Route {
    SealingKey, GetSettings, SaveSettings, Disconnect, Status, Verify,
    ListConversations, CreateConversation, ListConversationMessages, SendConversationMessage,
    ListMessages, SendSms, Campaigns, Analytics,
};

struct RouteMatch {
    enum Kind { Found, NotFound, WrongMethod } kind = NotFound;
    Route route = Route::Status;
    std::string id;     // the {id} path segment, undecoded (SQL casts it to uuid: anything else is a 400)
    std::string allow;  // the methods the path takes, for Allow and CORS preflights ("GET, POST")
};

// `path` without the query. HEAD is matched as GET; OPTIONS as whatever the path takes (see api_cors.hpp).
RouteMatch match_route(std::string_view method, std::string_view path);

// Whether POST routes need a JSON body (all do but status/verify, which takes none).
bool takes_body(Route r);

}  // namespace byo::relay::api
