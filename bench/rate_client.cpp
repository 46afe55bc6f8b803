// Fixed-rate (open-loop) HTTP client for the webhook benchmark (bench/webhook_run.sh), prints one JSON line. In C++
// because a Node client cost about as much CPU per request as the relay itself, which on a 2-core machine measured
// the client more than the relay; this one is a single epoll thread. Sends the pre-signed requests of a
// bench/webhook_sign.js file at --rate per second for --seconds:
//   --keep-alive N: over at most N reused connections (as a proxy with upstream keep-alive); a request finding
//                   them all busy waits for one, and that wait counts in its latency;
//   otherwise:      each on a new connection, with "Connection: close".
// Request i is due at start + i/rate whatever happened to the earlier ones (no coordinated omission). from_due:
// due time to the answer's last byte; from_send: the moment it went on a connection (connect included) to the
// same. A request unanswered after --timeout-ms, or still unsent half a second after the window, is an error and
// an infinitely slow answer in from_due. Responses are read by Content-Length, which the relay always sends.
//
// Build: g++ -O2 -std=c++17 -o rate_client bench/rate_client.cpp
// Usage: rate_client --file FILE --rate R --seconds S [--host 127.0.0.1] [--port 4051] [--offset K]
//                    [--warmup-seconds W] [--timeout-ms MS] [--keep-alive N]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <limits>
#include <list>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr double kInf = std::numeric_limits<double>::infinity();

struct Options {
    std::string file, host = "127.0.0.1";
    double rate = 0, seconds = 0, warmup = 0;
    int port = 4051, timeout_ms = 5000, keep_alive = 0;
    long offset = 0;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--file") o.file = v;
        else if (k == "--host") o.host = v;
        else if (k == "--rate") o.rate = std::stod(v);
        else if (k == "--seconds") o.seconds = std::stod(v);
        else if (k == "--warmup-seconds") o.warmup = std::stod(v);
        else if (k == "--port") o.port = std::stoi(v);
        else if (k == "--timeout-ms") o.timeout_ms = std::stoi(v);
        else if (k == "--keep-alive") o.keep_alive = std::stoi(v);
        else if (k == "--offset") o.offset = std::stol(v);
        else throw std::runtime_error("bad argument " + k);
    }
    if (argc % 2 == 0) throw std::runtime_error("arguments come in --name value pairs");
    if (!(o.rate > 0) || !(o.seconds > 0) || o.file.empty())
        throw std::runtime_error("--file, --rate and --seconds are required");
    return o;
}

// The wire form of each request (path TAB signature TAB body per line of the file).
std::vector<std::string> load(const Options& o, long total) {
    std::ifstream in(o.file);
    if (!in) throw std::runtime_error("cannot read " + o.file);
    std::vector<std::string> out;
    std::string line;
    for (long n = 0; std::getline(in, line) && static_cast<long>(out.size()) < total; ++n) {
        if (n < o.offset || line.empty()) continue;
        const auto t1 = line.find('\t'), t2 = line.find('\t', t1 + 1);
        if (t1 == std::string::npos || t2 == std::string::npos) throw std::runtime_error("malformed line in file");
        const std::string body = line.substr(t2 + 1);
        out.push_back("POST " + line.substr(0, t1) + " HTTP/1.1\r\nHost: " + o.host +
                      "\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: " +
                      line.substr(t1 + 1, t2 - t1 - 1) + "\r\nUser-Agent: TwilioProxy/1.1\r\nContent-Length: " +
                      std::to_string(body.size()) + (o.keep_alive > 0 ? "" : "\r\nConnection: close") + "\r\n\r\n" +
                      body);
    }
    if (static_cast<long>(out.size()) < total)
        throw std::runtime_error("need " + std::to_string(total) + " requests in the file after the offset");
    return out;
}

struct Conn {
    int fd = -1;
    long req = -1;  // in flight on it, or -1
    std::size_t written = 0;
    std::string in;
    Clock::time_point sent;
};

class Client {
public:
    explicit Client(const Options& o) : o_(o) {
        total_ = std::lround(o.rate * (o.seconds + o.warmup));
        warmup_count_ = std::lround(o.rate * o.warmup);
        reqs_ = load(o, total_);
        due_.resize(static_cast<std::size_t>(total_));
        epoll_ = epoll_create1(0);
        addr_.sin_family = AF_INET;
        addr_.sin_port = htons(static_cast<uint16_t>(o.port));
        if (inet_pton(AF_INET, o.host.c_str(), &addr_.sin_addr) != 1) throw std::runtime_error("--host must be IPv4");
        conns_.resize(o.keep_alive > 0 ? static_cast<std::size_t>(o.keep_alive) : 0);
    }

