#include "static_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

namespace byo::relay {

namespace {

constexpr off_t kMaxFile = 8 * 1024 * 1024;

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string real_path(const std::string& p) {
    char buf[PATH_MAX];
    return ::realpath(p.c_str(), buf) ? std::string(buf) : std::string();
}

}  // namespace

const char* static_content_type(std::string_view name) {
    if (ends_with(name, ".html")) return "text/html; charset=utf-8";
    if (ends_with(name, ".js")) return "text/javascript; charset=utf-8";
    if (ends_with(name, ".css")) return "text/css; charset=utf-8";
    if (ends_with(name, ".svg")) return "image/svg+xml";
    if (ends_with(name, ".png")) return "image/png";
    return nullptr;
}

bool safe_static_path(std::string_view rest) {
    if (rest.empty() || rest.size() > 512) return false;
    std::size_t seg_start = 0;
    for (std::size_t i = 0; i <= rest.size(); ++i) {
        if (i == rest.size() || rest[i] == '/') {
            if (i == seg_start || rest[seg_start] == '.') return false;  // empty, ".", "..", hidden
            seg_start = i + 1;
            continue;
        }
        const char c = rest[i];
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

HttpResponse serve_static(const std::string& root, std::string_view rest) {
    if (rest.empty()) rest = "index.html";
    const char* type = static_content_type(rest);
    if (root.empty() || !type || !safe_static_path(rest)) return text_response(404, "not found\n");
    const std::string base = real_path(root);
    const std::string file = real_path(root + "/" + std::string(rest));
    // A symlink may point anywhere: serve only what resolves inside the directory.
    if (base.empty() || file.empty() || file.compare(0, base.size() + 1, base + "/") != 0)
        return text_response(404, "not found\n");
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return text_response(404, "not found\n");
    struct stat st{};
    std::string body;
    bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= kMaxFile;
    if (ok) {
        body.resize(static_cast<std::size_t>(st.st_size));
        std::size_t got = 0;
        while (ok && got < body.size()) {
            const ssize_t n = ::read(fd, body.data() + got, body.size() - got);
            if (n <= 0) ok = false;
            else got += static_cast<std::size_t>(n);
        }
    }
    ::close(fd);
    if (!ok) return text_response(404, "not found\n");
    HttpResponse res = text_response(200, std::move(body), type);  // HEAD: the server drops the body
    res.set(boost::beast::http::field::cache_control, "no-cache");
    res.set("X-Content-Type-Options", "nosniff");
    return res;
}

}  // namespace byo::relay
