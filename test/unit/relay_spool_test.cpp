#include "relay/spool.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <vector>
#include <filesystem>

using byo::relay::decode_spooled;
using byo::relay::encode_spooled;
using byo::relay::Spool;
using byo::relay::WebhookRequest;

namespace {

WebhookRequest request(const std::string& body) {
    WebhookRequest r;
    r.url = "https://hooks.example.com/twilio/0123456789abcdef0123456789abcdef/sms";
    r.signature = "c2lnbmF0dXJl";
    r.content_type = "application/x-www-form-urlencoded";
    r.body = body;
    return r;
}

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/relay_spool_test.XXXXXX";
        path = mkdtemp(tmpl);
        path += "/spool";  // the spool creates it
    }
    ~TempDir() { std::filesystem::remove_all(std::filesystem::path(path).parent_path()); }
};

// The spooled webhooks' files (the directory also holds the lock file).
std::vector<std::filesystem::path> files_in(const std::string& dir) {
    std::vector<std::filesystem::path> out;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.path().extension() == ".webhook") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

int mode_of(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 0777) : -1;
}

}  // namespace

TEST(RelaySpoolFormat, RoundTripsEveryFieldByteForByte) {
    WebhookRequest r = request(std::string("Body=a%0Ab\nline\r\n") + '\x01' + "end\n");
    r.signature.reset();
    const std::optional<WebhookRequest> back = decode_spooled(encode_spooled(r));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->url, r.url);
    EXPECT_FALSE(back->signature);
    EXPECT_EQ(back->content_type, r.content_type);
    EXPECT_EQ(back->body, r.body);
    EXPECT_FALSE(back->get);

    WebhookRequest get;
    get.url = "https://hooks.example.com/twilio/k/sms?Body=hi";
    get.signature = "sig";
    get.get = true;
    const std::optional<WebhookRequest> g = decode_spooled(encode_spooled(get));
    ASSERT_TRUE(g);
    EXPECT_TRUE(g->get);
    EXPECT_FALSE(g->content_type);
    EXPECT_EQ(g->body, "");
}

TEST(RelaySpoolFormat, AnythingCutShortOrAlteredIsRefused) {
    const std::string data = encode_spooled(request("Body=hello"));
    for (std::size_t n = 0; n < data.size(); ++n) EXPECT_FALSE(decode_spooled(data.substr(0, n))) << n;
    EXPECT_FALSE(decode_spooled(data + "x"));
    std::string longer = data;
    longer.replace(longer.find("P0000000a"), 9, "P0000000b");  // the body's length, one more
    EXPECT_FALSE(decode_spooled(longer));
}

TEST(RelaySpool, KeepsOrderSurvivesReopeningAndRemovesAcknowledgedFiles) {
    TempDir dir;
    const WebhookRequest a = request("Body=a"), b = request("Body=b"), c = request("Body=c");
    {
        Spool spool(dir.path, 1 << 20);
        EXPECT_TRUE(spool.empty());
        EXPECT_EQ(mode_of(dir.path), 0700);
        ASSERT_TRUE(spool.append({&a, &b}));
        ASSERT_TRUE(spool.append({&c}));
        EXPECT_EQ(spool.count(), 3u);
        const auto first = spool.oldest();
        ASSERT_TRUE(first);
        EXPECT_EQ(first->request.body, "Body=a");
        for (const auto& e : std::filesystem::directory_iterator(dir.path)) EXPECT_EQ(mode_of(e.path()), 0600);
        EXPECT_EQ(files_in(dir.path).size(), 3u);
        spool.remove(first->seq);
        EXPECT_EQ(spool.count(), 2u);
    }  // the relay stops (or is killed): the files stay
    Spool again(dir.path, 1 << 20);
    EXPECT_EQ(again.count(), 2u);
    auto next = again.oldest();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->request.body, "Body=b");
    again.remove(next->seq);
    next = again.oldest();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->request.body, "Body=c");
    again.remove(next->seq);
    EXPECT_TRUE(again.empty());
    EXPECT_EQ(again.bytes(), 0u);
    EXPECT_FALSE(again.oldest());
    EXPECT_TRUE(files_in(dir.path).empty());
}

TEST(RelaySpool, RefusesWhatDoesNotFitAndKeepsNothingOfIt) {
    TempDir dir;
    const WebhookRequest small = request("Body=s"), big = request(std::string(900, 'x'));
    Spool spool(dir.path, 1024);
    ASSERT_TRUE(spool.append({&small}));
    EXPECT_FALSE(spool.append({&small, &big}));  // all or nothing
    EXPECT_EQ(spool.count(), 1u);
    EXPECT_EQ(files_in(dir.path).size(), 1u);
}

