// Form bodies and query strings (core/form.hpp): parse_form, url_query, encode_form, params_from_json.
// Input: a raw body, as a webhook or a query string would carry it.
#include <cstdint>

#include "core/core_error.hpp"
#include "core/form.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input = fuzz::as_view(data, size);

    const byo::FormParams params = byo::parse_form(input);
    // Every pair comes from a non-empty '&'-separated piece, and decoding never lengthens text.
    std::size_t pieces = 1;
    for (char c : input) pieces += c == '&';
    FUZZ_CHECK(params.size() <= pieces);
    for (const auto& [name, value] : params) FUZZ_CHECK(name.size() + value.size() <= input.size());

    // What encode_form writes, parse_form reads back exactly.
    const std::string encoded = byo::encode_form(params);
    FUZZ_CHECK(byo::parse_form(encoded) == params);

    const std::string_view query = byo::url_query(input);
    FUZZ_CHECK(query.empty() || (query.data() >= input.data() && query.data() + query.size() <= input.data() + size));
    FUZZ_CHECK(query.find('#') == std::string_view::npos);
    byo::parse_form(query);

    try {
        const byo::FormParams from_json = byo::params_from_json(input);
        // Round trip through the form encoding too.
        FUZZ_CHECK(byo::parse_form(byo::encode_form(from_json)) == from_json);
    } catch (const byo::CoreError& e) {
        FUZZ_CHECK(e.sqlstate() == "22023");
    }
    return 0;
}
