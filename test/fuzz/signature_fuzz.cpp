// Webhook signatures (core/signature.hpp): body_kind, signature_url_variants, compute_signature, SignatureCheck
// (form and JSON bodySHA256 paths), validate_signature, sha256_hex, constant_time_equal.
// Input: line 1 the URL Twilio called, line 2 the Content-Type, the rest the raw body.
#include <algorithm>
#include <cstdint>
#include <string>

#include "core/core_error.hpp"
#include "core/form.hpp"
#include "core/signature.hpp"
#include "fuzz_common.hpp"

namespace {

const std::string kToken = "12345678901234567890123456789012";

bool is_base64(const std::string& s) {
    if (s.size() != 28 || s.back() != '=') return false;  // 20 bytes of HMAC-SHA1
    return std::all_of(s.begin(), s.end() - 1, [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view rest = fuzz::as_view(data, size);
    const std::string url(fuzz::take_line(rest));
    const std::string content_type(fuzz::take_line(rest));
    const std::string body(rest);

    const std::vector<std::string> variants = byo::signature_url_variants(url);
    FUZZ_CHECK(variants.size() == 1 || variants.size() == 2);
    if (variants.size() == 1) FUZZ_CHECK(variants[0] == url);
    else FUZZ_CHECK(variants[0] == url || variants[1] == url);

    const std::string hash = byo::sha256_hex(body);
    FUZZ_CHECK(hash.size() == 64 && hash.find_first_not_of("0123456789abcdef") == std::string::npos);
    FUZZ_CHECK(byo::constant_time_equal(hash, hash));
    FUZZ_CHECK(!byo::constant_time_equal(hash, body) || hash == body);

    // A form body signed as Twilio signs it validates, whatever the content-type line says.
    const byo::FormParams params = byo::parse_form(body);
    const std::string signature = byo::compute_signature(kToken, url, params);
    FUZZ_CHECK(is_base64(signature));
    FUZZ_CHECK(byo::validate_signature(kToken, signature, url, body, "application/x-www-form-urlencoded"));
    FUZZ_CHECK(byo::SignatureCheck(url, params).matches(kToken, signature));
    FUZZ_CHECK(!byo::SignatureCheck(url, params).matches(kToken + "0", signature));
    // Twilio sorts the parameters: the order they arrive in does not change the signature, whatever their bytes
    // (regressions/signature: values and names that differ only in ill-formed UTF-8).
    byo::FormParams reversed(params.rbegin(), params.rend());
    FUZZ_CHECK(byo::compute_signature(kToken, url, reversed) == signature);

    // The JSON path: the URL alone is signed and its bodySHA256 must be the body's hash.
    bool claims_hash = false;  // the URL already names a bodySHA256 (the first one counts)
    for (const auto& [name, value] : byo::parse_form(byo::url_query(url))) claims_hash |= name == "bodySHA256";
    const std::string json_url = url + (url.find('?') == std::string::npos ? "?" : "&") + "bodySHA256=" + hash;
    const std::string json_signature = byo::compute_signature(kToken, json_url, {});
    if (json_url.find('#') == std::string::npos && !claims_hash)
        FUZZ_CHECK(byo::validate_signature(kToken, json_signature, json_url, body, "application/json"));

    // Whatever the input says, checking never crashes; a content type Twilio does not sign is 22023.
    try {
        const byo::BodyKind kind = byo::body_kind(content_type);
        const byo::SignatureCheck check(url, body, content_type);
        check.matches(kToken, signature);
        check.matches(kToken, body);
        if (kind == byo::BodyKind::Json && !claims_hash)
            FUZZ_CHECK(!check.matches(kToken, byo::compute_signature(kToken, url, {})));
    } catch (const byo::CoreError& e) {
        FUZZ_CHECK(e.sqlstate() == "22023");
    }
    return 0;
}
