// The API's error answers: which HTTP status a PostgreSQL error becomes, and the JSON body every error has,
// {"error": {"code", "message", "detail", "hint", "check"?}}. Pure (no I/O), so the mapping is unit-tested.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace byo::relay::api {

struct ErrorStatus {
    int status = 500;
    bool retry_after = false;         // 503: worth retrying later
    std::optional<std::string> check;  // the failed Twilio check, from DETAIL "failed check: <check>"
};

// The status for a SQL error of `sqlstate` (five characters; empty when the connection was lost before the server
// said anything) whose DETAIL is `detail`. See docs/http-api.md for the table.
ErrorStatus status_for_sql_error(std::string_view sqlstate, std::string_view detail);

// {"error": {...}}; `detail` and `hint` are null when empty, `check` only when set.
nlohmann::json error_body(std::string_view code, std::string_view message, std::string_view detail = {},
                          std::string_view hint = {}, const std::optional<std::string>& check = std::nullopt);

}  // namespace byo::relay::api