TEST(RelaySpool, AFileCutShortByACrashGoesToDeadAndTheNextIsReplayed) {
    TempDir dir;
    const WebhookRequest a = request("Body=a"), b = request("Body=b");
    {
        Spool spool(dir.path, 1 << 20);
        ASSERT_TRUE(spool.append({&a, &b}));
    }
    // The first file torn (as if the crash came before its fsync finished).
    const std::filesystem::path torn = files_in(dir.path).front();
    std::filesystem::resize_file(torn, 10);
    Spool spool(dir.path, 1 << 20);
    const auto next = spool.oldest();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->request.body, "Body=b");
    EXPECT_EQ(spool.count(), 1u);
    EXPECT_EQ(spool.dead_lettered(), 1u);
    EXPECT_EQ(mode_of(dir.path + "/dead"), 0700);
    EXPECT_TRUE(std::filesystem::exists(dir.path + "/dead/" + torn.filename().string()));
    EXPECT_EQ(files_in(dir.path).size(), 1u);
}

TEST(RelaySpool, AnUnreadableFileGoesToDeadWithoutHoldingTheReplay) {
    TempDir dir;
    const WebhookRequest a = request("Body=a"), b = request("Body=b");
    Spool spool(dir.path, 1 << 20);
    ASSERT_TRUE(spool.append({&a, &b}));
    // The first file replaced by a directory: it opens, but read() fails (EISDIR).
    const std::filesystem::path first = files_in(dir.path).front();
    std::filesystem::remove(first);
    std::filesystem::create_directory(first);
    const auto next = spool.oldest();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->request.body, "Body=b");
    EXPECT_EQ(spool.count(), 1u);
    EXPECT_EQ(spool.dead_lettered(), 1u);
}

TEST(RelaySpool, AFileThatCannotBeRemovedIsSkippedNotRetried) {
    TempDir dir;
    const WebhookRequest a = request("Body=a"), b = request("Body=b");
    Spool spool(dir.path, 1 << 20);
    ASSERT_TRUE(spool.append({&a, &b}));
    const auto first = spool.oldest();
    ASSERT_TRUE(first);
    // unlink() of a non-empty directory fails (EISDIR), even for root: the stand-in for a read-only file system.
    const std::filesystem::path path = files_in(dir.path).front();
    std::filesystem::remove(path);
    std::filesystem::create_directories(path / "x");
    spool.remove(first->seq);
    EXPECT_EQ(spool.count(), 1u);
    const auto next = spool.oldest();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->request.body, "Body=b");
}

TEST(RelaySpool, DeadLetteringMovesTheFileAndTheReplayGoesOn) {
    TempDir dir;
    const WebhookRequest a = request("Body=a"), b = request("Body=b");
    Spool spool(dir.path, 1 << 20);
    ASSERT_TRUE(spool.append({&a, &b}));
    const std::uint64_t bytes = spool.bytes();
    const auto first = spool.oldest();
    ASSERT_TRUE(first);
    spool.dead_letter(first->seq, "test");
    EXPECT_EQ(spool.count(), 1u);
    EXPECT_LT(spool.bytes(), bytes);
    EXPECT_EQ(spool.dead_lettered(), 1u);
    EXPECT_EQ(files_in(dir.path + "/dead").size(), 1u);
    const auto next = spool.oldest();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->request.body, "Body=b");
    spool.remove(next->seq);
    EXPECT_TRUE(spool.empty());
    EXPECT_FALSE(spool.oldest());
}

TEST(RelaySpool, OneRelayPerDirectory) {
    TempDir dir;
    Spool first(dir.path, 1 << 20);
    EXPECT_THROW(Spool(dir.path, 1 << 20), byo::relay::SpoolError);
}

TEST(RelaySpool, FilesRemovedByHandLeaveItEmpty) {
    TempDir dir;
    const WebhookRequest a = request("Body=a");
    Spool spool(dir.path, 1 << 20);
    ASSERT_TRUE(spool.append({&a}));
    for (const auto& f : files_in(dir.path)) std::filesystem::remove(f);
    EXPECT_FALSE(spool.oldest());
    EXPECT_TRUE(spool.empty());
    EXPECT_EQ(spool.bytes(), 0u);
}
