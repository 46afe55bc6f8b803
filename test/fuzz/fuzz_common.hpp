// Helpers shared by the libFuzzer harnesses: splitting an input into readable fields (so seed files are plain
// webhooks, URLs and settings), and a check that stops the run with a message when a property fails.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace fuzz {

inline std::string_view as_view(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// Takes the text up to the first '\n' (without it) off the front of `rest`; the whole rest when there is none.
inline std::string_view take_line(std::string_view& rest) {
    const std::size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    return line;
}

inline std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    while (true) {
        const std::size_t at = s.find(sep);
        out.push_back(s.substr(0, at));
        if (at == std::string_view::npos) return out;
        s.remove_prefix(at + 1);
    }
}

[[noreturn]] inline void fail(const char* file, int line, const char* what) {
    std::fprintf(stderr, "==FUZZ CHECK FAILED== %s:%d: %s\n", file, line, what);
    std::fflush(stderr);
    std::abort();
}

}  // namespace fuzz

// A property every input must satisfy; aborting makes libFuzzer report the input as a crash.
#define FUZZ_CHECK(cond) \
    do { \
        if (!(cond)) ::fuzz::fail(__FILE__, __LINE__, #cond); \
    } while (0)
