// The relay's local spool: webhooks it could not hand to the database (connection refused or lost) are kept on
// disk, one file per webhook named by a sequence number, and answered 200 only once the file and the directory
// entry are fsync'd. They go back to twilio.handle_webhook, oldest first, when the database is reachable again,
// and each file is deleted once the database has answered it. Nothing of a webhook is held in memory: the spool
// keeps only the first and next sequence numbers, the file count and their size. Bounded by `max_bytes`: a
// webhook that does not fit is refused (the caller answers 503, as without a spool).
//
// A file holds exactly what the webhook carried (URL, X-Twilio-Signature, Content-Type, body) and no secret of
// ours; files are 0600 in a 0700 directory. A file that cannot be read back or decoded, and one the database
// could not settle within its attempts, is moved to `dead/` (0700) in the spool directory and never replayed: the
// replay goes on with the next file.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "webhook.hpp"

namespace byo::relay {

class SpoolError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Spool {
public:
    // Opens `dir` (created 0700 if missing; made 0700 if not), locks it (flock on `.lock` in it) and counts what an
    // earlier run left there, which is replayed first. Throws SpoolError when the directory cannot be used or
    // another process holds it.
    Spool(std::string dir, std::uint64_t max_bytes);
    ~Spool();
    Spool(const Spool&) = delete;
    Spool& operator=(const Spool&) = delete;

    // Stores every request durably, in order (files fsync'd, then the directory once). True when all are stored;
    // false, with nothing of them kept, when they do not fit or a write failed (logged, without the webhook).
    bool append(const std::vector<const WebhookRequest*>& requests);

    struct Entry {
        std::uint64_t seq;
        WebhookRequest request;
    };
    // The oldest stored webhook, read back from its file; nothing when the spool is empty.
    std::optional<Entry> oldest();
    // The database answered it: the file goes.
    void remove(std::uint64_t seq);
    // The file cannot be settled: moved to dead/ (logged with `reason`, never the webhook) and no longer counted.
    void dead_letter(std::uint64_t seq, const char* reason);

    // Lock-free: /metrics and the workers never wait behind a write or an fsync.
    bool empty() const { return count_.load(std::memory_order_relaxed) == 0; }
    std::size_t count() const { return count_.load(std::memory_order_relaxed); }
    std::uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
    // Files moved to dead/ by this process.
    std::uint64_t dead_lettered() const { return dead_lettered_.load(std::memory_order_relaxed); }
    const std::string& dir() const { return dir_; }

private:
    std::string name_of(std::uint64_t seq) const;
    bool write_one(std::uint64_t seq, const std::string& data);  // one file, fsync'd; the directory is not
    void unlink_counted(std::uint64_t seq);  // with mutex_ held
    // With mutex_ held: moves the file to dead/ (or, failing that, unlinks it) and stops counting it. Always
    // advances past it, even when the file can be neither moved nor removed (logged).
    void set_aside(std::uint64_t seq, const char* reason);
    void forget(std::uint64_t seq, std::uint64_t size);  // with mutex_ held: no longer counted

    const std::string dir_;
    const std::uint64_t max_bytes_;
    int dir_fd_ = -1;
    int lock_fd_ = -1;  // flock'd: one relay per spool directory
    mutable std::mutex mutex_;
    std::uint64_t first_ = 0;  // no file below this sequence number
    std::uint64_t next_ = 0;   // the next file's
    std::atomic<std::size_t> count_{0};    // written with mutex_ held
    std::atomic<std::uint64_t> bytes_{0};  // written with mutex_ held
    std::atomic<std::uint64_t> dead_lettered_{0};
};

// The file format, exposed for the unit test: a header line, then each field as a presence flag, its length in
// hex and its bytes, and an end marker. Parsing fails (nullopt) on anything cut short or altered.
std::string encode_spooled(const WebhookRequest& request);
std::optional<WebhookRequest> decode_spooled(const std::string& data);

}  // namespace byo::relay
