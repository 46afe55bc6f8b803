// HttpMulti and HttpClient against a tiny loopback HTTP/1.1 server run inside the test.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/http_multi.hpp"

using namespace byo;
using Clock = std::chrono::steady_clock;

namespace {

// Paths: /ok/<text> answers 200 <text>; /delay/<ms> answers 200 after ms; /busy answers 429 with Retry-After: 7;
// /echo answers the request body; /close closes the connection after reading the request. In CloseOnAccept mode
// every connection is closed before anything is read.
class TestServer {
public:
    enum class Mode { Normal, CloseOnAccept };

    explicit TestServer(Mode mode = Mode::Normal) : mode_(mode) {
        fd_ = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd_, 64) != 0) std::abort();
        socklen_t len = sizeof a;
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        acceptor_ = std::thread([this] { accept_loop(); });
    }

    ~TestServer() {
        stop_ = true;
        acceptor_.join();
        for (auto& t : workers_) t.join();
        close(fd_);
    }

    std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
    int connections() const { return connections_; }
    int requests() const { return requests_; }
    int max_active() const { return max_active_; }

private:
    void accept_loop() {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 20) <= 0) continue;
            int c = accept(fd_, nullptr, nullptr);
            if (c < 0) continue;
            ++connections_;
            if (mode_ == Mode::CloseOnAccept) {
                close(c);
                continue;
            }
            std::lock_guard<std::mutex> lock(m_);
            workers_.emplace_back([this, c] {
                serve(c);
                close(c);
            });
        }
    }

    // Reads until `buf` holds `want` bytes or a header end; false on EOF, error or stop.
    bool read_more(int c, std::string& buf) {
        while (!stop_) {
            pollfd p{c, POLLIN, 0};
            int r = poll(&p, 1, 20);
            if (r == 0) continue;
            char chunk[4096];
            ssize_t n = r > 0 ? recv(c, chunk, sizeof chunk, 0) : -1;
            if (n <= 0) return false;
            buf.append(chunk, static_cast<std::size_t>(n));
            return true;
        }
        return false;
    }

    void respond(int c, int status, const std::string& body, const std::string& extra = "") {
        std::string r = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: text/plain\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
        send(c, r.data(), r.size(), MSG_NOSIGNAL);  // the client may be gone (timeouts): no SIGPIPE
    }

    void serve(int c) {
        std::string buf;
        for (;;) {
            std::size_t end;
            while ((end = buf.find("\r\n\r\n")) == std::string::npos)
                if (!read_more(c, buf)) return;
            std::size_t length = 0;
            if (std::size_t cl = buf.find("Content-Length: "); cl != std::string::npos && cl < end)
                length = std::stoul(buf.substr(cl + 16));
            while (buf.size() < end + 4 + length)
                if (!read_more(c, buf)) return;
            const std::string line = buf.substr(0, buf.find("\r\n"));
            const std::string path = line.substr(line.find(' ') + 1, line.rfind(' ') - line.find(' ') - 1);
            const std::string body = buf.substr(end + 4, length);
            buf.erase(0, end + 4 + length);
            ++requests_;
            int now = ++active_;
            for (int seen = max_active_; now > seen && !max_active_.compare_exchange_weak(seen, now);) {}
            // The request stops counting as active before its answer leaves: once the client has the answer it
            // may start the next request (on a new connection: POSTs never reuse one), and that must not race us.
            int status = 200;
            std::string answer, extra;
            if (path.rfind("/ok/", 0) == 0) {
                answer = path.substr(4);
            } else if (path.rfind("/delay/", 0) == 0) {
                auto until = Clock::now() + std::chrono::milliseconds(std::stoi(path.substr(7)));
                while (!stop_ && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(5));
                answer = "late";
            } else if (path == "/busy") {
                status = 429;
                answer = R"({"code":20429,"message":"Too Many Requests"})";
                extra = "Retry-After: 7\r\n";
            } else if (path == "/echo") {
                answer = body;
            } else {
                --active_;
                return;  // /close
            }
            --active_;
            respond(c, status, answer, extra);
        }
    }

    Mode mode_;
    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> connections_{0}, requests_{0}, active_{0}, max_active_{0};
    std::thread acceptor_;
    std::mutex m_;
    std::vector<std::thread> workers_;
};

// A loopback port nobody listens on.
int closed_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
}

