#include "core/keyring.hpp"

#include <openssl/crypto.h>

#include <cctype>

#include "core/core_error.hpp"
#include "core/text.hpp"

namespace byo {

EncryptionKey::~EncryptionKey() { OPENSSL_cleanse(bytes.data(), bytes.size()); }

bool valid_key_id(std::string_view id) {
    if (id.empty() || id.size() > 32) return false;
    for (unsigned char c : id)
        if (!std::isalnum(c) && c != '_' && c != '.' && c != '-') return false;
    return true;
}

namespace {

bool all_hex(std::string_view s) {
    for (unsigned char c : s)
        if (!std::isxdigit(c)) return false;
    return true;
}

[[noreturn]] void bad_entry(std::size_t n, const std::string& why) {
    throw CoreError(sqlstate::invalid_parameter_value,
                    "byo_twilio.encryption_key: entry " + std::to_string(n) + " " + why,
                    "Each entry is ID:HEX or HEX, where HEX is 64 hexadecimal digits (32 bytes); separate entries "
                    "with commas, newest first.");
}

}  // namespace

Keyring Keyring::parse(std::string_view spec) {
    Keyring ring;
    std::size_t n = 0;
    while (true) {
        std::size_t comma = spec.find(',');
        std::string_view entry = trim_space(spec.substr(0, comma));
        ++n;
        if (entry.empty()) {
            if (comma == std::string_view::npos && n == 1) break;  // whole setting empty: no keys
            bad_entry(n, "is empty");
        }
        EncryptionKey key;
        std::string_view hex = entry;
        std::size_t colon = entry.find(':');
        if (colon == std::string_view::npos) {
            key.id = "default";
        } else {
            key.id = std::string(trim_space(entry.substr(0, colon)));
            hex = trim_space(entry.substr(colon + 1));
            if (!valid_key_id(key.id)) bad_entry(n, "has an invalid key id (1-32 of A-Z a-z 0-9 _ . -)");
        }
        if (hex.size() != 64 || !all_hex(hex)) bad_entry(n, "is not 64 hexadecimal digits");
        for (std::size_t i = 0; i < 32; ++i) {
            long v = (OPENSSL_hexchar2int(static_cast<unsigned char>(hex[2 * i])) << 4) |
                OPENSSL_hexchar2int(static_cast<unsigned char>(hex[2 * i + 1]));
            key.bytes[i] = static_cast<unsigned char>(v);
        }
        if (ring.find(key.id)) bad_entry(n, "repeats key id '" + key.id + "'");
        ring.keys_.push_back(key);
        if (comma == std::string_view::npos) break;
        spec.remove_prefix(comma + 1);
    }
    return ring;
}

const EncryptionKey& Keyring::current() const {
    if (keys_.empty())
        throw CoreError(sqlstate::prerequisite_state, "no encryption key is configured",
                        "Set byo_twilio.encryption_key (64 hexadecimal digits) or byo_twilio.encryption_key_file "
                        "in postgresql.conf and reload; see docs/security.md.");
    return keys_.front();
}

const EncryptionKey* Keyring::find(std::string_view id) const {
    for (const auto& k : keys_)
        if (k.id == id) return &k;
    return nullptr;
}

std::vector<std::string> Keyring::ids() const {
    std::vector<std::string> out;
    for (const auto& k : keys_) out.push_back(k.id);
    return out;
}

}  // namespace byo
