// What may leave the process in logs: paths with the tenant's webhook key masked, query parameter names without
// their values, and database errors cut before anything that could echo a password from the connection string.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace byo::relay {

// The path part of a raw request target (no query), with every segment of 16 or more hex digits, the webhook key
// and anything like it (Twilio SIDs too), replaced by "<key>": /twilio/<key>/sms.
std::string masked_path(std::string_view target);

// The names of the query parameters in a raw request target, in order, undecoded; values are dropped.
std::vector<std::string> query_names(std::string_view target);

// A libpq or server message made safe and single-line: newlines folded, anything after "password" or
// "percent-encoded" and anything from a URI scheme ("postgresql://") on cut, length capped.
std::string redact_db_message(std::string_view message);

}  // namespace byo::relay
