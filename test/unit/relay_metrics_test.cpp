// The relay's /metrics text: requests by status, the latency histogram (cumulative buckets, +Inf, sum, count),
// the database error counter and the pool gauges, in the Prometheus text exposition format.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "relay/metrics.hpp"

using byo::relay::Metrics;

namespace {

const char* const kHist = "byo_twilio_relay_request_duration_seconds";
const std::vector<std::string> kLe = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                      "0.5",   "1",    "2.5",   "5",    "10",  "15"};

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// "name{labels}" -> value, for every sample line.
std::map<std::string, std::string> samples(const std::string& text) {
    std::map<std::string, std::string> out;
    for (const std::string& line : lines_of(text)) {
        if (line.empty() || line[0] == '#') continue;
        const auto space = line.rfind(' ');
        out[line.substr(0, space)] = line.substr(space + 1);
    }
    return out;
}

std::string bucket(const std::string& le) { return std::string(kHist) + "_bucket{le=\"" + le + "\"}"; }

// The value of sample `key`; fails the test when it is missing.
std::string value(const std::map<std::string, std::string>& s, const std::string& key) {
    auto it = s.find(key);
    if (it == s.end()) {
        ADD_FAILURE() << "missing sample " << key;
        return "";
    }
    return it->second;
}

}  // namespace

TEST(RelayMetrics, TextFormatIsWellFormed) {
    Metrics m;
    m.record_request(200, 0.003);
    m.record_request(503, 4.2);
    m.record_db_error();
    const std::string text = m.render(1, 8);

    ASSERT_FALSE(text.empty());
    EXPECT_EQ(text.back(), '\n');
    const std::regex sample(R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"\})? [-+0-9.eE]+$)");
    const std::regex help(R"(^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* \S.*$)");
    const std::regex type(R"(^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram)$)");
    std::map<std::string, std::string> declared;  // family -> type
    for (const std::string& line : lines_of(text)) {
        if (line.rfind("# HELP ", 0) == 0) {
            EXPECT_TRUE(std::regex_match(line, help)) << line;
        } else if (line.rfind("# TYPE ", 0) == 0) {
            EXPECT_TRUE(std::regex_match(line, type)) << line;
            std::istringstream in(line.substr(7));
            std::string name, t;
            in >> name >> t;
            EXPECT_EQ(declared.count(name), 0u) << "declared twice: " << name;
            declared[name] = t;
        } else {
            EXPECT_TRUE(std::regex_match(line, sample)) << line;
            // Every sample belongs to a family already declared (histogram samples by their base name).
            std::string name = line.substr(0, line.find_first_of("{ "));
            for (const char* suffix : {"_bucket", "_sum", "_count"}) {
                const std::string s(suffix);
                if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0 &&
                    declared.count(name.substr(0, name.size() - s.size())) != 0 &&
                    declared[name.substr(0, name.size() - s.size())] == "histogram")
                    name = name.substr(0, name.size() - s.size());
            }
            EXPECT_EQ(declared.count(name), 1u) << "sample before its TYPE: " << line;
        }
    }
    EXPECT_EQ(declared["byo_twilio_relay_requests_total"], "counter");
    EXPECT_EQ(declared[kHist], "histogram");
    EXPECT_EQ(declared["byo_twilio_relay_db_errors_total"], "counter");
    EXPECT_EQ(declared["byo_twilio_relay_db_pool_in_use"], "gauge");
    EXPECT_EQ(declared["byo_twilio_relay_db_pool_size"], "gauge");
}

TEST(RelayMetrics, EmptyMetricsRenderZeros) {
    const Metrics m;
    const auto s = samples(m.render(0, 0));
    for (const auto& le : kLe) EXPECT_EQ(value(s, bucket(le)), "0") << le;
    EXPECT_EQ(value(s, bucket("+Inf")), "0");
    EXPECT_EQ(value(s, std::string(kHist) + "_sum"), "0");
    EXPECT_EQ(value(s, std::string(kHist) + "_count"), "0");
    EXPECT_EQ(value(s, "byo_twilio_relay_db_errors_total"), "0");
    EXPECT_EQ(value(s, "byo_twilio_relay_db_pool_in_use"), "0");
    EXPECT_EQ(value(s, "byo_twilio_relay_db_pool_size"), "0");
    // No request yet: the counter family is declared but has no status samples.
    for (const auto& [key, v] : s) EXPECT_NE(key.rfind("byo_twilio_relay_requests_total{", 0), 0u) << key;
}

