#include "pg/datum.hpp"

#include <cstring>

extern "C" {
#include "catalog/pg_type_d.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
}

namespace byo::pg {

bool arg_is_null(FunctionCallInfo fcinfo, int n) { return PG_ARGISNULL(n); }

std::string arg_text(FunctionCallInfo fcinfo, int n) { return arg_text_or(fcinfo, n, std::string()); }

std::string arg_text_or(FunctionCallInfo fcinfo, int n, const std::string& if_null) {
    if (PG_ARGISNULL(n)) return if_null;
    const char* data = nullptr;
    std::size_t len = 0;
    pg_call([&] {
        text* t = PG_GETARG_TEXT_PP(n);
        data = VARDATA_ANY(t);
        len = VARSIZE_ANY_EXHDR(t);
    });
    return std::string(data, len);
}

Secret arg_secret(FunctionCallInfo fcinfo, int n) {
    Secret out;
    if (PG_ARGISNULL(n)) return out;
    text* t = nullptr;
    pg_call([&] { t = PG_GETARG_TEXT_PP(n); });
    out.buffer().assign(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
    // A detoasted copy is ours to wipe; the original argument belongs to the caller's memory.
    if (reinterpret_cast<Datum>(t) != PG_GETARG_DATUM(n)) explicit_bzero(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
    return out;
}

namespace {
// Reading a NULL argument as a value would dereference a null pointer: every reader of a required argument
// refuses NULL here, so no C function can crash on one, STRICT or not.
void require_not_null(FunctionCallInfo fcinfo, int n) {
    if (PG_ARGISNULL(n))
        throw CoreError("22004", "argument " + std::to_string(n + 1) + " must not be NULL");
}
}  // namespace

Bytes arg_bytea(FunctionCallInfo fcinfo, int n) {
    require_not_null(fcinfo, n);
    const unsigned char* data = nullptr;
    std::size_t len = 0;
    pg_call([&] {
        bytea* b = PG_GETARG_BYTEA_PP(n);
        data = reinterpret_cast<const unsigned char*>(VARDATA_ANY(b));
        len = VARSIZE_ANY_EXHDR(b);
    });
    return Bytes(data, data + len);
}

std::string arg_jsonb_text(FunctionCallInfo fcinfo, int n) {
    require_not_null(fcinfo, n);
    char* rendered = nullptr;
    pg_call([&] {
        Jsonb* j = PG_GETARG_JSONB_P(n);
        rendered = JsonbToCString(nullptr, &j->root, VARSIZE(j));
    });
    std::string out(rendered);
    pfree(rendered);
    return out;
}

std::vector<std::optional<std::string>> arg_text_array(FunctionCallInfo fcinfo, int n) {
    require_not_null(fcinfo, n);
    Datum* elems = nullptr;
    bool* nulls = nullptr;
    int count = 0, ndim = 0;
    pg_call([&] {
        ArrayType* a = PG_GETARG_ARRAYTYPE_P(n);
        ndim = ARR_NDIM(a);
        if (ndim <= 1) deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &count);
    });
    if (ndim > 1) throw CoreError("22023", "argument " + std::to_string(n + 1) + " must be a one-dimensional array");
    std::vector<std::optional<std::string>> out(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
        if (nulls[i]) continue;
        const text* t = reinterpret_cast<const text*>(elems[i]);
        out[static_cast<std::size_t>(i)].emplace(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
    }
    return out;
}

Datum text_datum(std::string_view value) {
    Datum d = 0;
    pg_call([&] { d = PointerGetDatum(cstring_to_text_with_len(value.data(), static_cast<int>(value.size()))); });
    return d;
}

Datum bytea_datum(const Bytes& value) {
    Datum d = 0;
    pg_call([&] {
        bytea* b = static_cast<bytea*>(palloc(VARHDRSZ + value.size()));
        SET_VARSIZE(b, VARHDRSZ + value.size());
        std::memcpy(VARDATA(b), value.data(), value.size());
        d = PointerGetDatum(b);
    });
    return d;
}

Datum jsonb_datum(const std::string& json_text) {
    Datum d = 0;
    pg_call([&] { d = DirectFunctionCall1(jsonb_in, CStringGetDatum(json_text.c_str())); });
    return d;
}

Datum text_array_datum(const std::vector<std::string>& values) {
    Datum d = 0;
    pg_call([&] {
        Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * (values.size() + 1)));
        for (std::size_t i = 0; i < values.size(); ++i) elems[i] = CStringGetTextDatum(values[i].c_str());
        d = PointerGetDatum(construct_array(elems, static_cast<int>(values.size()), TEXTOID, -1, false, TYPALIGN_INT));
    });
    return d;
}

}  // namespace byo::pg
