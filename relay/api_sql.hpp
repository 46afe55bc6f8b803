// What each API route runs: one parameterized SQL statement that returns the whole JSON answer as one text value
// (or no row: JSON null), built from the path, the query and the JSON body. Values only ever travel as
// parameters; the SQL texts are fixed. Input checks here are about shape (a field must be a string); what a value
// must be is the SQL functions' business, and their errors come back as 400s.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api_routes.hpp"

namespace byo::relay::api {

struct SqlCall {
    const char* sql = nullptr;
    std::vector<std::optional<std::string>> params;  // nullopt: SQL NULL
    bool read_only = true;                           // GET routes run in a READ ONLY transaction
    // When set, an answer of JSON null is a 404 with this message (a row looked up by id that the user has not).
    const char* not_found = nullptr;
    // When set, the answer (a JSON object with "url") is a 302 to that URL, unless the query asked format=json.
    bool redirect = false;
};

struct BuildResult {
    bool ok = false;
    std::string message;  // a 400's message when not ok
    SqlCall call;
};

using QueryParams = std::map<std::string, std::string>;

// Splits a raw query string (without "?") and percent-decodes names and values with libcurl. At most 16
// parameters of 512 bytes each; a repeated name, a NUL or invalid UTF-8 after decoding is an error. An empty
// value counts as absent.
bool parse_query(std::string_view raw, QueryParams& out, std::string& error);

// `body` is the parsed JSON object for POST routes that take one (else ignored).
BuildResult build_call(Route route, const std::string& id, const QueryParams& query, const nlohmann::json& body,
                       const std::string& n = {});

// The dialer's routes (api_dialer_sql.cpp); build_call hands them over.
BuildResult build_dialer_call(Route route, const std::string& id, const QueryParams& query, const nlohmann::json& body);

// Shared by the builders. A query value, absent when missing or empty.
std::optional<std::string> query_value(const QueryParams& q, const char* name);
// A call with fixed parameters.
BuildResult fixed(const char* sql, bool read_only, std::vector<std::optional<std::string>> params = {});
// Reads body[name] into params (absent or null: SQL NULL), or says in `error` what is wrong with it.
using BodyField = bool (*)(const nlohmann::json& body, const char* name,
                           std::vector<std::optional<std::string>>& params, std::string& error);
// A call that writes: its parameters are `first`, then the body's `names`, each read by `read` (by default a
// string or null).
BuildResult from_body(const char* sql, const nlohmann::json& body, std::initializer_list<const char*> names,
                      std::vector<std::optional<std::string>> first = {}, BodyField read = nullptr);

}  // namespace byo::relay::api
