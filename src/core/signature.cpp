#include "core/signature.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

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

// Reads one UTF-16 code unit at a time from UTF-8 text; each byte that starts no well-formed sequence (overlong,
// surrogate or CESU-8, past U+10FFFF, truncated) reads as U+FFFD.
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
        const std::size_t n = utf8_sequence(s_, i_);
        if (n == 0) return ++i_, 0xFFFD;
        const unsigned b0 = static_cast<unsigned char>(s_[i_]);
        unsigned cp = n == 1 ? b0 : b0 & (0x7Fu >> n);
        for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s_[i_ + k]) & 0x3F);
        i_ += n;
        return cp;
    }

    const std::string& s_;
    std::size_t i_ = 0;
    unsigned pending_ = 0;
};

// The order names and values are signed in. By UTF-16 code units first, as Twilio's signer and the official Node
// and Java helpers sort (for characters above U+FFFF against U+E000-U+FFFF this differs from byte order). Strings
// that read alike that way differ only in ill-formed bytes (each reads as U+FFFD): their bytes decide, so this is
// a strict total order. No two different values are ever taken as one, and the signed data never depends on the
// order of the params.
struct SignedOrder {
    bool operator()(const std::string& a, const std::string& b) const {
        Utf16Units ua(a), ub(b);
        unsigned x = 0, y = 0;
        while (true) {
            const bool has_a = ua.next(x), has_b = ub.next(y);
            if (!has_a || !has_b) {
                if (has_a != has_b) return has_b;
                return a < b;  // alike as UTF-16: by bytes
            }
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

bool is_ascii(const std::string& s) {
    for (const char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    return true;
}

// The params as signed: names in SignedOrder, each name's distinct values in that order, name + value each (a pair
// repeated byte for byte is signed once, as Twilio's helpers do). For ASCII (nearly every webhook) that order is
// plain byte order, and a sorted vector does what the map of sets does at a fraction of the cost.
std::string sorted_params(const FormParams& params) {
    bool ascii = true;
    for (const auto& [name, value] : params) ascii = ascii && is_ascii(name) && is_ascii(value);
    std::string data;
    if (ascii) {
        std::vector<const std::pair<std::string, std::string>*> sorted;
        sorted.reserve(params.size());
        for (const auto& p : params) sorted.push_back(&p);
        std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return *a < *b; });
        const std::pair<std::string, std::string>* last = nullptr;
        for (const auto* p : sorted) {
            if (last && *last == *p) continue;
            data += p->first;
            data += p->second;
            last = p;
        }
        return data;
    }
    std::map<std::string, std::set<std::string, SignedOrder>, SignedOrder> sorted;
    for (const auto& [name, value] : params) sorted[name].insert(value);
    for (const auto& [name, values] : sorted)
        for (const auto& value : values) {
            data += name;
            data += value;
        }
    return data;
}

// HMAC-SHA1 keyed once with a token, then over each message in turn. The algorithm is fetched once per process:
// HMAC()'s fetch and key set-up on every call cost more than hashing a whole webhook.
class HmacSha1 {
public:
    explicit HmacSha1(std::string_view key) {
        static EVP_MAC* const algorithm = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
        char digest[] = "SHA1";
        const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                     OSSL_PARAM_construct_end()};
        keyed_ = algorithm ? EVP_MAC_CTX_new(algorithm) : nullptr;
        if (!keyed_ || EVP_MAC_init(keyed_, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                                    params) != 1) {
            EVP_MAC_CTX_free(keyed_);
            hmac_failed();
        }
    }
    ~HmacSha1() { EVP_MAC_CTX_free(keyed_); }  // clears the key
    HmacSha1(const HmacSha1&) = delete;
    HmacSha1& operator=(const HmacSha1&) = delete;

    std::string base64_of(std::string_view data) const {
        unsigned char mac[EVP_MAX_MD_SIZE];
        std::size_t mac_len = 0;
        EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(keyed_);
        const bool ok = ctx && EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()),
                                              data.size()) == 1 &&
                        EVP_MAC_final(ctx, mac, &mac_len, sizeof mac) == 1;
        EVP_MAC_CTX_free(ctx);
        if (!ok) hmac_failed();
        std::string sig = base64(mac, mac_len);
        OPENSSL_cleanse(mac, sizeof mac);
        return sig;
    }

private:
    [[noreturn]] static void hmac_failed() { throw CoreError(sqlstate::internal_error, "HMAC-SHA1 failed"); }

    EVP_MAC_CTX* keyed_ = nullptr;
};

}  // namespace

std::string compute_signature(std::string_view auth_token, std::string_view url, const FormParams& params) {
    return HmacSha1(auth_token).base64_of(std::string(url) + sorted_params(params));
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
    if (body_kind(content_type) == BodyKind::Json) {
        std::string claimed;
        for (const auto& [name, value] : parse_form(url_query(url)))
            if (name == "bodySHA256") {
                claimed = value;
                break;
            }
        body_hash_ok_ = !claimed.empty() && constant_time_equal(sha256_hex(body), claimed);
        sign(url, std::string());
    } else {
        sign(url, sorted_params(parse_form(body)));
    }
}

SignatureCheck::SignatureCheck(std::string_view url, const FormParams& form) { sign(url, sorted_params(form)); }

void SignatureCheck::sign(std::string_view url, const std::string& params) {
    params_ = params;
    for (std::string& variant : signature_url_variants(url)) signed_data_.push_back(std::move(variant) + params);
}

void SignatureCheck::add_url(std::string_view url) {
    for (std::string& variant : signature_url_variants(url)) signed_data_.push_back(std::move(variant) + params_);
}

bool SignatureCheck::matches(std::string_view auth_token, std::string_view signature) const {
    if (!body_hash_ok_) return false;
    const HmacSha1 hmac(auth_token);
    bool ok = false;
    for (const std::string& data : signed_data_)  // check all: no early exit on a match
        ok |= constant_time_equal(hmac.base64_of(data), signature);
    return ok;
}

bool validate_signature(std::string_view auth_token, std::string_view signature, std::string_view url,
                        std::string_view body, std::string_view content_type) {
    return SignatureCheck(url, body, content_type).matches(auth_token, signature);
}

}  // namespace byo
