#include "core/signature.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "core/core_error.hpp"

namespace byo {

namespace {

std::string base64(const unsigned char* data, std::size_t len) {
    std::string out(4 * ((len + 2) / 3), '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(len));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

struct UrlParts {
    std::string_view scheme_and_authority_prefix;  // "https://" plus any userinfo "user@"
    std::string_view host;
    std::string_view port;  // including ':' or empty
    std::string_view rest;  // path, query, fragment
    bool https = false;
};

// Splits scheme://[userinfo@]host[:port]rest without normalizing anything, so the signed bytes stay exact.
bool split_url(std::string_view url, UrlParts& parts) {
    std::size_t sep = url.find("://");
    if (sep == std::string_view::npos || sep == 0) return false;
    if (!std::isalpha(static_cast<unsigned char>(url[0]))) return false;
    for (std::size_t i = 1; i < sep; ++i) {
        unsigned char c = static_cast<unsigned char>(url[i]);
        if (!std::isalnum(c) && c != '+' && c != '.' && c != '-') return false;
    }
    const std::size_t auth_at = sep + 3;
    std::size_t auth_end = url.find_first_of("/?#", auth_at);
    if (auth_end == std::string_view::npos) auth_end = url.size();
    std::string_view authority = url.substr(auth_at, auth_end - auth_at);
    std::size_t at = authority.rfind('@');
    std::size_t host_at = at == std::string_view::npos ? 0 : at + 1;
    std::string_view host_port = authority.substr(host_at);
    std::size_t bracket = host_port.rfind(']');
    std::size_t colon = host_port.find(':', bracket == std::string_view::npos ? 0 : bracket + 1);
    parts.scheme_and_authority_prefix = url.substr(0, auth_at + host_at);
    parts.host = colon == std::string_view::npos ? host_port : host_port.substr(0, colon);
    parts.port = colon == std::string_view::npos ? std::string_view() : host_port.substr(colon);
    parts.rest = url.substr(auth_end);
    parts.https = lower(url.substr(0, sep)) == "https";
    return true;
}

// Reads one UTF-16 code unit at a time from UTF-8 text; a malformed byte reads as U+FFFD.
class Utf16Units {
public:
    explicit Utf16Units(const std::string& s) : s_(s) {}
    bool next(unsigned& unit) {
        if (pending_) {
            unit = pending_;
            pending_ = 0;
            return true;
        }
        if (i_ >= s_.size()) return false;
        unsigned cp = decode();
        if (cp >= 0x10000) {
            cp -= 0x10000;
            unit = 0xD800 + (cp >> 10);
            pending_ = 0xDC00 + (cp & 0x3FF);
        } else {
            unit = cp;
        }
        return true;
    }

private:
    unsigned decode() {
        const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s_[k]); };
        const unsigned b0 = byte(i_);
        const std::size_t len = b0 < 0x80 ? 1 : (b0 >> 5) == 0x6 ? 2 : (b0 >> 4) == 0xE ? 3 : (b0 >> 3) == 0x1E ? 4 : 0;
        if (len == 1) return s_[i_++], b0;
        if (len == 0 || i_ + len > s_.size()) return ++i_, 0xFFFD;
        unsigned cp = b0 & (0xFF >> (len + 1));
        for (std::size_t k = 1; k < len; ++k) {
            if ((byte(i_ + k) & 0xC0) != 0x80) return ++i_, 0xFFFD;
            cp = (cp << 6) | (byte(i_ + k) & 0x3F);
        }
        i_ += len;
        return cp;
    }

    const std::string& s_;
    std::size_t i_ = 0;
    unsigned pending_ = 0;
};

// Orders names and values as Twilio's signer and the official Node and Java helpers do: by UTF-16 code units.
// (Byte order differs for characters above U+FFFF against U+E000-U+FFFF.)
struct Utf16Less {
    bool operator()(const std::string& a, const std::string& b) const {
        Utf16Units ua(a), ub(b);
        unsigned x = 0, y = 0;
        while (true) {
            const bool has_a = ua.next(x), has_b = ub.next(y);
            if (!has_a || !has_b) return !has_a && has_b;
            if (x != y) return x < y;
        }
    }
};

}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string sha256_hex(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1)
        throw CoreError(sqlstate::internal_error, "SHA-256 failed");
    std::string out(2 * len + 1, '\0');
    std::size_t written = 0;
    if (OPENSSL_buf2hexstr_ex(out.data(), out.size(), &written, digest, len, '\0') != 1)
        throw CoreError(sqlstate::internal_error, "hex encoding failed");
    out.resize(2 * len);
    return lower(out);
}

