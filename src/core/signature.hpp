// Twilio webhook signatures (X-Twilio-Signature): base64(HMAC-SHA1(auth token, URL + sorted params)).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/form.hpp"

namespace byo {

// The signature Twilio sends for a request to `url` with these form params: names sorted (by UTF-16 code
// units, as Twilio's signer and its Node helper sort; strings alike that way, which differ only in ill-formed
// UTF-8, by bytes), each name's distinct values sorted the same way, appended as name + value after the URL.
// Only a pair repeated byte for byte is signed once; no other value is dropped or merged.
std::string compute_signature(std::string_view auth_token, std::string_view url, const FormParams& params);

// The URLs a signature may have been computed over, as the official validators accept: the URL with its
// port removed, and with the scheme's default port added when it has none (the URL itself is one of them).
std::vector<std::string> signature_url_variants(std::string_view url);

enum class BodyKind { Form, Json };

// Which validation applies to a Content-Type: form bodies are signed param by param, JSON bodies through the
// URL's bodySHA256. Throws CoreError 22023 for any other type.
BodyKind body_kind(std::string_view content_type);

// What a request's signature covers, worked out once (body parsed, params sorted, URL variants listed) so that
// several candidate tokens can be checked without redoing it: a webhook is checked against each user its lookup
// step matched. Throws CoreError 22023 for a content type Twilio does not sign.
class SignatureCheck {
public:
    SignatureCheck(std::string_view url, std::string_view body, std::string_view content_type);
    // A form body already parsed (parse_form), so it is not parsed twice.
    SignatureCheck(std::string_view url, const FormParams& form);
    // True when `signature` is this request's for `auth_token`: for form bodies, over the parsed params; for JSON
    // bodies, over the URL alone, and the URL's bodySHA256 matches the body. Constant-time comparisons, every URL
    // variant checked.
    bool matches(std::string_view auth_token, std::string_view signature) const;
    // Also accept the same params signed over `url` (and its port variants): a URL the request may have been
    // signed over but could not carry, such as one with a fragment.
    void add_url(std::string_view url);

private:
    void sign(std::string_view url, const std::string& params);

    std::vector<std::string> signed_data_;  // per URL variant: the URL followed by the sorted params
    std::string params_;                    // the sorted params, for add_url
    bool body_hash_ok_ = true;
};

// SignatureCheck(url, body, content_type).matches(auth_token, signature).
bool validate_signature(std::string_view auth_token, std::string_view signature, std::string_view url,
                        std::string_view body, std::string_view content_type);

// Lowercase hex SHA-256 (what Twilio puts in bodySHA256).
std::string sha256_hex(std::string_view data);

// Constant-time equality (length is not secret).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace byo
