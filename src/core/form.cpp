#include "core/form.hpp"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include "core/core_error.hpp"

namespace byo {

namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// '+' is a space, %XX its byte; a '%' not followed by two hex digits stays as it is (as libcurl's unescaper).
// Decoded here, not by libcurl: a webhook has about 50 names and values, and a call and a copy each were a fifth
// of handle_webhook's own CPU.
std::string unescape(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
        const char c = raw[i];
        if (c == '+') {
            out.push_back(' ');
            continue;
        }
        if (c == '%' && i + 2 < raw.size()) {
            const int hi = hex_digit(raw[i + 1]), lo = hex_digit(raw[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(c);
    }
    return out;
}

std::string escape(std::string_view raw) {
    char* encoded = curl_easy_escape(nullptr, raw.data(), static_cast<int>(raw.size()));
    if (!encoded) throw std::bad_alloc();
    std::string out(encoded);
    curl_free(encoded);
    return out;
}

}  // namespace

FormParams parse_form(std::string_view body) {
    FormParams out;
    while (!body.empty()) {
        std::size_t amp = body.find('&');
        std::string_view pair = body.substr(0, amp);
        if (!pair.empty()) {
            std::size_t eq = pair.find('=');
            if (eq == std::string_view::npos)
                out.emplace_back(unescape(pair), std::string());
            else
                out.emplace_back(unescape(pair.substr(0, eq)), unescape(pair.substr(eq + 1)));
        }
        if (amp == std::string_view::npos) break;
        body.remove_prefix(amp + 1);
    }
    return out;
}

std::string_view url_query(std::string_view url) {
    std::size_t hash = url.find('#');
    if (hash != std::string_view::npos) url = url.substr(0, hash);
    std::size_t q = url.find('?');
    return q == std::string_view::npos ? std::string_view() : url.substr(q + 1);
}

std::string encode_form(const FormParams& params) {
    std::string out;
    for (const auto& [name, value] : params) {
        if (!out.empty()) out.push_back('&');
        out += escape(name);
        out.push_back('=');
        out += escape(value);
    }
    return out;
}

FormParams params_from_json(std::string_view json_text) {
    const auto bad = [](const std::string& why) {
        return CoreError(sqlstate::invalid_parameter_value, "params " + why,
                         "Pass a JSON object whose values are strings or arrays of strings, e.g. "
                         "{\"To\": \"+15005550006\", \"MediaUrl\": [\"a\", \"b\"]}.");
    };
    nlohmann::json doc = nlohmann::json::parse(json_text.begin(), json_text.end(), nullptr, false);
    if (!doc.is_object()) throw bad("must be a JSON object");
    FormParams out;
    for (const auto& [name, value] : doc.items()) {
        if (value.is_string()) {
            out.emplace_back(name, value.get<std::string>());
        } else if (value.is_array()) {
            for (const auto& item : value) {
                if (!item.is_string()) throw bad("value of \"" + name + "\" has a non-string array element");
                out.emplace_back(name, item.get<std::string>());
            }
        } else {
            throw bad("value of \"" + name + "\" is neither a string nor an array of strings");
        }
    }
    return out;
}

std::size_t utf8_sequence(std::string_view s, std::size_t i) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    if (c < 0x80) return 1;
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range, narrower after E0, ED, F0 and F4
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else return 0;
    if (i + n > s.size() || b(i + 1) < lo || b(i + 1) > hi) return 0;
    for (std::size_t k = 2; k < n; ++k)
        if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
    return n;
}

}  // namespace byo
