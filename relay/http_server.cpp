#include "http_server.hpp"

#include <atomic>
#include <list>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "framing.hpp"
#include "json_log.hpp"

namespace byo::relay {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kHeaderLimit = 16 * 1024;
constexpr auto kLingerTimeout = std::chrono::seconds(2);
// Room for a whole typical webhook (headers and a form body of about 800 bytes) in one read: Beast otherwise reads
// 512 bytes at a time, two system calls per request.
constexpr std::size_t kReadReserve = 4 * 1024;
// The most a connection buffers of what its parser has not consumed yet: a header (bounded by kHeaderLimit before
// this), a chunk-size line with its extensions, a trailer. Beast bounds neither of the last two; without this, a
// line that never ends is buffered whole. Body bytes do not stay here: the parser moves them into the body.
constexpr std::size_t kBufferLimit = kHeaderLimit + kReadReserve;
// Chunk framing (size lines, extensions, trailers) of one body counts against the header limit; the body's own
// bytes count against the body limit.
constexpr std::size_t kFramingLimit = kHeaderLimit;

class Session;

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
    HttpServerOptions options;
    Handler handler;
    Logger logger;
    net::io_context ioc;
    tcp::acceptor acceptor{ioc};
    net::steady_timer accept_retry{ioc};
    std::atomic<bool> draining{false};

    // Every live connection, so that stop() can close the ones waiting for a request.
    std::mutex sessions_mutex;
    std::list<std::weak_ptr<Session>> sessions;

    Impl(HttpServerOptions o, Handler h, Logger l) : options(o), handler(std::move(h)), logger(std::move(l)) {}
    void accept();
};

namespace {

// One connection: read a request, hand it to the handler, write its answer, and again while keep-alive allows.
// Every step runs on the connection's executor: the loop's own with one thread, a strand of its own with more.
class Session : public std::enable_shared_from_this<Session> {
public:
    Session(std::shared_ptr<HttpServer::Impl> server, tcp::socket socket)
        : server_(std::move(server)), stream_(std::move(socket)), buffer_(kBufferLimit) {
        buffer_.reserve(kReadReserve);
    }

    ~Session() {
        std::lock_guard<std::mutex> lock(server_->sessions_mutex);
        server_->sessions.erase(registry_pos_);
    }

    void start() {
        {
            std::lock_guard<std::mutex> lock(server_->sessions_mutex);
            registry_pos_ = server_->sessions.insert(server_->sessions.end(), weak_from_this());
        }
        net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_header(); });
    }

    // From stop(): a connection waiting for its next request has nothing in flight; close it.
    void close_if_waiting() {
        net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
            if (self->waiting_) self->stream_.socket().close();  // the pending read ends with operation_aborted
        });
    }

