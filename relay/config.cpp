#include "config.hpp"

#include <charconv>
#include <cstdint>
#include <limits>
#include <string_view>

namespace byo::relay {

namespace {

std::string env(const std::function<const char*(const char*)>& getenv, const char* name) {
    const char* v = getenv(name);
    return v ? std::string(v) : std::string();
}

// Whole-string decimal integer within [lo, hi]; anything else (sign, spaces, suffix, overflow) is rejected.
std::int64_t parse_int(const std::string& text, const char* name, std::int64_t lo, std::int64_t hi) {
    std::int64_t value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc() || ptr != end || value < lo || value > hi)
        throw ConfigError(std::string(name) + " must be an integer from " + std::to_string(lo) + " to " +
                          std::to_string(hi) + ", got \"" + text + "\"");
    return value;
}

// "host:port", "[v6addr]:port" or ":port" (all interfaces). The port is split off the last colon so a bracketed
// IPv6 address keeps its own colons.
void parse_listen(const std::string& text, Config& cfg) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) throw ConfigError("BYO_TWILIO_LISTEN must be host:port, got \"" + text + "\"");
    std::string host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty()) host = "0.0.0.0";
    cfg.listen_host = host;
    cfg.listen_port = static_cast<int>(parse_int(text.substr(colon + 1), "BYO_TWILIO_LISTEN port", 1, 65535));
}

// Twilio signs the exact URL it called, so the base must be exactly what was configured in Twilio: a scheme and
// host, optionally a path prefix the proxy strips, and nothing the relay would have to guess about (query, fragment).
std::string parse_public_url(std::string text) {
    const std::string_view v(text);
    const bool has_scheme = v.substr(0, 8) == "https://" || v.substr(0, 7) == "http://";
    const auto authority = has_scheme ? v.find("://") + 3 : 0;
    if (!has_scheme || authority >= v.size() || v[authority] == '/')
        throw ConfigError("BYO_TWILIO_PUBLIC_URL must start with https:// (or http://) and a host, got \"" + text + "\"");
    if (v.find_first_of("?# \t\r\n") != std::string_view::npos)
        throw ConfigError("BYO_TWILIO_PUBLIC_URL must not contain a query, fragment or whitespace");
    while (!text.empty() && text.back() == '/') text.pop_back();
    return text;
}

}  // namespace

Config load_config(const std::function<const char*(const char*)>& getenv) {
    Config cfg;
    cfg.database_url = env(getenv, "BYO_TWILIO_DATABASE_URL");
    if (cfg.database_url.empty()) throw ConfigError("BYO_TWILIO_DATABASE_URL is required (libpq conninfo or URI)");

    const std::string public_url = env(getenv, "BYO_TWILIO_PUBLIC_URL");
    if (public_url.empty()) throw ConfigError("BYO_TWILIO_PUBLIC_URL is required (the base URL Twilio calls)");
    cfg.public_url = parse_public_url(public_url);

    if (auto v = env(getenv, "BYO_TWILIO_LISTEN"); !v.empty()) parse_listen(v, cfg);
    if (auto v = env(getenv, "BYO_TWILIO_POOL_SIZE"); !v.empty())
        cfg.pool_size = static_cast<int>(parse_int(v, "BYO_TWILIO_POOL_SIZE", 1, 1000));
    if (auto v = env(getenv, "BYO_TWILIO_BODY_LIMIT"); !v.empty())
        cfg.body_limit = static_cast<std::size_t>(parse_int(v, "BYO_TWILIO_BODY_LIMIT", 1, 64 * 1024 * 1024));
    if (auto v = env(getenv, "BYO_TWILIO_READ_TIMEOUT_MS"); !v.empty())
        cfg.read_timeout = std::chrono::milliseconds(parse_int(v, "BYO_TWILIO_READ_TIMEOUT_MS", 100, 600000));
    if (auto v = env(getenv, "BYO_TWILIO_DB_TIMEOUT_MS"); !v.empty())
        cfg.db_timeout = std::chrono::milliseconds(parse_int(v, "BYO_TWILIO_DB_TIMEOUT_MS", 100, 600000));
    if (auto v = env(getenv, "BYO_TWILIO_THREADS"); !v.empty())
        cfg.threads = static_cast<int>(parse_int(v, "BYO_TWILIO_THREADS", 1, 1024));
    if (auto v = env(getenv, "BYO_TWILIO_KEEP_ALIVE_REQUESTS"); !v.empty())
        cfg.keep_alive_requests = static_cast<int>(parse_int(v, "BYO_TWILIO_KEEP_ALIVE_REQUESTS", 1, 100000));
    if (auto v = env(getenv, "BYO_TWILIO_BATCH_MAX"); !v.empty())
        cfg.batch_max = static_cast<int>(parse_int(v, "BYO_TWILIO_BATCH_MAX", 1, 1000));
    if (auto v = env(getenv, "BYO_TWILIO_QUEUE_MAX"); !v.empty())
        cfg.queue_max = static_cast<int>(parse_int(v, "BYO_TWILIO_QUEUE_MAX", 1, 1000000));
    cfg.spool_dir = env(getenv, "BYO_TWILIO_SPOOL_DIR");
    if (!cfg.spool_dir.empty() && cfg.spool_dir.front() != '/')
        throw ConfigError("BYO_TWILIO_SPOOL_DIR must be an absolute path, got \"" + cfg.spool_dir + "\"");
    if (auto v = env(getenv, "BYO_TWILIO_SPOOL_MAX_MB"); !v.empty())
        cfg.spool_max_bytes = static_cast<std::uint64_t>(parse_int(v, "BYO_TWILIO_SPOOL_MAX_MB", 1, 1048576)) << 20;
    return cfg;
}

