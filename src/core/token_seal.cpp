#include "core/token_seal.hpp"

#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <array>
#include <memory>
#include <vector>

#include "core/core_error.hpp"

namespace byo {

namespace {

using Raw = std::vector<unsigned char>;
constexpr std::size_t kKeyLen = 32, kIvLen = 12, kTagLen = 16;
constexpr std::size_t kMaxSealedLen = 1024;  // a token is 32 characters; far more is not a sealed token
constexpr std::string_view kKeyInfo = "byo_twilio token sealing key v1";
constexpr std::string_view kSealInfo = "byo_twilio sealed token v1";
constexpr std::string_view kAadLabel = "byo_twilio.sealed_token";

struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CtxFree {
    void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct CipherFree {
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, CtxFree>;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherFree>;

[[noreturn]] void crypto_failure(const char* what) {
    throw CoreError(sqlstate::internal_error, std::string("token sealing: ") + what + " failed");
}
[[noreturn]] void malformed(const char* why) {
    throw CoreError(sqlstate::invalid_parameter_value, std::string("the sealed auth token is malformed: ") + why,
                    "Seal the token with web/seal-token.js and the key from twilio.token_sealing_key().");
}

// Wiped on destruction: derived keys and shared secrets.
struct WipedBytes {
    Raw bytes;
    explicit WipedBytes(std::size_t n) : bytes(n) {}
    ~WipedBytes() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

void hkdf(const unsigned char* ikm, std::size_t ikm_len, const Raw& salt, std::string_view info, Raw& out) {
    PkeyCtx ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
    std::size_t len = out.size();
    if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) != 1 ||
        (!salt.empty() && EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), salt.data(), static_cast<int>(salt.size())) != 1) ||
        EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), ikm, static_cast<int>(ikm_len)) != 1 ||
        EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), reinterpret_cast<const unsigned char*>(info.data()),
                                    static_cast<int>(info.size())) != 1 ||
        EVP_PKEY_derive(ctx.get(), out.data(), &len) != 1 || len != out.size())
        crypto_failure("HKDF");
}

// The X25519 private key of an encryption key: HKDF of its bytes, so it needs no storage of its own.
Pkey sealing_private_key(const EncryptionKey& key) {
    WipedBytes scalar(kKeyLen);
    hkdf(key.bytes.data(), key.bytes.size(), {}, kKeyInfo, scalar.bytes);
    Pkey pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, scalar.bytes.data(), kKeyLen));
    if (!pkey) crypto_failure("X25519 key");
    return pkey;
}

Raw raw_public(EVP_PKEY* pkey) {
    Raw out(kKeyLen);
    std::size_t len = out.size();
    if (EVP_PKEY_get_raw_public_key(pkey, out.data(), &len) != 1 || len != kKeyLen) crypto_failure("public key");
    return out;
}

WipedBytes x25519(EVP_PKEY* own, const Raw& peer_public) {
    Pkey peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_public.data(), peer_public.size()));
    if (!peer) malformed("the ephemeral key is not an X25519 key");
    PkeyCtx ctx(EVP_PKEY_CTX_new(own, nullptr));
    WipedBytes shared(kKeyLen);
    std::size_t len = shared.bytes.size();
    // OpenSSL refuses an all-zero result (a low-order peer point): that is a bad input, not our failure.
    if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1 ||
        EVP_PKEY_derive(ctx.get(), shared.bytes.data(), &len) != 1 || len != kKeyLen)
        malformed("the ephemeral key is unusable");
    return shared;
}

std::string base64(const Raw& raw) {
    std::string out(4 * ((raw.size() + 2) / 3), '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), raw.data(),
                                  static_cast<int>(raw.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

// Strict standard base64 (with padding); nullopt-like empty result signals an error through `ok`.
Raw unbase64(std::string_view text, bool& ok) {
    ok = false;
    if (text.empty() || text.size() % 4 != 0) return {};
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        const bool pad = c == '=' && i + 2 >= text.size() && (i + 1 == text.size() || text.back() == '=');
        if (!alnum && c != '+' && c != '/' && !pad) return {};
    }
    Raw out(text.size() / 4 * 3);
    const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                  static_cast<int>(text.size()));
    if (n < 0) return {};
    std::size_t len = static_cast<std::size_t>(n);
    for (std::size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) --len;  // EVP counts padding as zeros
    out.resize(len);
    ok = true;
    return out;
}

std::string aad_for(std::string_view key_id, std::string_view owner, std::string_view account_sid) {
    std::string aad(kAadLabel);
    for (std::string_view part : {key_id, owner, account_sid}) {
        aad.push_back('\0');
        aad.append(part);
    }
    return aad;
}

struct BoxKey {
    WipedBytes bytes{kKeyLen + kIvLen};
    const unsigned char* key() const { return bytes.bytes.data(); }
    const unsigned char* iv() const { return bytes.bytes.data() + kKeyLen; }
};

void derive_box_key(const WipedBytes& shared, const Raw& ephemeral_public, const Raw& server_public, BoxKey& out) {
    Raw salt(ephemeral_public);
    salt.insert(salt.end(), server_public.begin(), server_public.end());
    hkdf(shared.bytes.data(), shared.bytes.size(), salt, kSealInfo, out.bytes.bytes);
}

struct Parts {
    std::string_view key_id, ephemeral, box;
};

Parts split(std::string_view sealed) {
    if (sealed.size() > kMaxSealedLen) malformed("too long");
    if (!looks_sealed(sealed)) malformed("it does not start with bt1:");
    std::string_view rest = sealed.substr(kSealPrefix.size());
    Parts p;
    std::string_view* fields[] = {&p.key_id, &p.ephemeral, &p.box};
    for (int i = 0; i < 3; ++i) {
        const std::size_t colon = rest.find(':');
        if ((colon == std::string_view::npos) != (i == 2)) malformed("it must have four ':'-separated fields");
        *fields[i] = rest.substr(0, colon);
        rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    }
    if (!valid_key_id(p.key_id)) malformed("the key id is not 1-32 of A-Z a-z 0-9 _ . -");
    return p;
}

}  // namespace

