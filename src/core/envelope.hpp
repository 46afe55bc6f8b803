// AES-256-GCM envelope for auth tokens.
//
// Layout (version 1): 0x01 | key-id length (1 byte) | key id | 12-byte nonce | ciphertext | 16-byte tag.
// Associated data = the header (version + key id) + a context naming the row (owner and account SID), so an
// envelope copied into another user's row, or with its key id edited, fails to open.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/keyring.hpp"
#include "core/secret.hpp"

namespace byo {

using Bytes = std::vector<unsigned char>;

// The associated-data context for a token owned by `owner` (a user id, or "platform") for `account_sid`.
std::string envelope_context(std::string_view owner, std::string_view account_sid);

Bytes seal_envelope(const EncryptionKey& key, std::string_view plaintext, std::string_view context);

// Throws CoreError: 22023 malformed, 55000 key id not configured, XX001 authentication failed.
Secret open_envelope(const Keyring& ring, const Bytes& envelope, std::string_view context);

// The key id an envelope was sealed with (throws 22023 when malformed).
std::string envelope_key_id(const Bytes& envelope);

}  // namespace byo
