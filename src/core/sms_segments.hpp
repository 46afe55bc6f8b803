// How many SMS segments Twilio bills for a body (GSM 03.38 / UCS-2 rules), so sends can be rate limited by
// segment rather than by message.
#pragma once
#include <string_view>

namespace byo {

struct SegmentCount {
    int segments;  // 0 for an empty body
    bool ucs2;     // true when any character is outside GSM-7 (or the body is not valid UTF-8)
    int units;     // GSM-7 septets, or UTF-16 code units when ucs2
};

// GSM-7 when every character is in the basic set or the extension table (extension characters take 2
// septets): 1 segment up to 160 septets, else 153 per segment. Otherwise UCS-2: 1 segment up to 70 UTF-16
// units, else 67 per segment. A 2-septet character or a surrogate pair never straddles a segment boundary.
// Each byte of malformed UTF-8 counts as one U+FFFD and forces UCS-2. Counts saturate at INT_MAX.
SegmentCount count_sms_segments(std::string_view utf8_body);

}  // namespace byo
