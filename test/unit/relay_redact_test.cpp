// What the relay lets into its logs: request paths with webhook keys (16+ hex digits) masked, query parameter
// names without values, and database messages cut before anything that could echo a password.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "relay/redact.hpp"

using byo::relay::masked_path;
using byo::relay::query_names;
using byo::relay::redact_db_message;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

// ---- masked_path ---------------------------------------------------------------------------------------------

TEST(RelayRedact, WebhookKeyIsMasked) {
    // The extension's keys are a UUID without dashes: 32 lowercase hex digits.
    EXPECT_EQ(masked_path("/twilio/0123456789abcdef0123456789abcdef/sms"), "/twilio/<key>/sms");
    EXPECT_EQ(masked_path("/twilio/0123456789ABCDEF0123456789abcdef/status"), "/twilio/<key>/status");
    EXPECT_EQ(masked_path("/twilio/0123456789abcdef0123456789abcdef"), "/twilio/<key>");
    EXPECT_EQ(masked_path("/twilio/0123456789abcdef0123456789abcdef/"), "/twilio/<key>/");
}

TEST(RelayRedact, SixteenHexDigitsIsTheThreshold) {
    EXPECT_EQ(masked_path("/twilio/0123456789abcdef/sms"), "/twilio/<key>/sms");       // 16
    EXPECT_EQ(masked_path("/twilio/0123456789abcde/sms"), "/twilio/0123456789abcde/sms");  // 15: left alone
    EXPECT_EQ(masked_path("/twilio/" + std::string(64, 'f') + "/sms"), "/twilio/<key>/sms");
    EXPECT_EQ(masked_path("/twilio/" + std::string(200, '0')), "/twilio/<key>");
}

TEST(RelayRedact, EveryHexSegmentIsMasked) {
    // Twilio SIDs and anything else key-like, wherever they sit in the path.
    EXPECT_EQ(masked_path("/twilio/0123456789abcdef0123456789abcdef/sms/fedcba9876543210fedcba9876543210"),
              "/twilio/<key>/sms/<key>");
    EXPECT_EQ(masked_path("/0123456789abcdef/0123456789abcdef"), "/<key>/<key>");
    EXPECT_EQ(masked_path("0123456789abcdef"), "<key>");
}

TEST(RelayRedact, QueryIsDroppedFromThePath) {
    EXPECT_EQ(masked_path("/twilio/0123456789abcdef0123456789abcdef/sms?a=1&b=%2B2"), "/twilio/<key>/sms");
    EXPECT_EQ(masked_path("/twilio/x/sms?key=0123456789abcdef0123456789abcdef"), "/twilio/x/sms");
    EXPECT_EQ(masked_path("/twilio/x/sms?"), "/twilio/x/sms");
    EXPECT_EQ(masked_path("?only=query"), "");
}

TEST(RelayRedact, NonKeySegmentsAreLeftAlone) {
    for (const char* path : {"/twilio/abc/sms", "/healthz", "/", "", "//", "/twilio//sms",
                             "/twilio/0123456789abcdefg0123456789abcdef/sms",   // a non-hex letter
                             "/twilio/0123456789abcdef-0123456789abcdef/sms",   // a dash splits nothing
                             "/twilio/0123456789abcdef0123456789abcdef.xml",    // suffix: not a pure hex segment
                             "/twilio/%300123456789abcdef0123456789abcdef/sms", // percent-encoded: left as sent
                             "/twilio/MM0123456789abcdef0123456789abcdef/sms",  // 'M' is not hex
                             "/twilio/café/sms"})
        EXPECT_EQ(masked_path(path), path) << path;
}

TEST(RelayRedact, MaskedPathNeverContainsTheKey) {
    const std::string key = "5f3c9a0e1b2d4c6e8a7b9c0d1e2f3a4b";
    const std::string target = "/twilio/" + key + "/voice?CallSid=CA" + key + "&x=" + key;
    const std::string out = masked_path(target);
    EXPECT_EQ(out, "/twilio/<key>/voice");
    EXPECT_FALSE(contains(out, key));
}

// ---- query_names ---------------------------------------------------------------------------------------------