private:
    const HttpServerOptions& options() const { return server_->options; }

    void read_header() {
        if (server_->draining) return close();
        parser_.emplace();
        parser_->body_limit(options().body_limit);
        parser_->header_limit(kHeaderLimit);
        waiting_ = true;
        // A kept connection may idle for idle_timeout; the first request's header must come within read_timeout.
        stream_.expires_after(served_ == 0 ? options().read_timeout
                                           : std::min(options().idle_timeout, options().read_timeout));
        http::async_read_header(
            stream_, buffer_, *parser_,
            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
    }

    void on_header(beast::error_code ec) {
        waiting_ = false;
        start_ = SteadyClock::now();
        if (ec) return on_read_error(ec);
        if (const char* why = framing_error_of(parser_->get())) {
            note_request_line();
            return write(text_response(400, std::string("bad request: ") + why + "\n"), true);
        }
        const auto expect = parser_->get()[http::field::expect];
        if (beast::iequals(expect, "100-continue")) {
            // curl and others wait (up to a second) for this before sending a body.
            continue_.emplace(http::status::continue_, 11);
            stream_.expires_after(options().read_timeout);
            return http::async_write(stream_, *continue_,
                                     [self = shared_from_this()](beast::error_code e, std::size_t) {
                                         self->continue_.reset();
                                         if (e) return self->close();
                                         self->read_body();
                                     });
        }
        read_body();
    }

    void read_body() {
        stream_.expires_after(options().read_timeout);
        parser_->eager(true);  // each read parses all it can, as http::async_read does
        consumed_ = 0;
        read_body_part();
    }

    // The body piece by piece, counting what the parser consumed: whatever of it is not body is chunk framing.
    void read_body_part() {
        if (parser_->is_done()) return on_body();
        http::async_read_some(stream_, buffer_, *parser_,
                              [self = shared_from_this()](beast::error_code ec, std::size_t consumed) {
                                  if (ec) return self->on_read_error(ec);
                                  self->consumed_ += consumed;
                                  if (self->consumed_ - self->parser_->get().body().size() > kFramingLimit) {
                                      self->note_request_line();
                                      return self->write(
                                          text_response(431, "chunk sizes, extensions and trailers over 16 KiB\n"),
                                          true);
                                  }
                                  self->read_body_part();
                              });
    }

    // Transfer-Encoding as framing.hpp allows it, or why not.
    static const char* framing_error_of(const HttpRequest& req) {
        std::vector<std::string_view> codings;
        const auto range = req.equal_range(http::field::transfer_encoding);
        for (auto it = range.first; it != range.second; ++it) codings.emplace_back(it->value().data(), it->value().size());
        return framing_error(codings, req.find(http::field::content_length) != req.end(), req.version() >= 11);
    }

    // For the log line of an answer given before the request was read whole.
    void note_request_line() {
        if (parser_->is_header_done() || parser_->get().method() != http::verb::unknown) {
            method_ = std::string(parser_->get().method_string());
            target_ = std::string(parser_->get().target());
        } else {
            method_.clear();
            target_.clear();
        }
        head_request_ = false;
    }

    void on_body() {
        ++served_;
        HttpRequest req = parser_->release();
        method_ = std::string(req.method_string());
        target_ = std::string(req.target());
        keep_alive_ = req.keep_alive();
        head_request_ = req.method() == http::verb::head;
        stream_.expires_never();  // the handler's own deadline (the database budget) bounds it
        auto self = shared_from_this();
        // Counted as work, so the event loop does not end while a database worker holds the request.
        auto work = std::make_shared<net::executor_work_guard<net::io_context::executor_type>>(
            server_->ioc.get_executor());
        Responder reply([self, work](HttpResponse&& res) {
            net::dispatch(self->stream_.get_executor(),
                          [self, work, res = std::move(res)]() mutable { self->write(std::move(res), false); });
        });
        try {
            server_->handler(std::move(req), std::move(reply));
        } catch (const std::exception& e) {  // out of memory, say: answer rather than end the event loop
            log_event("handler_exception", {{"message", e.what()}});
            HttpResponse res = text_response(503, "temporarily unavailable, retry later\n");
            res.set(http::field::retry_after, "5");
            write(std::move(res), true);
        }
    }

    // The request could not be read whole: answer what went wrong, if anyone is left to hear it, and close.
    void on_read_error(beast::error_code ec) {
        note_request_line();
        if (ec == http::error::body_limit) return write(text_response(413, "payload too large\n"), true);
        if (ec == http::error::header_limit) return write(text_response(431, "request header too large\n"), true);
        // kBufferLimit: a chunk-size line (with extensions) or a trailer that goes on and on.
        if (ec == http::error::buffer_overflow)
            return write(text_response(431, "chunk size line or trailer too large\n"), true);
        // A request that stalls, or a kept connection left idle: the stream closed the socket when its time ran
        // out, so there is nobody to answer.
        if (ec == beast::error::timeout) return close();
        if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == net::error::eof ||
            ec == net::error::operation_aborted || ec == net::error::connection_reset || ec == net::error::broken_pipe)
            return close();
        if (ec.category() == http::make_error_code(http::error::bad_method).category())
            return write(text_response(400, "bad request\n"), true);  // not HTTP/1.x as Beast parses it
        return close();  // a socket error: nobody to answer
    }

    // `broken`: part of the request may be unread, so the connection ends after this answer whatever keep-alive
    // says. Whenever a connection ends after an answer (broken, Connection: close, the keep-alive request limit,
    // a stop), what the client still sends is drained before closing: closing on unread data (pipelined requests,
    // say) would reset the connection and could destroy answers already written before the client reads them.
    void write(HttpResponse&& res, bool broken) {
        const bool keep = !broken && keep_alive_ && !server_->draining && served_ < options().keep_alive_requests;
        res.keep_alive(keep);
        res.prepare_payload();
        const std::size_t bytes = res.body().size();
        if (head_request_) res.body().clear();  // HEAD: the headers (Content-Length too) of the GET, no body
        if (server_->logger) {
            const double seconds = std::chrono::duration<double>(SteadyClock::now() - start_).count();
            server_->logger(AnsweredRequest{method_, target_, static_cast<int>(res.result_int()), bytes, seconds});
        }
        response_.emplace(std::move(res));
        stream_.expires_after(options().read_timeout);
        http::async_write(stream_, *response_,
                          [self = shared_from_this(), keep, broken](beast::error_code ec, std::size_t) {
                              self->response_.reset();
                              if (ec) return self->close();
                              if (broken || !keep) return self->linger();
                              self->read_header();
                          });
    }

    void linger() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream_.expires_after(kLingerTimeout);  // in all: a client that keeps sending does not keep us reading
        discard_rest();
    }

    void discard_rest() {
        stream_.async_read_some(net::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) return self->close();  // the client closed too, or kLingerTimeout passed
            self->discard_rest();
        });
    }

    void close() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.socket().close(ignored);
    }

    std::shared_ptr<HttpServer::Impl> server_;
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::optional<http::response<http::empty_body>> continue_;
    std::optional<HttpResponse> response_;
    std::list<std::weak_ptr<Session>>::iterator registry_pos_;
    std::string method_, target_;
    SteadyClock::time_point start_ = SteadyClock::now();
    std::size_t consumed_ = 0;  // bytes of the current body's wire form the parser has taken, framing included
    int served_ = 0;
    bool keep_alive_ = false;
    bool head_request_ = false;
    bool waiting_ = false;  // waiting for a request to begin (or be whole): nothing of ours in flight
    char scratch_[4096];
};

}  // namespace