    void run() {
        start_ = Clock::now() + std::chrono::milliseconds(50);
        const auto window = std::chrono::duration<double>(o_.seconds + o_.warmup);
        const auto send_deadline = start_ + std::chrono::duration_cast<Clock::duration>(window) +
                                   std::chrono::milliseconds(500);
        const auto give_up = send_deadline + std::chrono::milliseconds(o_.timeout_ms + 5000);
        epoll_event events[256];
        while (done_ < total_ && Clock::now() < give_up) {
            const auto now = Clock::now();
            while (next_ < total_ && due(next_) <= now) {
                due_[static_cast<std::size_t>(next_)] = due(next_);
                waiting_.push_back(next_++);
            }
            if (now > send_deadline) abandon_unsent();
            dispatch();
            expire(now);
            // Sleep until the next request is due (to the microsecond: a millisecond timer would either spin or
            // send late), or 10 ms for the timeout checks; answers wake us earlier. Due times are fixed, so a
            // request queued behind busy connections loses nothing by waiting for an answer here.
            auto wait = std::chrono::nanoseconds(std::chrono::milliseconds(10));
            if (next_ < total_) wait = std::min(wait, std::chrono::nanoseconds(due(next_) - Clock::now()));
            const long wait_ns = std::max<long>(0, wait.count());
            const timespec ts{wait_ns / 1000000000L, wait_ns % 1000000000L};
            const int n = epoll_pwait2(epoll_, events, 256, &ts, nullptr);
            for (int i = 0; i < n; ++i) on_event(*static_cast<Conn*>(events[i].data.ptr), events[i].events);
        }
        for (long k = done_; k < total_; ++k) fail_uncounted();
        report();
    }

private:
    Clock::time_point due(long i) const {
        return start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(i / o_.rate));
    }

    void abandon_unsent() {
        while (next_ < total_) waiting_.push_back(next_++);
        for (long i : waiting_) {
            if (i >= warmup_count_) {
                ++errors_;
                ++unsent_;
                from_due_.push_back(kInf);
            }
            ++done_;
        }
        waiting_.clear();
    }

    void fail_uncounted() {
        ++errors_;
        from_due_.push_back(kInf);
    }

    bool open(Conn& c) {
        c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (c.fd < 0) return false;
        int one = 1;
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(c.fd, reinterpret_cast<sockaddr*>(&addr_), sizeof addr_) != 0 && errno != EINPROGRESS) {
            ::close(c.fd);
            c.fd = -1;
            return false;
        }
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;  // edge-triggered: a connected socket is always writable
        ev.data.ptr = &c;
        epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev);
        return true;
    }

    void close_conn(Conn& c) {
        if (c.fd >= 0) ::close(c.fd);
        c.fd = -1;
        c.in.clear();
    }

    void start_on(Conn& c, long i) {
        c.req = i;
        c.written = 0;
        c.in.clear();
        c.sent = Clock::now();
        ++in_flight_;
        max_in_flight_ = std::max(max_in_flight_, in_flight_);
        if (c.fd < 0 && !open(c)) return finish(c, 0);
        write_some(c);
    }

    void dispatch() {
        if (o_.keep_alive > 0) {
            for (Conn& c : conns_) {
                if (waiting_.empty()) return;
                if (c.req >= 0) continue;
                const long i = waiting_.front();
                waiting_.pop_front();
                start_on(c, i);
            }
            return;
        }
        while (!waiting_.empty()) {  // a new connection each
            Conn& c = fresh_.emplace_back();
            const long i = waiting_.front();
            waiting_.pop_front();
            start_on(c, i);
        }
    }

    void write_some(Conn& c) {
        if (c.req < 0 || c.fd < 0) return;
        const std::string& w = reqs_[static_cast<std::size_t>(c.req)];
        while (c.written < w.size()) {
            const ssize_t n = ::send(c.fd, w.data() + c.written, w.size() - c.written, MSG_NOSIGNAL);
            if (n > 0) {
                c.written += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == ENOTCONN)) return;  // connecting, or buffer full
            return finish(c, 0);
        }
    }

    // A whole response in c.in: its status and whether the server keeps the connection; 0 while incomplete.
    static int complete_status(const std::string& in, bool& server_closes, std::size_t& length) {
        const auto end = in.find("\r\n\r\n");
        if (end == std::string::npos || in.size() < 12) return 0;
        std::string head = in.substr(0, end);
        std::transform(head.begin(), head.end(), head.begin(), [](unsigned char ch) { return std::tolower(ch); });
        std::size_t body = 0;
        if (const auto p = head.find("\r\ncontent-length:"); p != std::string::npos)
            body = std::strtoul(head.c_str() + p + 17, nullptr, 10);
        if (in.size() < end + 4 + body) return 0;
        server_closes = head.find("\r\nconnection: close") != std::string::npos;
        length = end + 4 + body;
        return std::atoi(in.c_str() + 9);
    }

    void on_event(Conn& c, uint32_t ev) {
        if (ev & EPOLLOUT) write_some(c);
        if (!(ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
        char buf[16384];
        bool ended = false;  // EOF or error: the server closed (after its answer, or instead of one)
        for (;;) {
            const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
            if (n > 0) {
                c.in.append(buf, static_cast<std::size_t>(n));
                continue;
            }
            ended = !(n < 0 && errno == EAGAIN);
            break;
        }
        bool server_closes = false;
        std::size_t length = 0;
        const int status = c.req >= 0 ? complete_status(c.in, server_closes, length) : 0;
        if (status) c.in.erase(0, length);
        if (ended || server_closes || (status && o_.keep_alive == 0)) close_conn(c);
        if (status) finish(c, status);
        else if (ended && c.req >= 0) finish(c, 0);
    }

    // Ends c's request: status 0 is a failure (the connection is dropped).
    void finish(Conn& c, int status) {
        const long i = c.req;
        c.req = -1;
        --in_flight_;
        ++done_;
        if (status == 0) close_conn(c);
        if (i >= warmup_count_) {
            const auto end = Clock::now();
            if (status == 0) {
                ++errors_;
                from_due_.push_back(kInf);
            } else {
                ++statuses_[status];
                from_due_.push_back(ms(end - due_[static_cast<std::size_t>(i)]));
                from_send_.push_back(ms(end - c.sent));
            }
        }
    }

    void expire(Clock::time_point now) {
        if (now - last_expiry_ < std::chrono::milliseconds(10)) return;
        last_expiry_ = now;
        const auto limit = std::chrono::milliseconds(o_.timeout_ms);
        for (Conn& c : conns_)
            if (c.req >= 0 && now - c.sent > limit) finish(c, 0);
        // New-connection mode: drop the finished ones (only here, never while epoll events may point at them).
        for (auto it = fresh_.begin(); it != fresh_.end();) {
            if (it->req >= 0 && now - it->sent > limit) finish(*it, 0);
            if (it->req < 0) {
                close_conn(*it);
                it = fresh_.erase(it);
            } else {
                ++it;
            }
        }
    }

    static double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

    std::string pct(std::vector<double>& v, double p) const {
        if (v.empty()) return "null";
        const auto rank = static_cast<std::size_t>(std::max(0.0, std::ceil(p / 100 * v.size()) - 1));
        const auto idx = std::min(v.size() - 1, rank);
        if (std::isinf(v[idx])) return "\">" + std::to_string(o_.timeout_ms) + "\"";
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.2f", v[idx]);
        return buf;
    }

    void report() {
        std::sort(from_due_.begin(), from_due_.end());
        std::sort(from_send_.begin(), from_send_.end());
        const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
        std::string statuses;
        for (const auto& [s, n] : statuses_)
            statuses += (statuses.empty() ? "" : ",") + ("\"" + std::to_string(s) + "\":" + std::to_string(n));
        auto block = [&](std::vector<double>& v) {
            return "{\"p50\":" + pct(v, 50) + ",\"p90\":" + pct(v, 90) + ",\"p99\":" + pct(v, 99) +
                   ",\"max\":" + pct(v, 100) + "}";
        };
        std::printf("{\"rate\":%g,\"seconds\":%g,\"timeout_ms\":%d,\"keep_alive\":%d,\"due\":%ld,\"unsent\":%ld,"
                    "\"counted\":%zu,\"errors\":%ld,\"statuses\":{%s},\"max_in_flight\":%ld,\"achieved_rps\":%.1f,"
                    "\"from_due_ms\":%s,\"from_send_ms\":%s}\n",
                    o_.rate, o_.seconds, o_.timeout_ms, o_.keep_alive, total_ - warmup_count_, unsent_,
                    from_due_.size(), errors_, statuses.c_str(), max_in_flight_, total_ / elapsed,
                    block(from_due_).c_str(), block(from_send_).c_str());
    }

    const Options o_;
    long total_ = 0, warmup_count_ = 0, next_ = 0, done_ = 0, errors_ = 0, unsent_ = 0;
    long in_flight_ = 0, max_in_flight_ = 0;
    std::vector<std::string> reqs_;
    std::vector<Clock::time_point> due_;
    std::deque<long> waiting_;
    std::vector<Conn> conns_;  // --keep-alive: the reused connections
    std::list<Conn> fresh_;    // otherwise: one per request in flight
    std::map<int, long> statuses_;
    std::vector<double> from_due_, from_send_;
    Clock::time_point start_, last_expiry_;
    sockaddr_in addr_{};
    int epoll_ = -1;
};

}  // namespace

int main(int argc, char** argv) {
    try {
        rlimit r{};  // a new connection per request at a high rate needs many descriptors at once
        if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
            r.rlim_cur = r.rlim_max;
            setrlimit(RLIMIT_NOFILE, &r);
        }
        Client(parse(argc, argv)).run();
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rate_client: %s\n", e.what());
        return 2;
    }
}
