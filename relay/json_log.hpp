// Structured logs: one JSON object per line on stderr, so journald, Docker or a log shipper can parse them.
// Callers decide what goes in; nothing here knows about bodies or secrets, so keep them out at the call site.
#pragma once
#include <nlohmann/json.hpp>
#include <string_view>

namespace byo::relay {

// Insertion order is kept so every line starts with "ts" and "event", which reads well in a terminal too.
using LogFields = nlohmann::ordered_json;

// Writes {"ts": <UTC, ms>, "event": event, ...fields} as one line with a single write(2), so lines from
// concurrent threads never interleave. Never throws: invalid UTF-8 from clients is replaced, not rejected.
void log_event(std::string_view event, const LogFields& fields = LogFields::object()) noexcept;

}  // namespace byo::relay
