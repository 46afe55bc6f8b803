// Sealed auth tokens: a browser or app encrypts a user's auth token to the server's public key before calling
// save_settings, so the plaintext never sits in a statement, a bind parameter, a log line or pg_stat_statements.
//
// Format (text): bt1:<key id>:<base64 ephemeral X25519 public key>:<base64 AES-256-GCM ciphertext + tag>
//   shared   = X25519(ephemeral private, server public)
//   key|iv   = HKDF-SHA256(shared, salt = ephemeral public | server public, info = kSealInfo), 32 + 12 bytes
//   aad      = "byo_twilio.sealed_token" \0 key id \0 owner \0 account SID
// The server's X25519 key is derived from the encryption key of the same id, so it rotates with it. Binding the
// owner (a user id, or "platform") and account SID means a sealed token copied from a log opens for nobody else.
#pragma once
#include <string>
#include <string_view>

#include "core/keyring.hpp"
#include "core/secret.hpp"

namespace byo {

inline constexpr std::string_view kSealPrefix = "bt1:";

struct SealingPublicKey {
    std::string key_id;
    std::string public_key_base64;  // 32 raw bytes of X25519, standard base64
};

// The public half of the current (newest) key's sealing key pair.
SealingPublicKey sealing_public_key(const Keyring& ring);

bool looks_sealed(std::string_view input);

// Throws CoreError: 22023 malformed, 55000 key id not configured, 28000 does not open for this owner and
// account (sealed for someone else, or altered). Messages never contain the input.
Secret open_sealed_token(const Keyring& ring, std::string_view sealed, std::string_view owner,
                         std::string_view account_sid);

// What web/seal-token.js does, for tests and tools: seal `token` to a public key for an owner and account.
std::string seal_token(const SealingPublicKey& to, std::string_view token, std::string_view owner,
                       std::string_view account_sid);

}  // namespace byo
