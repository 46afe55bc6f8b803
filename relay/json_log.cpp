#include "json_log.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace byo::relay {

namespace {

std::string utc_timestamp() {
    const auto now = std::chrono::system_clock::now();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[40];
    const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
    return buf;
}

void write_all(const std::string& line) {
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        const ssize_t n = ::write(STDERR_FILENO, p, left);
        if (n <= 0) return;  // stderr gone: nothing better to do than drop the line
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

}  // namespace

// Written field by field rather than merged into a new JSON object first: a line per request, and the merge and
// its copies were most of the line's cost.
void log_event(std::string_view event, const LogFields& fields) noexcept {
    try {
        const auto dump = [](const LogFields& v) {
            return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        };
        std::string line = "{\"ts\":\"" + utc_timestamp() + "\",\"event\":" + dump(std::string(event));
        if (fields.is_object())
            for (const auto& [key, value] : fields.items()) {
                if (key == "ts" || key == "event") continue;  // the line's own
                line += ',' + dump(key) + ':' + dump(value);
            }
        line += "}\n";
        write_all(line);
    } catch (...) {
        // Out of memory while logging: dropping the line beats taking the request down with it.
    }
}

}  // namespace byo::relay