HttpRequest get(const std::string& url) { return HttpRequest{"GET", url, "", nullptr, {}, {}}; }

HttpRequest post(const std::string& url) {
    HttpRequest r;
    r.method = "POST";
    r.url = url;
    r.form = {{"To", "+15005550006"}, {"Body", std::string(600, 'x')}};
    return r;
}

HttpOptions quick() {
    HttpOptions o;
    o.connect_timeout_ms = 1000;
    o.total_timeout_ms = 2000;
    return o;
}

}  // namespace

TEST(HttpMulti, ManyInOrderOverFewWarmConnections) {
    TestServer server;
    HttpMulti multi(8);
    std::vector<HttpRequest> reqs;
    for (int i = 0; i < 50; ++i) reqs.push_back(get(server.url("/ok/" + std::to_string(i))));
    for (int batch = 0; batch < 2; ++batch) {
        std::vector<HttpOutcome> out = multi.perform_all(reqs, quick());
        ASSERT_EQ(out.size(), 50u);
        for (int i = 0; i < 50; ++i) {
            EXPECT_EQ(out[i].error, TransportError::None) << out[i].error_text;
            EXPECT_EQ(out[i].status, 200);
            EXPECT_EQ(out[i].body, std::to_string(i));
            EXPECT_TRUE(out[i].request_sent);
        }
    }
    EXPECT_EQ(server.requests(), 100);
    EXPECT_LE(server.connections(), 8);  // the second batch reused the first one's connections
    EXPECT_TRUE(multi.perform_all({}, quick()).empty());
}

TEST(HttpMulti, NeverMoreInFlightThanAllowed) {
    TestServer server;
    HttpMulti multi(2);
    multi.set_max_concurrency(4);
    EXPECT_EQ(multi.max_concurrency(), 4);
    std::vector<HttpRequest> reqs(12, get(server.url("/delay/40")));
    reqs.push_back(post(server.url("/echo")));
    reqs.push_back(post(server.url("/busy")));
    std::vector<HttpOutcome> out = multi.perform_all(reqs, quick());
    for (int i = 0; i < 12; ++i) EXPECT_EQ(out[i].body, "late");
    EXPECT_EQ(out[12].body, "To=%2B15005550006&Body=" + std::string(600, 'x'));
    EXPECT_EQ(out[12].retry_after_ms, -1);
    EXPECT_EQ(out[13].status, 429);
    EXPECT_EQ(out[13].retry_after_ms, 7000);
    EXPECT_LE(server.max_active(), 4);
    EXPECT_GE(server.max_active(), 2);
}

TEST(HttpMulti, TimeoutAfterSendIsSent) {
    TestServer server;
    HttpMulti multi(2);
    HttpOptions opt = quick();
    opt.total_timeout_ms = 300;
    std::vector<HttpOutcome> out = multi.perform_all({post(server.url("/delay/3000")), get(server.url("/ok/a"))}, opt);
    EXPECT_EQ(out[0].error, TransportError::Timeout);
    EXPECT_TRUE(out[0].request_sent);
    EXPECT_EQ(out[1].body, "a");
}

TEST(HttpMulti, RefusedConnectionIsNotSent) {
    HttpMulti multi(1);
    std::vector<HttpOutcome> out =
        multi.perform_all({post("http://127.0.0.1:" + std::to_string(closed_port()) + "/x")}, quick());
    EXPECT_EQ(out[0].error, TransportError::Connect) << out[0].error_text;
    EXPECT_FALSE(out[0].request_sent);
}

TEST(HttpMulti, CloseAfterReadingIsSent) {
    TestServer server;
    HttpMulti multi(1);
    std::vector<HttpOutcome> out = multi.perform_all({post(server.url("/close"))}, quick());
    EXPECT_EQ(out[0].error, TransportError::Other) << out[0].error_text;
    EXPECT_TRUE(out[0].request_sent);
    EXPECT_EQ(server.requests(), 1);  // a fresh connection: curl did not send it again

    multi.perform_all({get(server.url("/ok/a"))}, quick());
    out = multi.perform_all({post(server.url("/close"))}, quick());
    EXPECT_EQ(out[0].error, TransportError::Other) << out[0].error_text;
    EXPECT_TRUE(out[0].request_sent);
    // libcurl 7.88 sends a request again, once, on a fresh connection when a reused one closes with no answer
    // byte (requests() grows by 2 here): the server may see a POST twice. Reconciliation covers it.
}