namespace {

// The params as signed: names in UTF-16 order, each name's distinct values in that order, name + value each.
std::string sorted_params(const FormParams& params) {
    std::map<std::string, std::set<std::string, Utf16Less>, Utf16Less> sorted;
    for (const auto& [name, value] : params) sorted[name].insert(value);
    std::string data;
    for (const auto& [name, values] : sorted)
        for (const auto& value : values) {
            data += name;
            data += value;
        }
    return data;
}

std::string hmac_sha1_base64(std::string_view auth_token, std::string_view data) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha1(), auth_token.data(), static_cast<int>(auth_token.size()),
              reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &mac_len))
        throw CoreError(sqlstate::internal_error, "HMAC-SHA1 failed");
    std::string sig = base64(mac, mac_len);
    OPENSSL_cleanse(mac, sizeof mac);
    return sig;
}

}  // namespace

std::string compute_signature(std::string_view auth_token, std::string_view url, const FormParams& params) {
    return hmac_sha1_base64(auth_token, std::string(url) + sorted_params(params));
}

std::vector<std::string> signature_url_variants(std::string_view url) {
    UrlParts p;
    if (!split_url(url, p)) return {std::string(url)};
    std::string without_port = std::string(p.scheme_and_authority_prefix) + std::string(p.host) + std::string(p.rest);
    if (!p.port.empty()) return {without_port, std::string(url)};
    std::string with_port = std::string(p.scheme_and_authority_prefix) + std::string(p.host) +
                            (p.https ? ":443" : ":80") + std::string(p.rest);
    return {without_port, with_port};
}

BodyKind body_kind(std::string_view content_type) {
    std::string type = lower(content_type.substr(0, content_type.find(';')));
    while (!type.empty() && std::isspace(static_cast<unsigned char>(type.back()))) type.pop_back();
    while (!type.empty() && std::isspace(static_cast<unsigned char>(type.front()))) type.erase(0, 1);
    if (type == "application/x-www-form-urlencoded") return BodyKind::Form;
    if (type == "application/json") return BodyKind::Json;
    throw CoreError(sqlstate::invalid_parameter_value, "unsupported webhook content type \"" + type + "\"",
                    "Twilio signs application/x-www-form-urlencoded and application/json bodies.");
}

SignatureCheck::SignatureCheck(std::string_view url, std::string_view body, std::string_view content_type) {
    std::string params;
    if (body_kind(content_type) == BodyKind::Json) {
        std::string claimed;
        for (const auto& [name, value] : parse_form(url_query(url)))
            if (name == "bodySHA256") {
                claimed = value;
                break;
            }
        body_hash_ok_ = !claimed.empty() && constant_time_equal(sha256_hex(body), claimed);
    } else {
        params = sorted_params(parse_form(body));
    }
    for (std::string& variant : signature_url_variants(url)) signed_data_.push_back(std::move(variant) + params);
}

bool SignatureCheck::matches(std::string_view auth_token, std::string_view signature) const {
    if (!body_hash_ok_) return false;
    bool ok = false;
    for (const std::string& data : signed_data_)  // check all: no early exit on a match
        ok |= constant_time_equal(hmac_sha1_base64(auth_token, data), signature);
    return ok;
}

bool validate_signature(std::string_view auth_token, std::string_view signature, std::string_view url,
                        std::string_view body, std::string_view content_type) {
    return SignatureCheck(url, body, content_type).matches(auth_token, signature);
}

}  // namespace byo
