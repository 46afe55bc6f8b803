// The relay's settings from the environment: defaults, each variable, the documented failures (ConfigError naming
// the variable), PUBLIC_URL's trailing slash, and LISTEN's host:port forms.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>

#include "relay/config.hpp"

using byo::relay::Config;
using byo::relay::ConfigError;
using byo::relay::load_config;

namespace {

using Env = std::map<std::string, std::string>;

// The two required variables, set to something valid.
Env base_env() {
    return {{"BYO_TWILIO_DATABASE_URL", "host=db dbname=app user=byo_twilio_relay"},
            {"BYO_TWILIO_PUBLIC_URL", "https://hooks.example.com"}};
}

Config load(const Env& env) {
    return load_config([&env](const char* name) -> const char* {
        auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
    });
}

Config load_with(const char* name, const std::string& value) {
    Env env = base_env();
    env[name] = value;
    return load(env);
}

// The ConfigError message for `env`, or "" when it loads.
std::string error_of(const Env& env) {
    try {
        load(env);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

std::string error_with(const char* name, const std::string& value) {
    Env env = base_env();
    env[name] = value;
    return error_of(env);
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST(RelayConfig, DefaultsWithOnlyTheRequiredVariables) {
    const Config c = load(base_env());
    EXPECT_EQ(c.database_url, "host=db dbname=app user=byo_twilio_relay");
    EXPECT_EQ(c.public_url, "https://hooks.example.com");
    EXPECT_EQ(c.listen_host, "127.0.0.1");
    EXPECT_EQ(c.listen_port, 8080);
    EXPECT_EQ(c.pool_size, 4);
    EXPECT_EQ(c.body_limit, 65536u);
    EXPECT_EQ(c.read_timeout, std::chrono::milliseconds(10000));
    EXPECT_EQ(c.db_timeout, std::chrono::milliseconds(4000));
    EXPECT_EQ(c.threads, 1);
    EXPECT_EQ(c.batch_max, 16);
    EXPECT_EQ(c.queue_max, 1000);
    EXPECT_EQ(c.keep_alive_requests, 100);
}

TEST(RelayConfig, EmptyOptionalVariablesMeanDefault) {
    Env env = base_env();
    for (const char* name : {"BYO_TWILIO_LISTEN", "BYO_TWILIO_POOL_SIZE", "BYO_TWILIO_BODY_LIMIT",
                             "BYO_TWILIO_READ_TIMEOUT_MS", "BYO_TWILIO_DB_TIMEOUT_MS", "BYO_TWILIO_THREADS",
                             "BYO_TWILIO_BATCH_MAX", "BYO_TWILIO_QUEUE_MAX", "BYO_TWILIO_KEEP_ALIVE_REQUESTS"})
        env[name] = "";
    const Config c = load(env);
    EXPECT_EQ(c.listen_host, "127.0.0.1");
    EXPECT_EQ(c.listen_port, 8080);
    EXPECT_EQ(c.pool_size, 4);
    EXPECT_EQ(c.body_limit, 65536u);
    EXPECT_EQ(c.read_timeout, std::chrono::milliseconds(10000));
    EXPECT_EQ(c.db_timeout, std::chrono::milliseconds(4000));
    EXPECT_EQ(c.threads, 1);
    EXPECT_EQ(c.batch_max, 16);
    EXPECT_EQ(c.queue_max, 1000);
    EXPECT_EQ(c.keep_alive_requests, 100);
}

TEST(RelayConfig, OnlyItsOwnVariablesAreRead) {
    std::map<std::string, int> asked;
    Env env = base_env();
    load_config([&](const char* name) -> const char* {
        ++asked[name];
        auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
    });
    EXPECT_FALSE(asked.empty());
    for (const auto& [name, n] : asked) EXPECT_EQ(name.rfind("BYO_TWILIO_", 0), 0u) << name;
}

TEST(RelayConfig, DatabaseUrlIsRequired) {
    Env env = base_env();
    env.erase("BYO_TWILIO_DATABASE_URL");
    EXPECT_TRUE(contains(error_of(env), "BYO_TWILIO_DATABASE_URL"));
    env["BYO_TWILIO_DATABASE_URL"] = "";
    EXPECT_TRUE(contains(error_of(env), "BYO_TWILIO_DATABASE_URL"));
    EXPECT_THROW(load(env), ConfigError);
}

TEST(RelayConfig, DatabaseUrlIsTakenVerbatimAndNeverEchoedInErrors) {
    EXPECT_EQ(load_with("BYO_TWILIO_DATABASE_URL", "postgresql://u:s3cret@db/app?sslmode=require").database_url,
              "postgresql://u:s3cret@db/app?sslmode=require");
    // A later variable's error must not carry the database URL along.
    Env env = base_env();
    env["BYO_TWILIO_DATABASE_URL"] = "host=db password=s3cret";
    env["BYO_TWILIO_POOL_SIZE"] = "lots";
    const std::string err = error_of(env);
    EXPECT_TRUE(contains(err, "BYO_TWILIO_POOL_SIZE"));
    EXPECT_FALSE(contains(err, "s3cret"));
}

TEST(RelayConfig, PublicUrlIsRequired) {
    Env env = base_env();
    env.erase("BYO_TWILIO_PUBLIC_URL");
    EXPECT_TRUE(contains(error_of(env), "BYO_TWILIO_PUBLIC_URL"));
    env["BYO_TWILIO_PUBLIC_URL"] = "";
    EXPECT_TRUE(contains(error_of(env), "BYO_TWILIO_PUBLIC_URL"));
}

TEST(RelayConfig, PublicUrlTrailingSlashIsDropped) {
    EXPECT_EQ(load_with("BYO_TWILIO_PUBLIC_URL", "https://hooks.example.com/").public_url, "https://hooks.example.com");
    EXPECT_EQ(load_with("BYO_TWILIO_PUBLIC_URL", "https://hooks.example.com//").public_url,
              "https://hooks.example.com");
    EXPECT_EQ(load_with("BYO_TWILIO_PUBLIC_URL", "https://example.com/hooks/").public_url, "https://example.com/hooks");
}

TEST(RelayConfig, PublicUrlKeepsSchemePortAndPrefix) {
    EXPECT_EQ(load_with("BYO_TWILIO_PUBLIC_URL", "http://localhost:8080").public_url, "http://localhost:8080");
    EXPECT_EQ(load_with("BYO_TWILIO_PUBLIC_URL", "https://example.com:8443/a/b").public_url,
              "https://example.com:8443/a/b");
}

TEST(RelayConfig, PublicUrlRejectsWhatTheRelayCannotSignAgainst) {
    for (const char* bad : {"hooks.example.com", "ftp://hooks.example.com", "https://", "http://", "https:///path",
                            "HTTPS://hooks.example.com", " https://hooks.example.com", "//hooks.example.com"}) {
        const std::string err = error_with("BYO_TWILIO_PUBLIC_URL", bad);
        EXPECT_TRUE(contains(err, "BYO_TWILIO_PUBLIC_URL")) << bad << " -> " << err;
    }
    for (const char* bad : {"https://hooks.example.com?x=1", "https://hooks.example.com/#frag",
                            "https://hooks.example.com/a b", "https://hooks.example.com\n", "https://hooks.example.com\t",
                            "https://hooks.example.com/\r"}) {
        const std::string err = error_with("BYO_TWILIO_PUBLIC_URL", bad);
        EXPECT_TRUE(contains(err, "BYO_TWILIO_PUBLIC_URL")) << bad << " -> " << err;
    }
}

TEST(RelayConfig, ListenHostAndPort) {
    Config c = load_with("BYO_TWILIO_LISTEN", "0.0.0.0:9000");
    EXPECT_EQ(c.listen_host, "0.0.0.0");
    EXPECT_EQ(c.listen_port, 9000);

    c = load_with("BYO_TWILIO_LISTEN", "relay.internal:80");
    EXPECT_EQ(c.listen_host, "relay.internal");
    EXPECT_EQ(c.listen_port, 80);
}

TEST(RelayConfig, ListenPortOnlyMeansAllInterfaces) {
    const Config c = load_with("BYO_TWILIO_LISTEN", ":8081");
    EXPECT_EQ(c.listen_host, "0.0.0.0");
    EXPECT_EQ(c.listen_port, 8081);
}

TEST(RelayConfig, ListenBracketedIpv6) {
    Config c = load_with("BYO_TWILIO_LISTEN", "[::1]:8080");
    EXPECT_EQ(c.listen_host, "::1");
    EXPECT_EQ(c.listen_port, 8080);

    c = load_with("BYO_TWILIO_LISTEN", "[::]:1");
    EXPECT_EQ(c.listen_host, "::");
    EXPECT_EQ(c.listen_port, 1);

    c = load_with("BYO_TWILIO_LISTEN", "[fe80::1%eth0]:65535");
    EXPECT_EQ(c.listen_host, "fe80::1%eth0");
    EXPECT_EQ(c.listen_port, 65535);
}

TEST(RelayConfig, ListenPortBounds) {
    EXPECT_EQ(load_with("BYO_TWILIO_LISTEN", "127.0.0.1:1").listen_port, 1);
    EXPECT_EQ(load_with("BYO_TWILIO_LISTEN", "127.0.0.1:65535").listen_port, 65535);
}

TEST(RelayConfig, ListenRejectsBadPortsAndMissingColon) {
    for (const char* bad : {"127.0.0.1", "8080", "localhost", "127.0.0.1:", ":", "127.0.0.1:0", "127.0.0.1:65536",
                            "127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1: 80", "127.0.0.1:80 ", "127.0.0.1:80x",
                            "127.0.0.1:0x50", "127.0.0.1:8.0", "127.0.0.1:99999999999999999999", "[::1]", "[::1]:",
                            "127.0.0.1:http"}) {
        const std::string err = error_with("BYO_TWILIO_LISTEN", bad);
        EXPECT_TRUE(contains(err, "BYO_TWILIO_LISTEN")) << bad << " -> " << err;
    }
}

TEST(RelayConfig, ListenErrorNamesTheRangeAndTheValue) {
    const std::string err = error_with("BYO_TWILIO_LISTEN", "127.0.0.1:70000");
    EXPECT_TRUE(contains(err, "BYO_TWILIO_LISTEN port")) << err;
    EXPECT_TRUE(contains(err, "1 to 65535")) << err;
    EXPECT_TRUE(contains(err, "\"70000\"")) << err;
}

struct IntVar {
    const char* name;
    long long lo;
    long long hi;
};

// Each integer variable: its bounds are accepted and stored, one past each bound and non-numbers are refused
// with an error naming the variable.
TEST(RelayConfig, IntegerVariablesAcceptTheirRangeExactly) {
    const IntVar vars[] = {{"BYO_TWILIO_POOL_SIZE", 1, 1000},
                           {"BYO_TWILIO_BODY_LIMIT", 1, 64 * 1024 * 1024},
                           {"BYO_TWILIO_READ_TIMEOUT_MS", 100, 600000},
                           {"BYO_TWILIO_DB_TIMEOUT_MS", 100, 600000},
                           {"BYO_TWILIO_THREADS", 1, 1024},
                           {"BYO_TWILIO_BATCH_MAX", 1, 1000},
                           {"BYO_TWILIO_QUEUE_MAX", 1, 1000000},
                           {"BYO_TWILIO_KEEP_ALIVE_REQUESTS", 1, 100000}};
    for (const IntVar& v : vars) {
        SCOPED_TRACE(v.name);
        EXPECT_NO_THROW(load_with(v.name, std::to_string(v.lo)));
        EXPECT_NO_THROW(load_with(v.name, std::to_string(v.hi)));
        for (const std::string& bad :
             {std::to_string(v.lo - 1), std::to_string(v.hi + 1), std::string("-5"), std::string("abc"),
              std::string(" 10"), std::string("10 "), std::string("+10"), std::string("1e3"), std::string("10ms"),
              std::string("0x10"), std::string("3.5"), std::string("99999999999999999999999")}) {
            const std::string err = error_with(v.name, bad);
            EXPECT_TRUE(contains(err, v.name)) << bad << " -> " << err;
            EXPECT_TRUE(contains(err, "must be an integer from " + std::to_string(v.lo) + " to " +
                                          std::to_string(v.hi)))
                << bad << " -> " << err;
        }
    }
}

TEST(RelayConfig, EachIntegerVariableLandsInItsField) {
    EXPECT_EQ(load_with("BYO_TWILIO_POOL_SIZE", "3").pool_size, 3);
    EXPECT_EQ(load_with("BYO_TWILIO_BODY_LIMIT", "1048576").body_limit, 1048576u);
    EXPECT_EQ(load_with("BYO_TWILIO_BODY_LIMIT", "67108864").body_limit, 67108864u);
    EXPECT_EQ(load_with("BYO_TWILIO_READ_TIMEOUT_MS", "2500").read_timeout, std::chrono::milliseconds(2500));
    EXPECT_EQ(load_with("BYO_TWILIO_DB_TIMEOUT_MS", "3000").db_timeout, std::chrono::milliseconds(3000));
    EXPECT_EQ(load_with("BYO_TWILIO_THREADS", "4").threads, 4);
    EXPECT_EQ(load_with("BYO_TWILIO_BATCH_MAX", "1").batch_max, 1);
    EXPECT_EQ(load_with("BYO_TWILIO_QUEUE_MAX", "5").queue_max, 5);
    EXPECT_EQ(load_with("BYO_TWILIO_KEEP_ALIVE_REQUESTS", "1").keep_alive_requests, 1);
    // Leading zeros are still a whole decimal number.
    EXPECT_EQ(load_with("BYO_TWILIO_THREADS", "007").threads, 7);
}

TEST(RelayConfig, AllVariablesTogether) {
    const Config c = load({{"BYO_TWILIO_DATABASE_URL", "dbname=x"},
                           {"BYO_TWILIO_PUBLIC_URL", "https://h.example/p/"},
                           {"BYO_TWILIO_LISTEN", "[::]:8443"},
                           {"BYO_TWILIO_POOL_SIZE", "2"},
                           {"BYO_TWILIO_BODY_LIMIT", "1000"},
                           {"BYO_TWILIO_READ_TIMEOUT_MS", "100"},
                           {"BYO_TWILIO_DB_TIMEOUT_MS", "600000"},
                           {"BYO_TWILIO_THREADS", "1"}});
    EXPECT_EQ(c.database_url, "dbname=x");
    EXPECT_EQ(c.public_url, "https://h.example/p");
    EXPECT_EQ(c.listen_host, "::");
    EXPECT_EQ(c.listen_port, 8443);
    EXPECT_EQ(c.pool_size, 2);
    EXPECT_EQ(c.body_limit, 1000u);
    EXPECT_EQ(c.read_timeout, std::chrono::milliseconds(100));
    EXPECT_EQ(c.db_timeout, std::chrono::milliseconds(600000));
    EXPECT_EQ(c.threads, 1);
}

TEST(RelayConfig, HelpTextListsEveryVariableWithItsDefault) {
    const std::string help = byo::relay::help_text();
    for (const char* name : {"BYO_TWILIO_DATABASE_URL", "BYO_TWILIO_PUBLIC_URL", "BYO_TWILIO_LISTEN",
                             "BYO_TWILIO_POOL_SIZE", "BYO_TWILIO_BODY_LIMIT", "BYO_TWILIO_READ_TIMEOUT_MS",
                             "BYO_TWILIO_DB_TIMEOUT_MS", "BYO_TWILIO_THREADS", "BYO_TWILIO_BATCH_MAX",
                             "BYO_TWILIO_QUEUE_MAX", "BYO_TWILIO_KEEP_ALIVE_REQUESTS"})
        EXPECT_TRUE(contains(help, name)) << name;
    for (const char* def :
         {"[127.0.0.1:8080]", "[4]", "[65536]", "[10000]", "[4000]", "[1]", "[16]", "[1000]", "[100]"})
        EXPECT_TRUE(contains(help, def)) << def;
}

TEST(RelayConfig, SpoolIsOffUnlessADirectoryIsGiven) {
    EXPECT_EQ(load_with("BYO_TWILIO_THREADS", "1").spool_dir, "");
    EXPECT_EQ(load_with("BYO_TWILIO_SPOOL_DIR", "/var/lib/byo-twilio-relay/spool").spool_dir,
              "/var/lib/byo-twilio-relay/spool");
    EXPECT_EQ(load_with("BYO_TWILIO_THREADS", "1").spool_max_bytes, 256ull << 20);
    EXPECT_EQ(load_with("BYO_TWILIO_SPOOL_MAX_MB", "1").spool_max_bytes, 1ull << 20);
    Env env = base_env();
    env["BYO_TWILIO_SPOOL_DIR"] = "relative/spool";
    EXPECT_TRUE(contains(error_of(env), "BYO_TWILIO_SPOOL_DIR"));
    env.erase("BYO_TWILIO_SPOOL_DIR");
    env["BYO_TWILIO_SPOOL_MAX_MB"] = "0";
    EXPECT_TRUE(contains(error_of(env), "BYO_TWILIO_SPOOL_MAX_MB"));
}
