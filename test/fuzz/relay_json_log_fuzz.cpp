// The relay's JSON log lines (relay/json_log.hpp: log_event), which carry client-controlled text (paths, query
// names, header values): each call writes exactly one line of valid JSON, whatever bytes it was given.
// Input: line 1 the event name, then lines name=value (fields; a value that parses as JSON is kept as JSON).
#include <sys/mman.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "fuzz_common.hpp"
#include "relay/json_log.hpp"

namespace {

// log_event writes to stderr: point stderr at an in-memory file for the call, then read back what it wrote.
std::string capture(std::string_view event, const byo::relay::LogFields& fields) {
    static const int fd = memfd_create("relay_json_log_fuzz", 0);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0);
    const int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    byo::relay::log_event(event, fields);
    dup2(saved, STDERR_FILENO);
    close(saved);
    const off_t n = lseek(fd, 0, SEEK_CUR);
    std::string out(static_cast<std::size_t>(n), '\0');
    FUZZ_CHECK(pread(fd, out.data(), out.size(), 0) == n);
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view rest = fuzz::as_view(data, size);
    const std::string event(fuzz::take_line(rest));
    byo::relay::LogFields fields = byo::relay::LogFields::object();
    for (std::string_view line : fuzz::split(rest, '\n')) {
        const std::size_t eq = line.find('=');
        const std::string name(line.substr(0, eq));
        const std::string value(eq == std::string_view::npos ? std::string_view() : line.substr(eq + 1));
        byo::relay::LogFields parsed = byo::relay::LogFields::parse(value, nullptr, false);
        // Scalars only: the relay logs strings, numbers and flags (and deep arrays would test nlohmann, not us).
        fields[name] = parsed.is_primitive() && !parsed.is_discarded() ? parsed : byo::relay::LogFields(value);
    }

    const std::string line = capture(event, fields);
    FUZZ_CHECK(!line.empty() && line.back() == '\n');
    FUZZ_CHECK(line.find('\n') == line.size() - 1);
    // Strict parse: valid UTF-8 and valid JSON, or nlohmann rejects it.
    const nlohmann::ordered_json doc = nlohmann::ordered_json::parse(line, nullptr, false);
    FUZZ_CHECK(doc.is_object());
    auto it = doc.begin();
    FUZZ_CHECK(it != doc.end() && it.key() == "ts" && (++it) != doc.end() && it.key() == "event");
    FUZZ_CHECK(doc["event"].is_string());
    // Every field is there, under its own name when that name was valid UTF-8.
    for (const auto& [name, value] : fields.items()) {
        if (name == "ts" || name == "event") continue;
        bool valid = true;
        try {
            (void)nlohmann::json(name).dump();
        } catch (const nlohmann::json::type_error&) {
            valid = false;
        }
        if (valid) FUZZ_CHECK(doc.contains(name));
    }
    return 0;
}
