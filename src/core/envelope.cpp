#include "core/envelope.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

#include "core/core_error.hpp"

namespace byo {

namespace {

constexpr unsigned char kVersion = 1;
constexpr std::size_t kNonceLen = 12;
constexpr std::size_t kTagLen = 16;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

CipherCtx new_ctx() {
    CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
    if (!ctx) throw CoreError(sqlstate::internal_error, "could not allocate a cipher context");
    return ctx;
}

[[noreturn]] void crypto_failure(const char* what) {
    throw CoreError(sqlstate::internal_error, std::string("AES-256-GCM ") + what + " failed");
}

struct Header {
    std::string key_id;
    std::size_t size = 0;  // bytes of version + length + id
};

Header parse_header(const Bytes& env) {
    if (env.size() < 2 || env[0] != kVersion)
        throw CoreError(sqlstate::invalid_parameter_value, "token envelope is malformed (unknown version)");
    std::size_t id_len = env[1];
    Header h;
    h.size = 2 + id_len;
    if (id_len == 0 || env.size() < h.size + kNonceLen + kTagLen)
        throw CoreError(sqlstate::invalid_parameter_value, "token envelope is malformed (truncated)");
    h.key_id.assign(reinterpret_cast<const char*>(env.data() + 2), id_len);
    // An altered header could carry any bytes; they must not reach an error message (or a client) as text.
    if (!valid_key_id(h.key_id))
        throw CoreError(sqlstate::invalid_parameter_value, "token envelope is malformed (invalid key id)");
    return h;
}

std::string associated_data(const Bytes& env, std::size_t header_size, std::string_view context) {
    std::string aad(reinterpret_cast<const char*>(env.data()), header_size);
    aad.append(context);
    return aad;
}

}  // namespace

std::string envelope_context(std::string_view owner, std::string_view account_sid) {
    std::string ctx("byo_twilio.auth_token");
    ctx.push_back('\0');
    ctx.append(owner);
    ctx.push_back('\0');
    ctx.append(account_sid);
    return ctx;
}

Bytes seal_envelope(const EncryptionKey& key, std::string_view plaintext, std::string_view context) {
    Bytes env;
    env.push_back(kVersion);
    env.push_back(static_cast<unsigned char>(key.id.size()));
    env.insert(env.end(), key.id.begin(), key.id.end());
    const std::size_t header_size = env.size();
    env.resize(header_size + kNonceLen);
    if (RAND_bytes(env.data() + header_size, kNonceLen) != 1) crypto_failure("nonce generation");
    const std::string aad = associated_data(env, header_size, context);

    CipherCtx ctx = new_ctx();
    int len = 0;
    if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceLen, nullptr) != 1 ||
        EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.bytes.data(), env.data() + header_size) != 1 ||
        EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                          static_cast<int>(aad.size())) != 1)
        crypto_failure("encryption setup");
    const std::size_t ct_at = env.size();
    env.resize(ct_at + plaintext.size() + kTagLen);
    if (EVP_EncryptUpdate(ctx.get(), env.data() + ct_at, &len,
                          reinterpret_cast<const unsigned char*>(plaintext.data()),
                          static_cast<int>(plaintext.size())) != 1)
        crypto_failure("encryption");
    int fin = 0;
    if (EVP_EncryptFinal_ex(ctx.get(), env.data() + ct_at + len, &fin) != 1) crypto_failure("encryption");
    const std::size_t tag_at = ct_at + len + fin;
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagLen, env.data() + tag_at) != 1)
        crypto_failure("tag");
    env.resize(tag_at + kTagLen);
    return env;
}

std::string envelope_key_id(const Bytes& envelope) { return parse_header(envelope).key_id; }

Secret open_envelope(const Keyring& ring, const Bytes& env, std::string_view context) {
    const Header h = parse_header(env);
    const EncryptionKey* key = ring.find(h.key_id);
    if (!key) {
        ring.current();  // no keys at all: say so, with the hint on how to configure one
        throw CoreError(sqlstate::prerequisite_state,
                        "token was encrypted with key id '" + h.key_id + "', which is not configured",
                        "Keep retired keys in byo_twilio.encryption_key (after the newest) until "
                        "twilio.rotate_encryption_keys() has re-encrypted every token.");
    }
    const unsigned char* nonce = env.data() + h.size;
    const unsigned char* ct = nonce + kNonceLen;
    const std::size_t ct_len = env.size() - h.size - kNonceLen - kTagLen;
    const std::string aad = associated_data(env, h.size, context);

    CipherCtx ctx = new_ctx();
    int len = 0;
    if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceLen, nullptr) != 1 ||
        EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key->bytes.data(), nonce) != 1 ||
        EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                          static_cast<int>(aad.size())) != 1)
        crypto_failure("decryption setup");
    Secret out;
    out.buffer().resize(ct_len);
    if (EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.buffer().data()), &len, ct,
                          static_cast<int>(ct_len)) != 1)
        crypto_failure("decryption");
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagLen,
                            const_cast<unsigned char*>(ct + ct_len)) != 1)
        crypto_failure("tag");
    int fin = 0;
    if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.buffer().data()) + len, &fin) != 1)
        throw CoreError(sqlstate::data_corrupted,
                        "token envelope does not authenticate: it was altered, or it belongs to another user or "
                        "account SID");
    return out;
}

}  // namespace byo
