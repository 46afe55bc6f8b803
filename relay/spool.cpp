#include "spool.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>

#include "json_log.hpp"

namespace byo::relay {

namespace {

constexpr const char* kHeader = "byo-twilio-relay spool 1\n";
constexpr const char* kEnd = "end\n";
constexpr const char* kSuffix = ".webhook";
constexpr std::size_t kDigits = 20;  // a uint64 in decimal, zero-padded: names sort as numbers

void put_field(std::string& out, const std::string* value) {
    if (!value) {
        out += "N\n";
        return;
    }
    char len[16];
    std::snprintf(len, sizeof len, "P%08zx:", value->size());
    out += len;
    out += *value;
    out += '\n';
}

// Reads one field at `pos`; false when the data is cut short or malformed.
bool get_field(const std::string& in, std::size_t& pos, std::optional<std::string>& value) {
    if (in.compare(pos, 2, "N\n") == 0) {
        pos += 2;
        value.reset();
        return true;
    }
    if (pos + 10 > in.size() || in[pos] != 'P' || in[pos + 9] != ':') return false;
    std::size_t len = 0;
    const char* first = in.data() + pos + 1;
    auto [ptr, ec] = std::from_chars(first, first + 8, len, 16);
    if (ec != std::errc() || ptr != first + 8) return false;
    pos += 10;
    if (len > in.size() - pos || pos + len >= in.size() || in[pos + len] != '\n') return false;
    value = in.substr(pos, len);
    pos += len + 1;
    return true;
}

// The sequence number a file name carries, or nothing for any other name (temporary files, strangers).
std::optional<std::uint64_t> seq_of(const char* name) {
    const std::size_t n = std::strlen(name), suffix = std::strlen(kSuffix);
    if (n != kDigits + suffix || std::strcmp(name + kDigits, kSuffix) != 0) return std::nullopt;
    std::uint64_t seq = 0;
    auto [ptr, ec] = std::from_chars(name, name + kDigits, seq);
    if (ec != std::errc() || ptr != name + kDigits) return std::nullopt;
    return seq;
}

bool write_all(int fd, const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t w = ::write(fd, data.data() + done, data.size() - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        done += static_cast<std::size_t>(w);
    }
    return true;
}

void log_spool_error(const char* what, int err) {
    log_event("spool_error", {{"message", what}, {"error", std::strerror(err)}});
}

}  // namespace

std::string encode_spooled(const WebhookRequest& r) {
    std::string out = kHeader;
    out += r.get ? "G1\n" : "G0\n";
    put_field(out, &r.url);
    put_field(out, r.signature ? &*r.signature : nullptr);
    put_field(out, r.content_type ? &*r.content_type : nullptr);
    put_field(out, &r.body);
    out += kEnd;
    return out;
}

std::optional<WebhookRequest> decode_spooled(const std::string& in) {
    const std::string header = kHeader;
    if (in.compare(0, header.size(), header) != 0) return std::nullopt;
    std::size_t pos = header.size();
    if (in.compare(pos, 3, "G1\n") != 0 && in.compare(pos, 3, "G0\n") != 0) return std::nullopt;
    WebhookRequest r;
    r.get = in[pos + 1] == '1';
    pos += 3;
    std::optional<std::string> url, body;
    if (!get_field(in, pos, url) || !get_field(in, pos, r.signature) || !get_field(in, pos, r.content_type) ||
        !get_field(in, pos, body) || !url || !body)
        return std::nullopt;
    if (in.compare(pos, std::string::npos, kEnd) != 0) return std::nullopt;
    r.url = std::move(*url);
    r.body = std::move(*body);
    return r;
}

Spool::Spool(std::string dir, std::uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {
    if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST)
        throw SpoolError("cannot create the spool directory: " + std::string(std::strerror(errno)));
    dir_fd_ = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd_ < 0) throw SpoolError("cannot open the spool directory: " + std::string(std::strerror(errno)));
    // Webhooks carry phone numbers and message text: nobody but the relay's user reads them.
    if (::fchmod(dir_fd_, 0700) != 0) {
        const int err = errno;
        ::close(dir_fd_);
        throw SpoolError("cannot make the spool directory 0700: " + std::string(std::strerror(err)));
    }
    // One relay per spool: a second one would replay the same files (deduplicated, but counted twice) and race
    // for sequence numbers. The lock goes with the process, however it ends.
    lock_fd_ = ::openat(dir_fd_, ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0 || ::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        if (lock_fd_ >= 0) ::close(lock_fd_);
        ::close(dir_fd_);
        throw SpoolError(err == EWOULDBLOCK ? "another relay uses this spool directory"
                                            : "cannot lock the spool directory: " + std::string(std::strerror(err)));
    }
    DIR* d = ::fdopendir(::dup(dir_fd_));
    if (!d) {
        const int err = errno;
        ::close(lock_fd_);
        ::close(dir_fd_);
        throw SpoolError("cannot list the spool directory: " + std::string(std::strerror(err)));
    }
    bool any = false;
    std::uint64_t lowest = std::numeric_limits<std::uint64_t>::max(), highest = 0;
    while (const dirent* e = ::readdir(d)) {
        const std::optional<std::uint64_t> seq = seq_of(e->d_name);
        if (!seq) continue;
        struct stat st {};
        if (::fstatat(dir_fd_, e->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode)) continue;
        any = true;
        lowest = std::min(lowest, *seq);
        highest = std::max(highest, *seq);
        ++count_;
        bytes_ += static_cast<std::uint64_t>(st.st_size);
    }
    ::closedir(d);
    first_ = any ? lowest : 0;
    next_ = any ? highest + 1 : 0;
}

