// Encryption key settings (core/keyring.hpp): Keyring::parse and valid_key_id.
// Input: the value of byo_twilio.encryption_key (or a key file), e.g. "k2:<64 hex>,k1:<64 hex>".
#include <cctype>
#include <cstdint>
#include <set>
#include <string>

#include "core/core_error.hpp"
#include "core/keyring.hpp"
#include "fuzz_common.hpp"

namespace {

// The longest run of hex digits in s: an error must never echo key material (64 hex digits).
std::size_t longest_hex_run(std::string_view s) {
    std::size_t best = 0, run = 0;
    for (unsigned char c : s) {
        run = std::isxdigit(c) ? run + 1 : 0;
        best = std::max(best, run);
    }
    return best;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view spec = fuzz::as_view(data, size);

    const bool id_ok = byo::valid_key_id(spec);
    if (id_ok) FUZZ_CHECK(!spec.empty() && spec.size() <= 32);

    try {
        const byo::Keyring ring = byo::Keyring::parse(spec);
        const std::vector<std::string> ids = ring.ids();
        FUZZ_CHECK(ring.empty() == ids.empty());
        FUZZ_CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == ids.size());
        for (const std::string& id : ids) {
            FUZZ_CHECK(id == "default" || byo::valid_key_id(id));
            FUZZ_CHECK(ring.find(id) != nullptr && ring.find(id)->id == id);
        }
        if (!ring.empty()) FUZZ_CHECK(ring.current().id == ids.front());
        else {
            try {
                ring.current();
                FUZZ_CHECK(!"current() of an empty keyring must throw");
            } catch (const byo::CoreError& e) {
                FUZZ_CHECK(e.sqlstate() == "55000");
            }
        }
    } catch (const byo::CoreError& e) {
        FUZZ_CHECK(e.sqlstate() == "22023");
        FUZZ_CHECK(longest_hex_run(e.what()) < 32);
        FUZZ_CHECK(longest_hex_run(e.hint()) < 32);
    }
    return 0;
}
