// Encryption keys by id, parsed from the server setting (or key file). Never holds keys from a table.
//
// Grammar: entries separated by commas; an entry is `ID:HEX64` or a bare `HEX64` (id "default").
// The first entry is the current key (new envelopes use it); the others only decrypt, so keys can rotate.
#pragma once
#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace byo {

struct EncryptionKey {
    std::string id;
    std::array<unsigned char, 32> bytes{};
    EncryptionKey() = default;
    EncryptionKey(const EncryptionKey&) = default;
    EncryptionKey& operator=(const EncryptionKey&) = default;
    ~EncryptionKey();
};

class Keyring {
public:
    // Throws CoreError (22023) naming the entry that is wrong, never echoing key material.
    static Keyring parse(std::string_view spec);

    bool empty() const { return keys_.empty(); }
    const EncryptionKey& current() const;  // throws CoreError 55000 when no key is configured
    const EncryptionKey* find(std::string_view id) const;
    std::vector<std::string> ids() const;

private:
    std::vector<EncryptionKey> keys_;
};

// True for 1-32 characters of [A-Za-z0-9_.-].
bool valid_key_id(std::string_view id);

}  // namespace byo