Spool::~Spool() {
    if (lock_fd_ >= 0) ::close(lock_fd_);
    if (dir_fd_ >= 0) ::close(dir_fd_);
}

std::string Spool::name_of(std::uint64_t seq) const {
    char name[64];
    std::snprintf(name, sizeof name, "%020llu%s", static_cast<unsigned long long>(seq), kSuffix);
    return name;
}

bool Spool::write_one(std::uint64_t seq, const std::string& data) {
    const std::string name = name_of(seq);
    const int fd = ::openat(dir_fd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_spool_error("cannot create a spool file", errno);
        return false;
    }
    const bool ok = write_all(fd, data) && ::fsync(fd) == 0;
    const int err = errno;
    ::close(fd);
    if (!ok) {
        log_spool_error("cannot write a spool file", err);
        ::unlinkat(dir_fd_, name.c_str(), 0);
    }
    return ok;
}

bool Spool::append(const std::vector<const WebhookRequest*>& requests) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> files;
    std::uint64_t need = 0;
    for (const WebhookRequest* r : requests) {
        files.push_back(encode_spooled(*r));
        need += files.back().size();
    }
    if (bytes_ + need > max_bytes_) return false;
    const std::uint64_t start = next_;
    std::uint64_t seq = start;
    bool ok = true;
    for (const std::string& data : files) {
        if (!write_one(seq, data)) {
            ok = false;
            break;
        }
        ++seq;
    }
    // The directory entries, durable before anyone hears 200.
    if (ok && ::fsync(dir_fd_) != 0) {
        log_spool_error("cannot fsync the spool directory", errno);
        ok = false;
    }
    if (!ok) {  // the caller answers 503 for all of them: none may be replayed later
        for (std::uint64_t s = start; s < seq; ++s) ::unlinkat(dir_fd_, name_of(s).c_str(), 0);
        return false;
    }
    if (count_ == 0) first_ = start;
    next_ = seq;
    count_ += requests.size();
    bytes_ += need;
    return true;
}