HttpResponse text_response(int status, std::string body, const char* content_type) {
    HttpResponse res{static_cast<http::status>(status), 11};
    res.set(http::field::content_type, content_type);
    res.body() = std::move(body);
    return res;
}

void HttpServer::Impl::accept() {
    // One thread runs everything in order by itself; with more, each connection needs a strand of its own.
    const net::any_io_executor executor =
        options.threads == 1 ? net::any_io_executor(ioc.get_executor()) : net::any_io_executor(net::make_strand(ioc));
    acceptor.async_accept(executor, [this](beast::error_code ec, tcp::socket socket) {
        if (draining || !acceptor.is_open()) return;
        if (ec) {
            // Out of descriptors, say: try again shortly rather than spin.
            log_event("accept_error", {{"message", ec.message()}});
            accept_retry.expires_after(std::chrono::milliseconds(100));
            accept_retry.async_wait([this](beast::error_code e) {
                if (!e) accept();
            });
            return;
        }
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<Session>(shared_from_this(), std::move(socket))->start();
        accept();
    });
}

HttpServer::HttpServer(HttpServerOptions options, Handler handler, Logger logger)
    : impl_(std::make_shared<Impl>(options, std::move(handler), std::move(logger))) {}

HttpServer::~HttpServer() = default;

std::optional<std::string> HttpServer::listen(const std::string& host, int port) {
    beast::error_code ec;
    tcp::resolver resolver(impl_->ioc);
    const auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
    if (ec || results.empty()) return ec ? ec.message() : std::string("cannot resolve");
    const tcp::endpoint endpoint = results.begin()->endpoint();
    tcp::acceptor& a = impl_->acceptor;
    a.open(endpoint.protocol(), ec);
    if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) a.bind(endpoint, ec);
    if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
        a.close();
        return ec.message();
    }
    return std::nullopt;
}

void HttpServer::run() {
    impl_->accept();
    std::vector<std::thread> others;
    for (int i = 1; i < impl_->options.threads; ++i) others.emplace_back([this] { impl_->ioc.run(); });
    impl_->ioc.run();
    for (std::thread& t : others) t.join();
}

void HttpServer::stop() {
    net::post(impl_->ioc, [impl = impl_] {
        impl->draining = true;
        beast::error_code ignored;
        impl->acceptor.close(ignored);
        impl->accept_retry.cancel();
        std::vector<std::shared_ptr<Session>> live;
        {
            std::lock_guard<std::mutex> lock(impl->sessions_mutex);
            for (auto& w : impl->sessions)
                if (auto s = w.lock()) live.push_back(std::move(s));
        }
        for (auto& s : live) s->close_if_waiting();
    });
}

}  // namespace byo::relay
