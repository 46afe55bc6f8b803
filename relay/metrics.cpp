#include "metrics.hpp"

#include <cstdio>

namespace byo::relay {

namespace {

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

}  // namespace

void Metrics::record_request(int status, double seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++by_status_[status];
    ++count_;
    sum_seconds_ += seconds;
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
        if (seconds <= kBuckets[i]) {
            ++in_bucket_[i];
            break;
        }
    }
}

void Metrics::record_db_error() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++db_errors_;
}

void Metrics::record_db_call(std::size_t webhooks) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++db_calls_;
    db_call_webhooks_ += webhooks;
}

void Metrics::record_shed() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++shed_;
}

void Metrics::record_spooled(std::size_t webhooks) {
    std::lock_guard<std::mutex> lock(mutex_);
    spooled_ += webhooks;
}

void Metrics::record_replayed(bool stored) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++(stored ? replayed_ : spool_dropped_);
}

std::string Metrics::render(int pool_in_use, int pool_size, long long spooled) const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string out;
    out.reserve(2048);

    header(out, "byo_twilio_relay_requests_total", "counter", "Webhook requests (/twilio/...) answered, by HTTP status.");
    for (const auto& [status, n] : by_status_)
        out += "byo_twilio_relay_requests_total{status=\"" + std::to_string(status) + "\"} " + std::to_string(n) + '\n';

    const char* hist = "byo_twilio_relay_request_duration_seconds";
    header(out, hist, "histogram", "Webhook request latency, request headers read to response written.");
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
        cumulative += in_bucket_[i];
        out += std::string(hist) + "_bucket{le=\"" + number(kBuckets[i]) + "\"} " + std::to_string(cumulative) + '\n';
    }
    out += std::string(hist) + "_bucket{le=\"+Inf\"} " + std::to_string(count_) + '\n';
    out += std::string(hist) + "_sum " + number(sum_seconds_) + '\n';
    out += std::string(hist) + "_count " + std::to_string(count_) + '\n';

    header(out, "byo_twilio_relay_db_errors_total", "counter", "Database failures (no connection, connect, call).");
    out += "byo_twilio_relay_db_errors_total " + std::to_string(db_errors_) + '\n';
    header(out, "byo_twilio_relay_db_calls_total", "counter",
           "Calls of handle_webhook (one webhook) and handle_webhooks (a batch) made.");
    out += "byo_twilio_relay_db_calls_total " + std::to_string(db_calls_) + '\n';
    header(out, "byo_twilio_relay_db_call_webhooks_total", "counter",
           "Webhooks those calls carried; divided by the calls, the mean batch size.");
    out += "byo_twilio_relay_db_call_webhooks_total " + std::to_string(db_call_webhooks_) + '\n';
    header(out, "byo_twilio_relay_shed_total", "counter",
           "Webhooks answered 503 at once because BYO_TWILIO_QUEUE_MAX were already waiting for the database.");
    out += "byo_twilio_relay_shed_total " + std::to_string(shed_) + '\n';
    if (spooled >= 0) {
        header(out, "byo_twilio_relay_spooled_total", "counter",
               "Webhooks kept in the spool and answered 200 while the database could not be reached.");
        out += "byo_twilio_relay_spooled_total " + std::to_string(spooled_) + '\n';
        header(out, "byo_twilio_relay_spool_replayed_total", "counter",
               "Spooled webhooks the database took (stored) or refused (dropped, e.g. a forged signature).");
        out += "byo_twilio_relay_spool_replayed_total{outcome=\"stored\"} " + std::to_string(replayed_) + '\n';
        out += "byo_twilio_relay_spool_replayed_total{outcome=\"dropped\"} " + std::to_string(spool_dropped_) + '\n';
        header(out, "byo_twilio_relay_spool_webhooks", "gauge", "Webhooks in the spool now, waiting for the database.");
        out += "byo_twilio_relay_spool_webhooks " + std::to_string(spooled) + '\n';
    }
    header(out, "byo_twilio_relay_db_pool_in_use", "gauge", "Database connections leased right now.");
    out += "byo_twilio_relay_db_pool_in_use " + std::to_string(pool_in_use) + '\n';
    header(out, "byo_twilio_relay_db_pool_size", "gauge", "Database connection slots.");
    out += "byo_twilio_relay_db_pool_size " + std::to_string(pool_size) + '\n';
    return out;
}

}  // namespace byo::relay
