// Twilio's published vectors (../shared/TWILIO.md) and the edge cases of form bodies and URL ports.
#include <gtest/gtest.h>

#include "core/core_error.hpp"
#include "core/signature.hpp"

using namespace byo;

namespace {

const char* kToken = "12345";
const char* kUrl = "https://mycompany.com/myapp.php?foo=1&bar=2";
const FormParams kParams = {{"CallSid", "CA1234567890ABCDE"},
                            {"Caller", "+14158675309"},
                            {"Digits", "1234"},
                            {"From", "+14158675309"},
                            {"To", "+18005551212"}};
const char* kBody = "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212";
const char* kForm = "application/x-www-form-urlencoded";

}  // namespace

TEST(Signature, PublishedVectors) {
    EXPECT_EQ(compute_signature(kToken, kUrl, kParams), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    EXPECT_EQ(compute_signature(kToken, "https://mycompany.com:443/myapp.php?foo=1&bar=2", kParams),
              "kvajT1Ptam85bY51eRf/AJRuM3w=");
    EXPECT_EQ(compute_signature(kToken, "http://mycompany.com:1234/myapp.php?foo=1&bar=2", kParams),
              "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=");
    FormParams repeated = {{"Sid", "CA123"}, {"SidAccount", "AC123"}, {"Digits", "5678"}, {"Digits", "1234"},
                           {"Digits", "1234"}};
    EXPECT_EQ(compute_signature(kToken, kUrl, repeated), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
}

TEST(Signature, ValidatesFormBody) {
    EXPECT_TRUE(validate_signature(kToken, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", kUrl, kBody, kForm));
    EXPECT_FALSE(validate_signature("54321", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", kUrl, kBody, kForm));
    EXPECT_FALSE(validate_signature(kToken, "RSOYDt4T1cUTdK1PDd93/VVr8B8", kUrl, kBody, kForm));
    EXPECT_FALSE(validate_signature(kToken, "", kUrl, kBody, kForm));
    std::string tampered = std::string(kBody) + "&Extra=1";
    EXPECT_FALSE(validate_signature(kToken, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", kUrl, tampered, kForm));
}

TEST(Signature, PortVariantsAccepted) {
    // Signed with :443, received without a port, and the other way round.
    EXPECT_TRUE(validate_signature(kToken, "kvajT1Ptam85bY51eRf/AJRuM3w=", kUrl, kBody, kForm));
    EXPECT_TRUE(validate_signature(kToken, "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
                                   "https://mycompany.com:443/myapp.php?foo=1&bar=2", kBody, kForm));
    // Signed without a port, received on a non-default port.
    EXPECT_TRUE(validate_signature(kToken, "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
                                   "https://mycompany.com:8443/myapp.php?foo=1&bar=2", kBody, kForm));
    // A different query is a different URL.
    EXPECT_FALSE(validate_signature(kToken, "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
                                    "https://mycompany.com/myapp.php?foo=1&bar=3", kBody, kForm));
    // The scheme's default port: :80 is not https's.
    EXPECT_FALSE(validate_signature(kToken, "kvajT1Ptam85bY51eRf/AJRuM3w=",
                                    "http://mycompany.com/myapp.php?foo=1&bar=2", kBody, kForm));
}

TEST(Signature, UrlVariants) {
    auto v = signature_url_variants("https://user@h.example:8443/p?q=1#f");
    ASSERT_EQ(v.size(), 2u);
    EXPECT_EQ(v[0], "https://user@h.example/p?q=1#f");
    EXPECT_EQ(v[1], "https://user@h.example:8443/p?q=1#f");
    v = signature_url_variants("http://[::1]/x");
    EXPECT_EQ(v[1], "http://[::1]:80/x");
    v = signature_url_variants("not a url");
    ASSERT_EQ(v.size(), 1u);
}

TEST(Signature, JsonBodyUsesBodySha256) {
    const std::string url =
        "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256="
        "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    const std::string body = "{\"property\": \"value\", \"boolean\": true}";
    EXPECT_EQ(sha256_hex(body), "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620");
    EXPECT_EQ(compute_signature(kToken, url, {}), "a9nBmqA0ju/hNViExpshrM61xv4=");
    EXPECT_TRUE(validate_signature(kToken, "a9nBmqA0ju/hNViExpshrM61xv4=", url, body, "application/json"));
    EXPECT_TRUE(validate_signature(kToken, "a9nBmqA0ju/hNViExpshrM61xv4=", url, body,
                                   "Application/JSON; charset=utf-8"));
    EXPECT_FALSE(validate_signature(kToken, "a9nBmqA0ju/hNViExpshrM61xv4=", url, body + " ", "application/json"));
    EXPECT_FALSE(validate_signature(kToken, "a9nBmqA0ju/hNViExpshrM61xv4=", kUrl, body, "application/json"));
}

TEST(Signature, UnsupportedContentTypeIsAnError) {
    try {
        validate_signature(kToken, "x", kUrl, "", "text/plain");
        FAIL() << "expected CoreError";
    } catch (const CoreError& e) {
        EXPECT_EQ(e.sqlstate(), "22023");
        EXPECT_NE(std::string(e.what()).find("text/plain"), std::string::npos);
    }
}

TEST(Signature, ConstantTimeEqual) {
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));
    EXPECT_FALSE(constant_time_equal("abc", "abcd"));
}

TEST(Signature, SortsByUtf16CodeUnitsLikeTwilio) {
    // U+FF21 sorts after U+1F389 in UTF-16 (0xFF21 > 0xD83C) but before it bytewise (EF.. < F0..).
    // Expected values computed with the npm `twilio` library's getExpectedTwilioSignature.
    const std::string fullwidth = "\xEF\xBC\xA1", party = "\xF0\x9F\x8E\x89";
    EXPECT_EQ(compute_signature("t", "https://h/", {{fullwidth, "1"}, {party, "2"}}), "vTKzyjFuDeMiImx6ZXeWe6eOLZ0=");
    EXPECT_EQ(compute_signature("t", "https://h/", {{"K", fullwidth}, {"K", party}}), "W0mIYR/1IKpQkIkYZzie1anRh78=");
}

TEST(Signature, UndecodableBytesAreSignedAsTheyAre) {
    // %FF and %FE decode to different bytes, so they must not share a signature (the Node helper would turn
    // both into U+FFFD). Twilio itself only sends valid UTF-8.
    const std::string sig = compute_signature("t", "https://h/", parse_form("Body=%FF"));
    EXPECT_TRUE(validate_signature("t", sig, "https://h/", "Body=%FF", kForm));
    EXPECT_FALSE(validate_signature("t", sig, "https://h/", "Body=%FE", kForm));
}

TEST(Signature, ValuesDifferingOnlyInIllFormedBytesAreAllSigned) {
    // Pairs that read alike when ill-formed UTF-8 is taken as U+FFFD (or, before, when overlongs and CESU-8 were
    // decoded): each value is signed, in one order whatever the order of the params. `first` sorts first.
    struct Case {
        std::string first, second;
    };
    const Case cases[] = {
        {"\xFE", "\xFF"},                                   // not UTF-8 at all: by bytes
        {"a\xFE" "b", "a\xFF" "b"},                         // the same, inside a value
        {"/", "\xC0\xAF"},                                  // an overlong '/'
        {"\xF0\x9F\x98\x80", "\xED\xA0\xBD\xED\xB8\x80"},   // U+1F600, and its CESU-8 form
        {"\xEF\xBF\xBD", "\xFF"},                           // U+FFFD itself, and a byte that reads as it
        {"\xF4\x90\x80\x80", "\xF4\x90\x80\x81"},           // past U+10FFFF
    };
    const std::string url = "https://h/";
    for (const Case& c : cases) {
        SCOPED_TRACE(c.first + " / " + c.second);
        const std::string both = compute_signature("t", url + "K" + c.first + "K" + c.second, {});
        EXPECT_EQ(compute_signature("t", url, {{"K", c.first}, {"K", c.second}}), both);
        EXPECT_EQ(compute_signature("t", url, {{"K", c.second}, {"K", c.first}}), both);
        // as names too
        const std::string names = compute_signature("t", url + c.first + "1" + c.second + "1", {});
        EXPECT_EQ(compute_signature("t", url, {{c.second, "1"}, {c.first, "1"}}), names);
        EXPECT_EQ(compute_signature("t", url, {{c.first, "1"}, {c.second, "1"}}), names);
    }
    // Through a form body, either order validates with the same signature.
    const std::string sig = compute_signature("t", url, parse_form("K=%FF&K=%FE"));
    EXPECT_TRUE(validate_signature("t", sig, url, "K=%FE&K=%FF", kForm));
    EXPECT_FALSE(validate_signature("t", sig, url, "K=%FE", kForm));
    EXPECT_FALSE(validate_signature("t", sig, url, "K=%FF", kForm));
    // A pair repeated byte for byte is still signed once, as Twilio's helpers do.
    EXPECT_EQ(compute_signature("t", url, {{"K", "\xFF"}, {"K", "\xFF"}, {"K", "\xFE"}}),
              compute_signature("t", url + "K\xFEK\xFF", {}));
}

TEST(Signature, AsciiParamsSortByNameThenValueOnceEach) {
    // The ASCII fast path: names, then each name's distinct values, in byte order; a repeated pair counts once.
    const FormParams params = {{"b", "2"}, {"a", "x"}, {"b", "1"}, {"b", "2"}, {"B", "z"}};
    EXPECT_EQ(compute_signature("t", "https://h/", params), compute_signature("t", "https://h/Bzaxb1b2", {}));
}

TEST(Signature, PreParsedFormChecksLikeTheBody) {
    const std::string body = "To=%2B1555&Body=caf%C3%A9&Body=two&Flag";
    const std::string sig = compute_signature("t", "https://h/x", parse_form(body));
    EXPECT_TRUE(SignatureCheck("https://h/x", parse_form(body)).matches("t", sig));
    EXPECT_TRUE(SignatureCheck("https://h:443/x", parse_form(body)).matches("t", sig));
    EXPECT_FALSE(SignatureCheck("https://h/x", parse_form(body + "&More=1")).matches("t", sig));
    EXPECT_FALSE(SignatureCheck("https://h/x", parse_form(body)).matches("u", sig));
}

// A URL the request could not carry (Twilio's connection overrides, a fragment): the same params signed over it
// are accepted too, and over nothing else.
TEST(SignatureCheck, AddedUrlAcceptsTheSameParamsSignedOverIt) {
    const std::string body = "From=%2B15005550006&Body=hi";
    const std::string plain = "https://h/twilio/k/sms", with = plain + "#rc=5&rp=ct,rt,5xx&tt=15000";
    SignatureCheck check(plain, parse_form(body));
    const std::string over_fragment = compute_signature("t", with, parse_form(body));
    EXPECT_FALSE(check.matches("t", over_fragment));
    check.add_url(with);
    EXPECT_TRUE(check.matches("t", over_fragment));
    EXPECT_TRUE(check.matches("t", compute_signature("t", plain, parse_form(body))));
    EXPECT_FALSE(check.matches("t", compute_signature("t", plain + "#rc=1", parse_form(body))));
    // A GET: no params, the URL (with its query) alone.
    SignatureCheck get("https://h/twilio/k/sms?Body=hi", FormParams{});
    get.add_url("https://h/twilio/k/sms?Body=hi#rc=5");
    EXPECT_TRUE(get.matches("t", compute_signature("t", "https://h/twilio/k/sms?Body=hi#rc=5", {})));
    EXPECT_TRUE(get.matches("t", compute_signature("t", "https://h/twilio/k/sms?Body=hi", {})));
}
