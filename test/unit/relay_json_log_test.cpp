// The relay's log lines: one valid JSON object per line on stderr, "ts" (UTC, milliseconds) and "event" first,
// then exactly the caller's fields (nothing added, no body or signature), safe with hostile strings.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "relay/json_log.hpp"

using byo::relay::LogFields;
using byo::relay::log_event;
using nlohmann::json;

namespace {

// Points fd 2 at a temporary file for the lifetime of the object; text() returns what was written to it.
class StderrCapture {
public:
    StderrCapture() {
        char name[] = "/tmp/relay_json_log_test_XXXXXX";
        const int fd = ::mkstemp(name);
        if (fd < 0) throw std::runtime_error("mkstemp failed");
        path_ = name;
        ::close(fd);
        const int append = ::open(name, O_WRONLY | O_APPEND);
        if (append < 0) throw std::runtime_error("open failed");
        std::fflush(stderr);
        saved_ = ::dup(STDERR_FILENO);
        ::dup2(append, STDERR_FILENO);
        ::close(append);
    }
    ~StderrCapture() {
        restore();
        ::unlink(path_.c_str());
    }
    StderrCapture(const StderrCapture&) = delete;
    StderrCapture& operator=(const StderrCapture&) = delete;

    std::string text() {
        restore();
        std::ifstream in(path_, std::ios::binary);
        std::ostringstream out;
        out << in.rdbuf();
        return out.str();
    }

private:
    void restore() {
        if (saved_ >= 0) {
            std::fflush(stderr);
            ::dup2(saved_, STDERR_FILENO);
            ::close(saved_);
            saved_ = -1;
        }
    }
    std::string path_;
    int saved_ = -1;
};

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        const std::size_t nl = text.find('\n', start);
        if (nl == std::string::npos) {
            lines.push_back(text.substr(start));  // unterminated: a test failure below
            break;
        }
        lines.push_back(text.substr(start, nl - start));
        start = nl + 1;
    }
    return lines;
}

// Logs via `emit` and returns the single line it wrote, parsed (keys in written order).
nlohmann::ordered_json one_line(const std::function<void()>& emit) {
    StderrCapture cap;
    emit();
    const std::string text = cap.text();
    EXPECT_FALSE(text.empty());
    EXPECT_EQ(text.back(), '\n');
    const auto lines = split_lines(text);
    EXPECT_EQ(lines.size(), 1u) << text;
    if (lines.empty()) return nullptr;
    EXPECT_TRUE(json::accept(lines[0])) << lines[0];
    return nlohmann::ordered_json::parse(lines[0], nullptr, false);
}

std::vector<std::string> keys_of(const nlohmann::ordered_json& j) {
    std::vector<std::string> keys;
    for (const auto& [k, v] : j.items()) keys.push_back(k);
    return keys;
}

}  // namespace

TEST(RelayJsonLog, EventWithoutFields) {
    const auto j = one_line([] { log_event("shutdown_requested"); });
    ASSERT_TRUE(j.is_object());
    EXPECT_EQ(keys_of(j), (std::vector<std::string>{"ts", "event"}));
    EXPECT_EQ(j["event"], "shutdown_requested");
}

