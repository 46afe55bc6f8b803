// SMS segment counting (core/sms_segments.hpp): GSM-7 / UCS-2 detection and segment counts of any bytes.
// Input: a message body.
#include <cstdint>

#include "core/sms_segments.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body = fuzz::as_view(data, size);
    const byo::SegmentCount c = byo::count_sms_segments(body);

    FUZZ_CHECK((c.segments == 0) == body.empty());
    FUZZ_CHECK((c.units == 0) == body.empty());
    FUZZ_CHECK(c.segments >= 0 && c.units >= 0);
    // Every byte is at most one character; a GSM-7 character is 1 or 2 septets, a UCS-2 one 1 or 2 units.
    FUZZ_CHECK(static_cast<std::size_t>(c.units) <= 2 * size);
    const int single = c.ucs2 ? 70 : 160, per_part = c.ucs2 ? 67 : 153;
    if (!body.empty()) {
        if (c.units <= single) FUZZ_CHECK(c.segments == 1);
        else {
            // At least the units divided by the part size; a character never straddles a boundary, which may
            // leave at most one unit unused per part (two-unit characters).
            FUZZ_CHECK(c.segments >= (c.units + per_part - 1) / per_part);
            FUZZ_CHECK(static_cast<long>(c.segments) * (per_part - 1) < static_cast<long>(c.units) + per_part);
        }
    }
    // Plain ASCII letters and digits are GSM-7 and one septet each.
    bool alnum = !body.empty();
    for (char ch : body)
        alnum &= (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == ' ';
    if (alnum) FUZZ_CHECK(!c.ucs2 && static_cast<std::size_t>(c.units) == size);
    return 0;
}
