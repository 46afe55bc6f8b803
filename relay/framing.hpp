// The request framing the relay accepts beyond what Beast's parser checks (RFC 9112 §6). Beast 1.74 reads a
// request whose Transfer-Encoding does not end in "chunked" (xchunked, identity, gzip, "chunked, identity") as one
// without a body, so that body would be parsed as the next request: smuggling, behind a proxy that frames it
// another way. The only coding the relay accepts is chunked, alone; anything else is 400 and a closed connection.
// Header-only: pure, unit-tested (test/unit/relay_framing_test.cpp).
#pragma once
#include <string_view>
#include <vector>

namespace byo::relay {

// Why a request's framing is refused, or nullptr if it is fine. `transfer_encodings`: the value of every
// Transfer-Encoding field of the request, in order (empty: none).
inline const char* framing_error(const std::vector<std::string_view>& transfer_encodings, bool has_content_length,
                                 bool http11) {
    if (transfer_encodings.empty()) return nullptr;
    if (!http11) return "Transfer-Encoding in an HTTP/1.0 request";
    if (has_content_length) return "both Transfer-Encoding and Content-Length";
    int codings = 0;
    bool only_chunked = true;
    for (std::string_view value : transfer_encodings) {
        while (!value.empty()) {  // a comma-separated list; empty elements are allowed and ignored
            const std::size_t comma = value.find(',');
            std::string_view coding = value.substr(0, comma);
            value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
            while (!coding.empty() && (coding.front() == ' ' || coding.front() == '\t')) coding.remove_prefix(1);
            while (!coding.empty() && (coding.back() == ' ' || coding.back() == '\t')) coding.remove_suffix(1);
            if (coding.empty()) continue;
            ++codings;
            constexpr std::string_view kChunked = "chunked";
            bool same = coding.size() == kChunked.size();
            for (std::size_t i = 0; same && i < coding.size(); ++i)
                same = (coding[i] | 0x20) == kChunked[i];  // ASCII case-insensitive; kChunked is lower case
            only_chunked = only_chunked && same;
        }
    }
    if (codings != 1 || !only_chunked) return "Transfer-Encoding other than exactly \"chunked\"";
    return nullptr;
}

}  // namespace byo::relay