bool looks_sealed(std::string_view input) { return input.substr(0, kSealPrefix.size()) == kSealPrefix; }

SealingPublicKey sealing_public_key(const Keyring& ring) {
    const EncryptionKey& key = ring.current();
    return {key.id, base64(raw_public(sealing_private_key(key).get()))};
}

Secret open_sealed_token(const Keyring& ring, std::string_view sealed, std::string_view owner,
                         std::string_view account_sid) {
    const Parts p = split(sealed);
    bool ok = false;
    const Raw ephemeral = unbase64(p.ephemeral, ok);
    if (!ok || ephemeral.size() != kKeyLen) malformed("the ephemeral key is not 32 bytes of base64");
    const Raw box = unbase64(p.box, ok);
    if (!ok || box.size() <= kTagLen) malformed("the ciphertext is not base64 or is too short");
    const EncryptionKey* key = ring.find(p.key_id);
    if (!key) {
        ring.current();  // no key at all: that error, with its hint
        throw CoreError(sqlstate::prerequisite_state,
                        "the auth token was sealed with key id '" + std::string(p.key_id) + "', which is not configured",
                        "Fetch the current key with twilio.token_sealing_key() and seal the token again.");
    }
    const Pkey own = sealing_private_key(*key);
    BoxKey box_key;
    derive_box_key(x25519(own.get(), ephemeral), ephemeral, raw_public(own.get()), box_key);

    const std::string aad = aad_for(p.key_id, owner, account_sid);
    const std::size_t ct_len = box.size() - kTagLen;
    Secret plain;
    plain.buffer().resize(ct_len);
    CipherCtx ctx(EVP_CIPHER_CTX_new());
    int len = 0;
    if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kIvLen, nullptr) != 1 ||
        EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, box_key.key(), box_key.iv()) != 1 ||
        EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                          static_cast<int>(aad.size())) != 1 ||
        EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.buffer().data()), &len, box.data(),
                          static_cast<int>(ct_len)) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagLen,
                            const_cast<unsigned char*>(box.data() + ct_len)) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.buffer().data()) + len, &len) != 1)
        throw CoreError(sqlstate::invalid_authorization,
                        "the sealed auth token does not open for this user and account SID",
                        "It was sealed for another user or account SID, or altered. Seal it again for this "
                        "user and the account SID you are saving.");
    return plain;
}

std::string seal_token(const SealingPublicKey& to, std::string_view token, std::string_view owner,
                       std::string_view account_sid) {
    bool ok = false;
    const Raw server_public = unbase64(to.public_key_base64, ok);
    if (!ok || server_public.size() != kKeyLen) malformed("the public key is not 32 bytes of base64");
    WipedBytes eph_bytes(kKeyLen);
    if (RAND_bytes(eph_bytes.bytes.data(), static_cast<int>(kKeyLen)) != 1) crypto_failure("random");
    const Pkey eph(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, eph_bytes.bytes.data(), kKeyLen));
    if (!eph) crypto_failure("X25519 key");
    const Raw eph_public = raw_public(eph.get());
    BoxKey box_key;
    derive_box_key(x25519(eph.get(), server_public), eph_public, server_public, box_key);

    const std::string aad = aad_for(to.key_id, owner, account_sid);
    Raw box(token.size() + kTagLen);
    CipherCtx ctx(EVP_CIPHER_CTX_new());
    int len = 0, total = 0;
    if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kIvLen, nullptr) != 1 ||
        EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, box_key.key(), box_key.iv()) != 1 ||
        EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                          static_cast<int>(aad.size())) != 1 ||
        EVP_EncryptUpdate(ctx.get(), box.data(), &len, reinterpret_cast<const unsigned char*>(token.data()),
                          static_cast<int>(token.size())) != 1)
        crypto_failure("AES-256-GCM");
    total = len;
    if (EVP_EncryptFinal_ex(ctx.get(), box.data() + total, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagLen, box.data() + token.size()) != 1)
        crypto_failure("AES-256-GCM");
    return std::string(kSealPrefix) + to.key_id + ":" + base64(eph_public) + ":" + base64(box);
}

}  // namespace byo