TEST(RelayMetrics, RequestsAreCountedByStatus) {
    Metrics m;
    for (int i = 0; i < 3; ++i) m.record_request(200, 0.01);
    m.record_request(503, 0.01);
    m.record_request(503, 0.01);
    m.record_request(413, 0.0);
    m.record_request(204, 0.0);
    const std::string text = m.render(0, 8);
    const auto s = samples(text);
    EXPECT_EQ(value(s, "byo_twilio_relay_requests_total{status=\"200\"}"), "3");
    EXPECT_EQ(value(s, "byo_twilio_relay_requests_total{status=\"204\"}"), "1");
    EXPECT_EQ(value(s, "byo_twilio_relay_requests_total{status=\"413\"}"), "1");
    EXPECT_EQ(value(s, "byo_twilio_relay_requests_total{status=\"503\"}"), "2");
    EXPECT_EQ(s.count("byo_twilio_relay_requests_total{status=\"404\"}"), 0u);
    // Statuses come out in ascending order.
    const auto p200 = text.find("{status=\"200\"}"), p204 = text.find("{status=\"204\"}");
    const auto p413 = text.find("{status=\"413\"}"), p503 = text.find("{status=\"503\"}");
    EXPECT_LT(p200, p204);
    EXPECT_LT(p204, p413);
    EXPECT_LT(p413, p503);
}

TEST(RelayMetrics, HistogramBucketsAreCumulativeWithInclusiveUpperBounds) {
    Metrics m;
    m.record_request(200, 0.001);   // le 0.005
    m.record_request(200, 0.005);   // exactly on a bound: counts in that bucket
    m.record_request(200, 0.007);   // le 0.01
    m.record_request(200, 0.3);     // le 0.5
    m.record_request(200, 1.0);     // le 1
    m.record_request(200, 4.9);     // le 5
    m.record_request(200, 15.0);    // le 15
    m.record_request(200, 20.0);    // only +Inf
    m.record_request(200, 3600.0);  // only +Inf
    const auto s = samples(m.render(0, 8));
    const std::map<std::string, std::string> expected = {
        {"0.005", "2"}, {"0.01", "3"}, {"0.025", "3"}, {"0.05", "3"}, {"0.1", "3"}, {"0.25", "3"},
        {"0.5", "4"},   {"1", "5"},    {"2.5", "5"},   {"5", "6"},    {"10", "6"},  {"15", "7"}};
    for (const auto& le : kLe) EXPECT_EQ(value(s, bucket(le)), expected.at(le)) << "le=" << le;
    EXPECT_EQ(value(s, bucket("+Inf")), "9");
    EXPECT_EQ(value(s, std::string(kHist) + "_count"), "9");
    EXPECT_NEAR(std::stod(value(s, std::string(kHist) + "_sum")),
                0.001 + 0.005 + 0.007 + 0.3 + 1.0 + 4.9 + 15.0 + 20.0 + 3600.0, 1e-6);
}

TEST(RelayMetrics, BucketsAreInOrderAndEndWithInf) {
    Metrics m;
    m.record_request(200, 0.02);
    std::vector<std::string> les;
    const std::string prefix = std::string(kHist) + "_bucket{le=\"";
    for (const std::string& line : lines_of(m.render(0, 1)))
        if (line.rfind(prefix, 0) == 0) les.push_back(line.substr(prefix.size(), line.find('"', prefix.size()) - prefix.size()));
    std::vector<std::string> want = kLe;
    want.push_back("+Inf");
    EXPECT_EQ(les, want);
}

TEST(RelayMetrics, SumKeepsSubMillisecondPrecision) {
    Metrics m;
    m.record_request(200, 0.000123);
    m.record_request(200, 0.000456);
    const auto s = samples(m.render(0, 1));
    EXPECT_EQ(value(s, std::string(kHist) + "_sum"), "0.000579");
    EXPECT_EQ(value(s, std::string(kHist) + "_count"), "2");
}