TEST(RelayJsonLog, TimestampIsUtcWithMilliseconds) {
    // The clock the logger reads (system_clock): time() reads a coarser one that can still show the previous
    // second for a few milliseconds after system_clock has moved on, which failed this test now and then.
    const std::time_t before = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    const auto j = one_line([] { log_event("start"); });
    const std::time_t after = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    ASSERT_TRUE(j["ts"].is_string());
    const std::string ts = j["ts"];
    ASSERT_TRUE(std::regex_match(ts, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)"))) << ts;
    std::tm tm{};
    ASSERT_NE(::strptime(ts.c_str(), "%Y-%m-%dT%H:%M:%S", &tm), nullptr);
    const std::time_t logged = ::timegm(&tm);
    EXPECT_GE(logged, before);
    EXPECT_LE(logged, after);
}

TEST(RelayJsonLog, RequestLineHasExactlyTheCallersFieldsInOrder) {
    // The shape handlers.cpp logs for a webhook; nothing else (no body, no signature, no query values) appears.
    const auto j = one_line([] {
        log_event("request", LogFields{{"method", "POST"},
                                       {"path", "/twilio/<key>/sms"},
                                       {"status", 200},
                                       {"ms", 3.1},
                                       {"bytes", 59},
                                       {"query_names", std::vector<std::string>{"a", "b"}}});
    });
    ASSERT_TRUE(j.is_object());
    EXPECT_EQ(keys_of(j), (std::vector<std::string>{"ts", "event", "method", "path", "status", "ms", "bytes",
                                                     "query_names"}));
    EXPECT_EQ(j["event"], "request");
    EXPECT_EQ(j["method"], "POST");
    EXPECT_EQ(j["path"], "/twilio/<key>/sms");
    EXPECT_EQ(j["status"], 200);
    EXPECT_DOUBLE_EQ(j["ms"].get<double>(), 3.1);
    EXPECT_EQ(j["bytes"], 59);
    EXPECT_EQ(j["query_names"].get<std::vector<std::string>>(), (std::vector<std::string>{"a", "b"}));
    for (const char* forbidden : {"body", "Body", "signature", "X-Twilio-Signature", "query", "url",
                                  "database_url", "password"})
        EXPECT_FALSE(j.contains(forbidden)) << forbidden;
}

TEST(RelayJsonLog, NothingIsAddedBeyondTsAndEvent) {
    const auto j = one_line([] { log_event("db_error", {{"stage", "call"}, {"message", "timeout expired"}}); });
    EXPECT_EQ(keys_of(j), (std::vector<std::string>{"ts", "event", "stage", "message"}));
    EXPECT_EQ(j["stage"], "call");
    EXPECT_EQ(j["message"], "timeout expired");
}

TEST(RelayJsonLog, ValueTypesSurvive) {
    const auto j = one_line([] {
        log_event("start", {{"listen", "127.0.0.1:8080"},
                            {"pool_size", 8},
                            {"drained", true},
                            {"none", nullptr},
                            {"nested", {{"a", 1}}},
                            {"big", 18446744073709551615ull}});
    });
    EXPECT_EQ(j["listen"], "127.0.0.1:8080");
    EXPECT_EQ(j["pool_size"], 8);
    EXPECT_EQ(j["drained"], true);
    EXPECT_TRUE(j["none"].is_null());
    EXPECT_EQ(j["nested"]["a"], 1);
    EXPECT_EQ(j["big"].get<unsigned long long>(), 18446744073709551615ull);
}

TEST(RelayJsonLog, HostileStringsStayOnOneValidLine) {
    const std::string nasty = std::string("line1\nline2\r\n\"quoted\" \\ back\ttab \x01 ctrl ") + '\0' + " nul";
    const auto j = one_line([&] { log_event("handler_exception", {{"message", nasty}, {"path", "/a\n{\"x\":1}"}}); });
    ASSERT_TRUE(j.is_object());
    EXPECT_EQ(j["message"], nasty);
    EXPECT_EQ(j["path"], "/a\n{\"x\":1}");
}

TEST(RelayJsonLog, InvalidUtf8IsReplacedNotDropped) {
    const auto j = one_line([] {
        log_event("request", {{"method", "POST"}, {"path", std::string("/twilio/\xff\xfe/sms")}});
    });
    ASSERT_TRUE(j.is_object());
    ASSERT_TRUE(j["path"].is_string());
    const std::string path = j["path"];
    EXPECT_EQ(path.rfind("/twilio/", 0), 0u);
    EXPECT_NE(path.find("\xEF\xBF\xBD"), std::string::npos) << path;  // U+FFFD
    EXPECT_EQ(path.substr(path.size() - 4), "/sms");
}

TEST(RelayJsonLog, InvalidUtf8InTheEventNameIsReplacedToo) {
    const auto j = one_line([] { log_event(std::string("bad\xc3")); });
    ASSERT_TRUE(j.is_object());
    ASSERT_TRUE(j["event"].is_string());
    EXPECT_EQ(j["event"].get<std::string>().rfind("bad", 0), 0u);
}

TEST(RelayJsonLog, NonObjectFieldsAreIgnored) {
    const auto j = one_line([] { log_event("x", LogFields::array({1, 2, 3})); });
    EXPECT_EQ(keys_of(j), (std::vector<std::string>{"ts", "event"}));
}

TEST(RelayJsonLog, ConcurrentLinesNeverInterleave) {
    constexpr int kThreads = 8, kEach = 200;
    StderrCapture cap;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([t] {
            const std::string filler(500, static_cast<char>('a' + t));
            for (int i = 0; i < kEach; ++i) log_event("request", {{"thread", t}, {"i", i}, {"filler", filler}});
        });
    for (auto& th : threads) th.join();
    const std::string text = cap.text();
    const auto lines = split_lines(text);
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(kThreads * kEach));
    std::vector<int> seen(kThreads, 0);
    for (const auto& line : lines) {
        ASSERT_TRUE(json::accept(line)) << line.substr(0, 200);
        const json j = json::parse(line);
        const int t = j["thread"];
        EXPECT_EQ(j["filler"], std::string(500, static_cast<char>('a' + t)));
        EXPECT_EQ(j["i"], seen[t]);  // each thread's lines in its own order
        ++seen[t];
    }
    for (int t = 0; t < kThreads; ++t) EXPECT_EQ(seen[t], kEach);
}