std::optional<Spool::Entry> Spool::oldest() {
    std::lock_guard<std::mutex> lock(mutex_);
    // Every pass either returns or moves first_ on: a file that cannot be used never holds the replay (or the lock).
    while (count_ > 0 && first_ < next_) {
        const std::uint64_t seq = first_;
        const std::string name = name_of(seq);
        const int fd = ::openat(dir_fd_, name.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno != ENOENT) {
                log_spool_error("cannot open a spool file", errno);
                set_aside(seq, "unreadable");
                continue;
            }
            ++first_;  // a gap (a file refused by an earlier run): skip it
            continue;
        }
        std::string data;
        char buf[65536];
        ssize_t n = 0;
        while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
            if (n > 0) data.append(buf, static_cast<std::size_t>(n));
        const int err = errno;
        ::close(fd);
        if (n < 0) {
            log_spool_error("cannot read a spool file", err);
            set_aside(seq, "unreadable");
            continue;
        }
        std::optional<WebhookRequest> r = decode_spooled(data);
        if (r) return Entry{seq, std::move(*r)};
        // Cut short by a crash before its fsync completed (never answered 200, so Twilio retried it), or altered.
        set_aside(seq, "cannot be decoded");
    }
    if (count_ > 0) {  // files counted but gone (removed by hand): the spool is empty
        log_event("spool_error", {{"message", "spool files went missing"}, {"missing", count_.load()}});
        count_ = 0;
        bytes_ = 0;
    }
    return std::nullopt;
}

void Spool::forget(std::uint64_t seq, std::uint64_t size) {
    if (count_ > 0) {
        --count_;
        bytes_ -= std::min<std::uint64_t>(bytes_, size);
    }
    if (seq == first_) ++first_;
    if (count_ == 0) first_ = next_;
}

void Spool::unlink_counted(std::uint64_t seq) {
    const std::string name = name_of(seq);
    struct stat st {};
    const bool present = ::fstatat(dir_fd_, name.c_str(), &st, 0) == 0;
    // Not removable (a read-only file system, say): no longer counted all the same, so the replay goes on. A
    // relay started later finds it again; its replay is deduplicated by the database.
    if (::unlinkat(dir_fd_, name.c_str(), 0) != 0 && errno != ENOENT)
        log_event("spool_error", {{"message", "cannot remove a spool file; skipped"}, {"seq", seq},
                                  {"error", std::strerror(errno)}});
    if (present) forget(seq, static_cast<std::uint64_t>(st.st_size));
    else if (seq == first_) ++first_;
}

void Spool::set_aside(std::uint64_t seq, const char* reason) {
    const std::string name = name_of(seq);
    struct stat st {};
    const bool present = ::fstatat(dir_fd_, name.c_str(), &st, 0) == 0;
    if (!present) {
        if (seq == first_) ++first_;
        return;
    }
    const std::string dead = "dead/" + name;
    if ((::mkdirat(dir_fd_, "dead", 0700) == 0 || errno == EEXIST) &&
        ::renameat(dir_fd_, name.c_str(), dir_fd_, dead.c_str()) == 0) {
        ++dead_lettered_;
        log_event("spool_dead_letter", {{"seq", seq}, {"reason", reason}, {"file", dir_ + "/" + dead}});
    } else {
        const int err = errno;
        const bool gone = ::unlinkat(dir_fd_, name.c_str(), 0) == 0;
        log_event("spool_error", {{"message", gone ? "cannot move a spool file to dead/; removed"
                                                   : "cannot move or remove a spool file; skipped"},
                                  {"seq", seq}, {"reason", reason}, {"error", std::strerror(err)}});
    }
    forget(seq, static_cast<std::uint64_t>(st.st_size));
}

void Spool::remove(std::uint64_t seq) {
    std::lock_guard<std::mutex> lock(mutex_);
    unlink_counted(seq);
}

void Spool::dead_letter(std::uint64_t seq, const char* reason) {
    std::lock_guard<std::mutex> lock(mutex_);
    set_aside(seq, reason);
}

}  // namespace byo::relay
