// HTTP/1.1 on Boost.Beast, with an event loop: a connection costs a socket and a buffer, not a thread, so idle
// keep-alive connections are cheap, and under load one wake-up reads every request that arrived meanwhile.
// Framing is Beast's parser, with the Transfer-Encoding rules of framing.hpp on top: a body is read exactly to its
// end, or the connection is closed after the answer, so nothing left of one request can ever be read as the next
// (no request smuggling). Every buffer is bounded: unparsed bytes 20 KiB, chunk framing 16 KiB, a body body_limit.
// What each request gets is the Handler's business (handlers.cpp); this file owns sockets, timeouts, limits,
// keep-alive and the drain.
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace byo::relay {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

// A response with `body` as its whole content, of `content_type`.
HttpResponse text_response(int status, std::string body, const char* content_type = "text/plain");

// Carries one response back to its connection. Callable from any thread (a database worker's, say), once; until
// it is called, or dropped, the server counts the request as in flight and does not finish draining.
class Responder {
public:
    explicit Responder(std::function<void(HttpResponse&&)> send) : send_(std::move(send)) {}
    void operator()(HttpResponse&& res) const { send_(std::move(res)); }

private:
    std::function<void(HttpResponse&&)> send_;
};

// One answered request, for the access log and metrics: the handler's answers and the server's own (400, 413,
// 431). `method` and `target` are empty when the request line never arrived whole.
struct AnsweredRequest {
    std::string_view method;
    std::string_view target;
    int status = 0;
    std::size_t bytes = 0;  // response body
    double seconds = 0;     // from the end of the request's header to the response handed to the socket
};

struct HttpServerOptions {
    std::size_t body_limit = 65536;                   // larger bodies get 413, chunked or not
    std::chrono::milliseconds read_timeout{10000};    // a request's header, then its body, must arrive within; else closed
    std::chrono::milliseconds idle_timeout{5000};     // a kept connection that sends nothing is closed after this
    int keep_alive_requests = 100;                    // requests one connection may carry; 1: one each
    int threads = 1;                                  // threads running the event loop
};

class HttpServer {
public:
    using Handler = std::function<void(HttpRequest&&, Responder)>;
    using Logger = std::function<void(const AnsweredRequest&)>;

    // `handler` runs on an event-loop thread and must not block: hand slow work elsewhere and answer through the
    // Responder later. `logger` sees every response.
    HttpServer(HttpServerOptions options, Handler handler, Logger logger);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds and listens (backlog SOMAXCONN). On failure, the reason.
    std::optional<std::string> listen(const std::string& host, int port);
    // Serves on `threads` threads, the caller's among them, until stop() has drained every connection.
    void run();
    // Any thread: stop accepting, close connections waiting for a request, let requests in flight finish and
    // answer them with Connection: close. run() returns once the last one is out.
    void stop();

    struct Impl;  // public only so that the connections (http_server.cpp) can name it

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace byo::relay
