// Conversions between PostgreSQL Datums and C++ values, each through pg_call so a PostgreSQL error becomes a
// C++ exception at the call.
#pragma once
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "core/envelope.hpp"
#include "core/secret.hpp"
#include "pg/guard.hpp"

namespace byo::pg {

bool arg_is_null(FunctionCallInfo fcinfo, int n);
std::string arg_text(FunctionCallInfo fcinfo, int n);        // "" when NULL
std::string arg_text_or(FunctionCallInfo fcinfo, int n, const std::string& if_null);
Secret arg_secret(FunctionCallInfo fcinfo, int n);           // text argument holding a token
Bytes arg_bytea(FunctionCallInfo fcinfo, int n);
std::string arg_jsonb_text(FunctionCallInfo fcinfo, int n);  // the jsonb rendered as JSON text
// A text[] argument's elements in order (nullopt: a NULL element); 22023 unless it has at most one dimension.
std::vector<std::optional<std::string>> arg_text_array(FunctionCallInfo fcinfo, int n);

Datum text_datum(std::string_view value);
Datum bytea_datum(const Bytes& value);
Datum jsonb_datum(const std::string& json_text);
Datum text_array_datum(const std::vector<std::string>& values);

}  // namespace byo::pg
