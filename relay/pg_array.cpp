#include "pg_array.hpp"

#include <cstdint>

namespace byo::relay {

namespace {

constexpr std::uint32_t kTextOid = 25;

void put_int32(std::string& out, std::uint32_t v) {  // network byte order
    out += static_cast<char>((v >> 24) & 0xFF);
    out += static_cast<char>((v >> 16) & 0xFF);
    out += static_cast<char>((v >> 8) & 0xFF);
    out += static_cast<char>(v & 0xFF);
}

}  // namespace

std::string text_array_binary(const std::vector<const std::string*>& values) {
    std::size_t size = 20;
    bool has_null = false;
    for (const std::string* v : values) {
        size += 4 + (v ? v->size() : 0);
        has_null = has_null || !v;
    }
    std::string out;
    out.reserve(size);
    put_int32(out, values.empty() ? 0 : 1);  // dimensions
    put_int32(out, has_null ? 1 : 0);        // flags: has NULLs
    put_int32(out, kTextOid);                // element type
    if (values.empty()) return out;
    put_int32(out, static_cast<std::uint32_t>(values.size()));  // length of the dimension
    put_int32(out, 1);                                          // its lower bound
    for (const std::string* v : values) {
        if (!v) {
            put_int32(out, 0xFFFFFFFFu);  // -1: NULL
            continue;
        }
        put_int32(out, static_cast<std::uint32_t>(v->size()));
        out += *v;
    }
    return out;
}

}  // namespace byo::relay