TEST(RelayMetrics, DbErrorsAndGauges) {
    Metrics m;
    m.record_db_error();
    m.record_db_error();
    m.record_db_error();
    auto s = samples(m.render(5, 8));
    EXPECT_EQ(value(s, "byo_twilio_relay_db_errors_total"), "3");
    EXPECT_EQ(value(s, "byo_twilio_relay_db_pool_in_use"), "5");
    EXPECT_EQ(value(s, "byo_twilio_relay_db_pool_size"), "8");
    // Gauges are whatever the caller reads from the pool at scrape time, not remembered.
    s = samples(m.render(0, 16));
    EXPECT_EQ(value(s, "byo_twilio_relay_db_pool_in_use"), "0");
    EXPECT_EQ(value(s, "byo_twilio_relay_db_pool_size"), "16");
    // Database errors are not requests.
    EXPECT_EQ(value(s, std::string(kHist) + "_count"), "0");
}

TEST(RelayMetrics, ShedWebhooksAreCountedApartFromDbErrors) {
    Metrics m;
    EXPECT_EQ(value(samples(m.render(0, 1)), "byo_twilio_relay_shed_total"), "0");
    m.record_shed();
    m.record_shed();
    const auto s = samples(m.render(0, 1));
    EXPECT_EQ(value(s, "byo_twilio_relay_shed_total"), "2");
    EXPECT_EQ(value(s, "byo_twilio_relay_db_errors_total"), "0");
}

TEST(RelayMetrics, RenderingDoesNotReset) {
    Metrics m;
    m.record_request(200, 0.1);
    m.render(0, 1);
    m.record_request(200, 0.1);
    const auto s = samples(m.render(0, 1));
    EXPECT_EQ(value(s, "byo_twilio_relay_requests_total{status=\"200\"}"), "2");
    EXPECT_EQ(value(s, std::string(kHist) + "_count"), "2");
}

TEST(RelayMetrics, ConcurrentRecordingLosesNothing) {
    Metrics m;
    constexpr int kThreads = 8, kEach = 2000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&m, t] {
            for (int i = 0; i < kEach; ++i) {
                m.record_request(t % 2 ? 503 : 200, 0.002);
                if (i % 10 == 0) m.record_db_error();
                if (i % 100 == 0) m.render(1, 2);
            }
        });
    for (auto& th : threads) th.join();
    const auto s = samples(m.render(0, 8));
    const std::string half = std::to_string(kThreads / 2 * kEach);
    EXPECT_EQ(value(s, "byo_twilio_relay_requests_total{status=\"200\"}"), half);
    EXPECT_EQ(value(s, "byo_twilio_relay_requests_total{status=\"503\"}"), half);
    EXPECT_EQ(value(s, bucket("0.005")), std::to_string(kThreads * kEach));
    EXPECT_EQ(value(s, bucket("+Inf")), std::to_string(kThreads * kEach));
    EXPECT_EQ(value(s, std::string(kHist) + "_count"), std::to_string(kThreads * kEach));
    EXPECT_EQ(value(s, "byo_twilio_relay_db_errors_total"), std::to_string(kThreads * (kEach / 10)));
}

TEST(RelayMetrics, SpoolCountersOnlyWithASpool) {
    Metrics m;
    m.record_spooled(3);
    m.record_replayed(true);
    m.record_replayed(true);
    m.record_replayed(false);
    EXPECT_EQ(m.render(0, 1).find("spool"), std::string::npos);
    const auto s = samples(m.render(0, 1, 1));
    EXPECT_EQ(value(s, "byo_twilio_relay_spooled_total"), "3");
    EXPECT_EQ(value(s, "byo_twilio_relay_spool_replayed_total{outcome=\"stored\"}"), "2");
    EXPECT_EQ(value(s, "byo_twilio_relay_spool_replayed_total{outcome=\"dropped\"}"), "1");
    EXPECT_EQ(value(s, "byo_twilio_relay_spool_webhooks"), "1");
}