std::string help_text() {
    return R"(byo-twilio-relay: forwards Twilio webhooks to twilio.handle_webhook(s)() in PostgreSQL.

Usage: byo-twilio-relay [--help]

All settings come from the environment:
  BYO_TWILIO_DATABASE_URL     (required) libpq conninfo or URI, e.g.
                              "host=db dbname=app user=byo_twilio_relay" or postgresql://...
  BYO_TWILIO_PUBLIC_URL       (required) base URL Twilio calls, e.g. https://hooks.example.com;
                              the signed URL is this + request path + "?" + raw query
  BYO_TWILIO_LISTEN           host:port to listen on (plain HTTP; put TLS in front)   [127.0.0.1:8080]
  BYO_TWILIO_POOL_SIZE        database connections                                    [4]
  BYO_TWILIO_BODY_LIMIT       largest request body in bytes; larger gets 413           [65536]
  BYO_TWILIO_READ_TIMEOUT_MS  time a client has to send a request's header, then its
                              body, and to take the answer; a slower one is closed    [10000]
  BYO_TWILIO_DB_TIMEOUT_MS    budget for pool wait + connect + SQL call; also the
                              session statement_timeout; exceeded gets 503             [4000]
  BYO_TWILIO_THREADS          threads running the HTTP event loop; connections and
                              requests in flight do not need a thread each             [1]
  BYO_TWILIO_BATCH_MAX        most webhooks per database call when they queue up for a
                              connection (twilio.handle_webhooks); 1: one per call     [16]
  BYO_TWILIO_QUEUE_MAX        webhooks that may wait for a database worker; beyond
                              that they get 503 + Retry-After at once (load shedding) [1000]
  BYO_TWILIO_KEEP_ALIVE_REQUESTS  requests one connection may carry; 1 closes it after
                              each. An idle kept connection is closed after 5 s        [100]
  BYO_TWILIO_SPOOL_DIR        directory (absolute) where webhooks are kept, fsync'd,
                              and answered 200 while the database cannot be reached;
                              replayed in order when it can. Unset: answered 503      [unset]
  BYO_TWILIO_SPOOL_MAX_MB     most the spool holds; beyond it webhooks get 503         [256]

Endpoints: POST and GET /twilio/... (webhooks), /api/twilio/... (app API), GET /ui/ (web/),
GET /healthz, GET /readyz, GET /metrics.
Logs: JSON lines on stderr. SIGTERM/SIGINT: stop accepting, drain (up to 10 s), exit.
)";
}

}  // namespace byo::relay
