// Counters for Prometheus: webhook answers by status, webhook latency, database errors. Pool gauges are read
// from the pool when scraped, so they are never stale.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace byo::relay {

class Metrics {
public:
    // One /twilio/ request answered with `status` after `seconds` (headers read to response written).
    void record_request(int status, double seconds);
    // A failed acquire, connect or call.
    void record_db_error();
    // One call of handle_webhook(s) carrying `webhooks` webhooks (1 for a single call).
    void record_db_call(std::size_t webhooks);
    // A webhook answered 503 at once because the queue for the database was full.
    void record_shed();
    // Webhooks kept in the spool (answered 200 while the database could not be reached).
    void record_spooled(std::size_t webhooks);
    // A spooled webhook the database answered: stored (2xx) or dropped (refused, e.g. a forged signature).
    void record_replayed(bool stored);

    // The text exposition format (version 0.0.4). `spooled`: webhooks in the spool now (-1: no spool).
    std::string render(int pool_in_use, int pool_size, long long spooled = -1) const;

private:
    // Twilio gives up after 15 s (5 s for some voice callbacks); the buckets bracket those limits.
    static constexpr std::array<double, 12> kBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15};

    mutable std::mutex mutex_;
    std::map<int, std::uint64_t> by_status_;
    std::array<std::uint64_t, kBuckets.size()> in_bucket_{};  // per bucket, not cumulative; summed when rendered
    double sum_seconds_ = 0;
    std::uint64_t count_ = 0;
    std::uint64_t db_errors_ = 0;
    std::uint64_t db_calls_ = 0;
    std::uint64_t db_call_webhooks_ = 0;
    std::uint64_t shed_ = 0;
    std::uint64_t spooled_ = 0, replayed_ = 0, spool_dropped_ = 0;
};

}  // namespace byo::relay
