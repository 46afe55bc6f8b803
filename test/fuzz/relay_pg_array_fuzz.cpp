// The binary text[] the relay sends handle_webhooks (relay/pg_array.hpp): decoded as PostgreSQL's array_recv
// reads it, it must give back exactly the elements.
// Input: elements separated by '\n'; an element that is exactly "\\N" is SQL NULL.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "relay/pg_array.hpp"

namespace {

struct Reader {
    std::string_view s;
    std::uint32_t u32() {
        FUZZ_CHECK(s.size() >= 4);
        const auto b = [&](int i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[i])); };
        const std::uint32_t v = b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
        s.remove_prefix(4);
        return v;
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<std::string> storage;
    std::vector<const std::string*> values;
    if (size > 0) {
        const std::vector<std::string_view> parts = fuzz::split(fuzz::as_view(data, size), '\n');
        storage.reserve(parts.size());
        for (std::string_view p : parts) storage.emplace_back(p);
        for (const std::string& s : storage) values.push_back(s == "\\N" ? nullptr : &s);
    }
    const std::string wire = byo::relay::text_array_binary(values);

    Reader r{wire};
    const std::uint32_t ndim = r.u32(), has_null = r.u32(), oid = r.u32();
    FUZZ_CHECK(oid == 25);
    if (values.empty()) {
        FUZZ_CHECK(ndim == 0 && has_null == 0 && r.s.empty());
        return 0;
    }
    FUZZ_CHECK(ndim == 1);
    FUZZ_CHECK(r.u32() == values.size());
    FUZZ_CHECK(r.u32() == 1);  // lower bound
    bool any_null = false;
    for (const std::string* v : values) {
        const std::uint32_t len = r.u32();
        if (!v) {
            FUZZ_CHECK(len == 0xFFFFFFFFu);
            any_null = true;
            continue;
        }
        FUZZ_CHECK(len == v->size() && r.s.size() >= len && r.s.substr(0, len) == *v);
        r.s.remove_prefix(len);
    }
    FUZZ_CHECK(r.s.empty());
    FUZZ_CHECK(has_null == (any_null ? 1u : 0u));
    return 0;
}