TEST(HttpMulti, CloseBeforeReadingFails) {
    TestServer server(TestServer::Mode::CloseOnAccept);
    HttpMulti multi(1);
    std::vector<HttpOutcome> out = multi.perform_all({post(server.url("/x"))}, quick());
    EXPECT_EQ(out[0].error, TransportError::Other) << out[0].error_text;
    // request_sent depends on whether the close raced ahead of curl's write: a client cannot tell.
}

TEST(HttpMulti, AbortStopsInFlightAndQueued) {
    TestServer server;
    HttpMulti multi(2);
    HttpOptions opt = quick();
    opt.total_timeout_ms = 5000;
    const auto start = Clock::now();
    opt.should_abort = [start] { return Clock::now() - start > std::chrono::milliseconds(200); };
    std::vector<HttpRequest> reqs(4, post(server.url("/delay/3000")));
    std::vector<HttpOutcome> out = multi.perform_all(reqs, opt);
    EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1000));
    for (const auto& o : out) EXPECT_EQ(o.error, TransportError::Aborted);
    EXPECT_TRUE(out[0].request_sent);
    EXPECT_TRUE(out[1].request_sent);
    EXPECT_FALSE(out[2].request_sent);
    EXPECT_FALSE(out[3].request_sent);

    opt.should_abort = [] { return true; };
    out = multi.perform_all({get(server.url("/ok/a"))}, opt);
    EXPECT_EQ(out[0].error, TransportError::Aborted);
    EXPECT_FALSE(out[0].request_sent);
    opt.should_abort = []() -> bool { throw std::runtime_error("x"); };
    EXPECT_EQ(multi.perform_all({get(server.url("/ok/a"))}, opt)[0].error, TransportError::Aborted);
    EXPECT_EQ(server.requests(), 2);
}

TEST(HttpClient, SentFlagAndRetryAfter) {
    TestServer server;
    HttpClient client;
    HttpOutcome o = client.perform(post(server.url("/busy")), quick());
    EXPECT_EQ(o.status, 429);
    EXPECT_EQ(o.retry_after_ms, 7000);
    EXPECT_TRUE(o.request_sent);
    o = client.perform(post(server.url("/echo")), quick());
    EXPECT_EQ(o.status, 200);
    EXPECT_EQ(o.retry_after_ms, -1);
    EXPECT_EQ(o.body.size(), 23u + 600u);
    o = client.perform(get("http://127.0.0.1:" + std::to_string(closed_port()) + "/"), quick());
    EXPECT_EQ(o.error, TransportError::Connect);
    EXPECT_FALSE(o.request_sent);
}

// The pipeline: a fast request started while a slow one is in flight comes back first, and its slot is reused at
// once; finished transfers carry their caller's tag.
TEST(HttpMulti, StartedRequestsFinishIndependently) {
    TestServer server;
    HttpMulti multi(2);
    ASSERT_TRUE(multi.start(1, get(server.url("/delay/300")), quick()));
    ASSERT_TRUE(multi.start(2, get(server.url("/ok/fast")), quick()));
    EXPECT_EQ(multi.free_slots(), 0u);
    EXPECT_FALSE(multi.start(3, get(server.url("/ok/none")), quick()));
    std::vector<HttpMulti::Finished> done;
    while (done.empty()) done = multi.collect(50);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].tag, 2u);
    EXPECT_EQ(done[0].outcome.body, "fast");
    EXPECT_EQ(multi.in_flight(), 1u);
    ASSERT_TRUE(multi.start(4, get(server.url("/ok/again")), quick()));
    std::vector<std::uint64_t> order;
    while (multi.in_flight() > 0)
        for (HttpMulti::Finished& f : multi.collect(50)) order.push_back(f.tag);
    EXPECT_EQ(order, (std::vector<std::uint64_t>{4, 1}));
}

TEST(HttpMulti, AbortAllStopsStartedRequests) {
    TestServer server;
    HttpMulti multi(2);
    ASSERT_TRUE(multi.start(7, post(server.url("/delay/3000")), quick()));
    while (server.requests() == 0) (void)multi.collect(10);
    std::vector<HttpMulti::Finished> done = multi.abort_all();
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].tag, 7u);
    EXPECT_EQ(done[0].outcome.error, TransportError::Aborted);
    EXPECT_EQ(multi.in_flight(), 0u);
}
