// Token envelopes (core/envelope.hpp): open_envelope and envelope_key_id on untrusted bytes (a row's bytea), and
// seal/open round trips.
// Input: an envelope as stored (0x01 | id length | key id | nonce | ciphertext | tag); the seed corpus holds
// envelopes sealed with kKeys below for kOwner / kAccount, so the fuzzer starts from ones that open.
#include <cstdint>
#include <string>

#include "core/core_error.hpp"
#include "core/envelope.hpp"
#include "core/keyring.hpp"
#include "fuzz_common.hpp"

namespace {

const char* const kKeys =
    "k2:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f,"
    "k1:f0e0d0c0b0a090807060504030201000f1e1d1c1b1a191817161514131211101";
const char* const kOwner = "0190f5a4-7c2e-7b3a-9d4e-5f6a7b8c9d0e";
const char* const kAccount = "AC0123456789abcdef0123456789abcdef";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const byo::Keyring ring = byo::Keyring::parse(kKeys);
    static const byo::Keyring empty_ring = byo::Keyring::parse("");
    static const std::string context = byo::envelope_context(kOwner, kAccount);
    const byo::Bytes envelope(data, data + size);

    std::string key_id;
    try {
        key_id = byo::envelope_key_id(envelope);
        FUZZ_CHECK(!key_id.empty() && key_id.size() + 2 + 12 + 16 <= size);
    } catch (const byo::CoreError& e) {
        FUZZ_CHECK(e.sqlstate() == "22023");
    }
    for (const byo::Keyring* r : {&ring, &empty_ring}) {
        try {
            const byo::Secret token = byo::open_envelope(*r, envelope, context);
            // Only a whole envelope under a configured key opens; its plaintext is what was sealed.
            FUZZ_CHECK(r->find(key_id) != nullptr);
            FUZZ_CHECK(token.size() == size - 2 - key_id.size() - 12 - 16);
            // Bound to its row: another owner's context does not open it.
            try {
                byo::open_envelope(*r, envelope, byo::envelope_context("platform", kAccount));
                FUZZ_CHECK(!"an envelope opened under another row's context");
            } catch (const byo::CoreError& e) {
                FUZZ_CHECK(e.sqlstate() == "XX001");
            }
        } catch (const byo::CoreError& e) {
            const std::string state = e.sqlstate();
            FUZZ_CHECK(state == "22023" || state == "55000" || state == "XX001");
            if (state != "22023") FUZZ_CHECK(!key_id.empty());
        }
    }

    // The input as a token: sealed under the current key, it opens to itself, and only for its own row.
    const std::string_view plaintext = fuzz::as_view(data, size);
    const byo::Bytes sealed = byo::seal_envelope(ring.current(), plaintext, context);
    FUZZ_CHECK(byo::envelope_key_id(sealed) == "k2");
    FUZZ_CHECK(byo::open_envelope(ring, sealed, context).view() == plaintext);
    byo::Bytes tampered = sealed;
    tampered[size % tampered.size()] ^= 0x01;
    try {
        byo::open_envelope(ring, tampered, context);
        FUZZ_CHECK(!"a tampered envelope opened");
    } catch (const byo::CoreError&) {
    }
    return 0;
}
