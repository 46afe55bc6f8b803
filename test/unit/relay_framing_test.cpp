// framing_error: the Transfer-Encoding rules (RFC 9112 §6) the relay adds to Beast's parser against smuggling.
#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "relay/framing.hpp"

using byo::relay::framing_error;
using TE = std::vector<std::string_view>;

TEST(RelayFraming, NoTransferEncodingIsFine) {
    EXPECT_EQ(framing_error({}, false, true), nullptr);
    EXPECT_EQ(framing_error({}, true, true), nullptr);   // Content-Length alone: Beast checks it
    EXPECT_EQ(framing_error({}, false, false), nullptr);
}

TEST(RelayFraming, ExactlyChunkedIsFine) {
    EXPECT_EQ(framing_error(TE{"chunked"}, false, true), nullptr);
    EXPECT_EQ(framing_error(TE{"Chunked"}, false, true), nullptr);
    EXPECT_EQ(framing_error(TE{"CHUNKED"}, false, true), nullptr);
    EXPECT_EQ(framing_error(TE{" chunked\t"}, false, true), nullptr);
    EXPECT_EQ(framing_error(TE{", chunked ,"}, false, true), nullptr);  // empty list elements are ignored
}

TEST(RelayFraming, AnyOtherCodingIsRefused) {
    for (std::string_view te : {"xchunked", "chunkedx", "identity", "gzip", "chunked, identity", "gzip, chunked",
                                "chunked, chunked", "chunked;x=1", "chunke", "", ",", "\"chunked\"", "chunked\v"})
        EXPECT_NE(framing_error(TE{te}, false, true), nullptr) << te;
}

TEST(RelayFraming, SeveralFieldsAreOneList) {
    EXPECT_NE(framing_error(TE{"gzip", "chunked"}, false, true), nullptr);
    EXPECT_NE(framing_error(TE{"chunked", "chunked"}, false, true), nullptr);
    EXPECT_NE(framing_error(TE{"chunked", "identity"}, false, true), nullptr);
    EXPECT_EQ(framing_error(TE{"chunked", ""}, false, true), nullptr);
}

TEST(RelayFraming, WithContentLengthOrInHttp10IsRefused) {
    EXPECT_STREQ(framing_error(TE{"chunked"}, true, true), "both Transfer-Encoding and Content-Length");
    EXPECT_STREQ(framing_error(TE{"gzip"}, true, true), "both Transfer-Encoding and Content-Length");
    EXPECT_STREQ(framing_error(TE{"chunked"}, false, false), "Transfer-Encoding in an HTTP/1.0 request");
}
