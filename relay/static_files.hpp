// The demo app and web components (web/) at /ui/: GET and HEAD only, a fixed content type per extension (others
// are 404), regular files under the directory only (no "..", no hidden names, no percent-escapes, no symlink out
// of it), no listings: "/ui/" is index.html.
#pragma once
#include <string>
#include <string_view>

#include "http_server.hpp"

namespace byo::relay {

// `rest`: the request path after "/ui/" (no query).
HttpResponse serve_static(const std::string& root, std::string_view rest);

// The content type for a file name, or nullptr when it is not one we serve. Pure.
const char* static_content_type(std::string_view name);

// Whether `rest` is a path we would look up: segments of [A-Za-z0-9._-], none empty or starting with ".". Pure.
bool safe_static_path(std::string_view rest);

}  // namespace byo::relay
