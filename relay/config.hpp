// The relay's settings, all from the environment (a systemd EnvironmentFile or a container's env), validated once
// at start-up so a typo stops the process with a clear message instead of surfacing as odd behaviour later.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

namespace byo::relay {

struct Config {
    std::string database_url;              // libpq conninfo or URI; may hold a password, so never logged
    std::string listen_host = "127.0.0.1";
    int listen_port = 8080;
    std::string public_url;                // scheme://host[:port][/prefix], no trailing slash
    int pool_size = 4;
    std::size_t body_limit = 65536;
    std::chrono::milliseconds read_timeout{10000};
    std::chrono::milliseconds db_timeout{4000};
    int threads = 1;                 // event-loop threads
    int batch_max = 16;
    int queue_max = 1000;            // webhooks waiting for a database worker; more are answered 503 at once
    int keep_alive_requests = 100;   // requests per connection; 1: close after each
    std::string spool_dir;           // empty: no spool (an unreachable database is answered 503)
    std::uint64_t spool_max_bytes = 256ull << 20;
};

class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Reads every BYO_TWILIO_* variable through `getenv` (injectable for tests); throws ConfigError naming the
// variable at fault. Unset or empty means "use the default".
Config load_config(const std::function<const char*(const char*)>& getenv);

// The --help text: every variable with its default and meaning.
std::string help_text();

}  // namespace byo::relay
