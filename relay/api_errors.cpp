#include "api_errors.hpp"

namespace byo::relay::api {

namespace {

bool starts(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool digits(std::string_view s) {
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

constexpr std::string_view kFailedCheck = "failed check: ";

}  // namespace

ErrorStatus status_for_sql_error(std::string_view sqlstate, std::string_view detail) {
    ErrorStatus out;
    // No SQLSTATE: the connection broke or the call timed out on our side. The database may be back soon.
    if (sqlstate.size() != 5) return {503, true, std::nullopt};
    // save_settings marks every failed Twilio check this way (docs/sql-api.md); the user can fix the input.
    if (starts(detail, kFailedCheck)) {
        out.status = 422;
        std::string check(detail.substr(kFailedCheck.size()));
        if (const auto nl = check.find_first_of("\r\n"); nl != std::string::npos) check.resize(nl);
        out.check = check;
        return out;
    }
    const std::string_view cls = sqlstate.substr(0, 2);
    if (cls == "08" || cls == "53" || starts(sqlstate, "57P0")) return {503, true, std::nullopt};
    if (cls == "22" || sqlstate == "23502" || sqlstate == "23514" || sqlstate == "P0001") out.status = 400;
    else if (sqlstate == "42501" || cls == "28") out.status = 403;
    else if (sqlstate == "P0002" || sqlstate == "42704" || cls == "02" || sqlstate == "42883" || sqlstate == "42P01")
        out.status = 404;
    else if (sqlstate == "25006") out.status = 405;  // a write in a read-only (GET) transaction
    else if (sqlstate == "23505" || sqlstate == "23503" || sqlstate == "55000" || sqlstate == "55006")
        out.status = 409;
    else if (sqlstate == "57014") out.status = 504;  // statement_timeout or cancelled
    else if (starts(sqlstate, "PT") && digits(sqlstate.substr(2)))
        out.status = (sqlstate[2] - '0') * 100 + (sqlstate[3] - '0') * 10 + (sqlstate[4] - '0');
    else out.status = 500;
    if (out.status < 100 || out.status > 599) out.status = 500;
    return out;
}

nlohmann::json error_body(std::string_view code, std::string_view message, std::string_view detail,
                          std::string_view hint, const std::optional<std::string>& check) {
    nlohmann::json e = {{"code", std::string(code)},
                        {"message", std::string(message)},
                        {"detail", detail.empty() ? nlohmann::json(nullptr) : nlohmann::json(std::string(detail))},
                        {"hint", hint.empty() ? nlohmann::json(nullptr) : nlohmann::json(std::string(hint))}};
    if (check) e["check"] = *check;
    return {{"error", std::move(e)}};
}

}  // namespace byo::relay::api
