// The relay's settings (relay/config.hpp): load_config over an environment.
// Input: lines NAME=VALUE, as in a systemd EnvironmentFile (relay/relay.env.example).
#include <cstdint>
#include <map>
#include <string>

#include "fuzz_common.hpp"
#include "relay/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::map<std::string, std::string> env;
    for (std::string_view line : fuzz::split(fuzz::as_view(data, size), '\n')) {
        const std::size_t eq = line.find('=');
        if (eq == std::string_view::npos) continue;
        // getenv hands out C strings: a value ends at its first NUL.
        std::string value(line.substr(eq + 1));
        value = value.c_str();
        env[std::string(line.substr(0, eq))] = value;
    }
    const auto getenv = [&env](const char* name) -> const char* {
        const auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
    };
    try {
        const byo::relay::Config c = byo::relay::load_config(getenv);
        FUZZ_CHECK(!c.database_url.empty());
        FUZZ_CHECK(c.public_url.rfind("https://", 0) == 0 || c.public_url.rfind("http://", 0) == 0);
        FUZZ_CHECK(c.public_url.back() != '/');
        FUZZ_CHECK(c.public_url.find_first_of("?# \t\r\n") == std::string::npos);
        FUZZ_CHECK(c.listen_port >= 1 && c.listen_port <= 65535 && !c.listen_host.empty());
        FUZZ_CHECK(c.pool_size >= 1 && c.threads >= 1 && c.batch_max >= 1 && c.queue_max >= 1);
        FUZZ_CHECK(c.keep_alive_requests >= 1 && c.body_limit >= 1);
        FUZZ_CHECK(c.read_timeout.count() >= 100 && c.db_timeout.count() >= 100);
    } catch (const byo::relay::ConfigError& e) {
        // The database URL may hold a password: no error depends on it (beyond being set or not), so none quotes it.
        auto db = env.find("BYO_TWILIO_DATABASE_URL");
        if (db != env.end() && !db->second.empty()) {
            const std::string error = e.what();
            db->second = "host=other dbname=other password=other";
            try {
                byo::relay::load_config(getenv);
                FUZZ_CHECK(!"a configuration failed or passed depending on its database URL");
            } catch (const byo::relay::ConfigError& other) {
                FUZZ_CHECK(error == other.what());
            }
        }
    }
    return 0;
}