TEST(RelayRedact, QueryNamesWithoutValues) {
    EXPECT_EQ(query_names("/twilio/k/sms?a=1&b=%2B2"), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(query_names("/twilio/k/sms?flag&x=&y=secret"), (std::vector<std::string>{"flag", "x", "y"}));
    EXPECT_EQ(query_names("/twilio/k/sms?a=1&a=2"), (std::vector<std::string>{"a", "a"}));
}

TEST(RelayRedact, QueryNamesKeepOrderAndEncoding) {
    EXPECT_EQ(query_names("/p?z=1&%41b=2&c%20d=3"), (std::vector<std::string>{"z", "%41b", "c%20d"}));
}

TEST(RelayRedact, QueryNamesSkipEmptyNames) {
    EXPECT_TRUE(query_names("/twilio/k/sms").empty());
    EXPECT_TRUE(query_names("/twilio/k/sms?").empty());
    EXPECT_TRUE(query_names("/twilio/k/sms?&&").empty());
    EXPECT_TRUE(query_names("/twilio/k/sms?=value").empty());
    EXPECT_EQ(query_names("/p?&a=1&&=2&b"), (std::vector<std::string>{"a", "b"}));
}

TEST(RelayRedact, QueryNamesNeverCarryValues) {
    const auto names = query_names("/p?From=%2B15551234567&Body=hello+there&To=%2B15557654321");
    EXPECT_EQ(names, (std::vector<std::string>{"From", "Body", "To"}));
    for (const auto& n : names) {
        EXPECT_FALSE(contains(n, "1555"));
        EXPECT_FALSE(contains(n, "hello"));
    }
}

// ---- redact_db_message ---------------------------------------------------------------------------------------

TEST(RelayRedact, PasswordAuthenticationFailureKeepsTheMarkerOnly) {
    const std::string out = redact_db_message(
        "connection to server at \"db\" (10.0.0.5), port 5432 failed: FATAL:  password authentication failed for "
        "user \"byo_twilio_relay\"\n");
    EXPECT_EQ(out, "connection to server at \"db\" (10.0.0.5), port 5432 failed: FATAL:  password [redacted]");
}

TEST(RelayRedact, ConninfoPasswordFragmentsAreStripped) {
    // Typical libpq conninfo complaints that could quote a password or part of it.
    struct Case {
        const char* in;
        const char* secret;
    };
    const Case cases[] = {
        {"missing \"=\" after \"password hunter2\" in connection info string", "hunter2"},
        {"invalid connection option \"x\" near password=hunter2", "hunter2"},
        {"unterminated quoted string in connection info string: PASSWORD='hunter2", "hunter2"},
        {"could not parse Password=hunter2 host=db", "hunter2"},
        {"invalid percent-encoded token: \"%hu\"", "%hu"},
        {"unexpected spaces found in \"postgresql://u:hunter2@db/app\", use percent-encoded spaces (%20) instead",
         "hunter2"},
        {"invalid URI propagated to libpq: \"postgres://u:hunter2@db\"", "hunter2"},
        {"invalid URI: \"POSTGRESQL://u:hunter2@db\"", "hunter2"},
    };
    for (const Case& c : cases) {
        const std::string out = redact_db_message(c.in);
        EXPECT_FALSE(contains(out, c.secret)) << c.in << " -> " << out;
        EXPECT_TRUE(contains(out, "[redacted]")) << c.in << " -> " << out;
    }
}

TEST(RelayRedact, CutsAtTheEarliestMarker) {
    EXPECT_EQ(redact_db_message("a password b percent-encoded c"), "a password [redacted]");
    EXPECT_EQ(redact_db_message("a percent-encoded b password c"), "a percent-encoded [redacted]");
    EXPECT_EQ(redact_db_message("x postgresql://u:p@h password"), "x  [redacted]");
    EXPECT_EQ(redact_db_message("Password=abc"), "Password [redacted]");
    EXPECT_EQ(redact_db_message("password"), "password");  // nothing after it: nothing cut
}

TEST(RelayRedact, OrdinaryMessagesAreUnchanged) {
    for (const char* msg : {
             "canceling statement due to statement timeout",
             "could not translate host name \"db\" to address: Name or service not known",
             "function twilio.handle_webhook(unknown, unknown, unknown, unknown) does not exist",
             "terminating connection due to administrator command",
             "server closed the connection unexpectedly",
             "timeout expired",
             "SQLSTATE 57014",
             "",
         })
        EXPECT_EQ(redact_db_message(msg), msg) << msg;
}

TEST(RelayRedact, MessagesBecomeOneLine) {
    EXPECT_EQ(redact_db_message("server closed the connection unexpectedly\n\tThis probably means the server "
                                "terminated abnormally\r\n"),
              "server closed the connection unexpectedly  This probably means the server terminated abnormally");
    EXPECT_EQ(redact_db_message("trailing   \n"), "trailing");
    EXPECT_EQ(redact_db_message("  leading kept"), "  leading kept");
}

TEST(RelayRedact, LongMessagesAreCapped) {
    const std::string exact(300, 'x');
    EXPECT_EQ(redact_db_message(exact), exact);
    const std::string longer(301, 'y');
    EXPECT_EQ(redact_db_message(longer), std::string(300, 'y') + "...");
    // The cap applies after the cut, so a password further on never comes back.
    const std::string with_secret = std::string(400, 'z') + " password hunter2";
    const std::string out = redact_db_message(with_secret);
    EXPECT_EQ(out, std::string(300, 'z') + "...");
    EXPECT_FALSE(contains(out, "hunter2"));
}

// libpq quotes words of a malformed conninfo (which may be the password) in these messages: cut them.
TEST(RelayRedact, MalformedConninfoQuotesAreCut) {
    const std::string a = redact_db_message("missing \"=\" after \"horse\" in connection info string");
    const std::string b = redact_db_message("invalid connection option \"horse\"");
    EXPECT_EQ(a.find("horse"), std::string::npos);
    EXPECT_EQ(b.find("horse"), std::string::npos);
}
