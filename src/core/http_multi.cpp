#include "core/http_multi.hpp"

#include <memory>

#include "core/core_error.hpp"

namespace byo {

namespace {

// How long one wait for socket activity may last, so the abort check runs even when nothing happens.
constexpr int kPollMs = 50;

struct Slot {
    CURL* easy = nullptr;
    std::unique_ptr<http_detail::Transfer> transfer;  // set while the slot's handle is in the multi handle
};

bool abort_requested(const HttpOptions& opt) noexcept {
    try {
        return opt.should_abort && opt.should_abort();
    } catch (...) {
        return true;  // an abort check that fails cannot let the batch run on unchecked
    }
}

}  // namespace

HttpMulti::HttpMulti(int max_concurrency) {
    http_detail::ensure_global_init();
    multi_ = curl_multi_init();
    if (!multi_) throw CoreError(sqlstate::internal_error, "could not initialise a libcurl multi handle");
    try {
        set_max_concurrency(max_concurrency);
    } catch (...) {
        for (CURL* e : easy_) curl_easy_cleanup(e);
        curl_multi_cleanup(multi_);
        throw;
    }
}

// A transfer started by start(): its outcome and options live here, at one address, until it finishes.
struct HttpMulti::Live {
    std::uint64_t tag = 0;
    HttpOutcome outcome;
    HttpOptions options;
    std::unique_ptr<http_detail::Transfer> transfer;
};

HttpMulti::~HttpMulti() {
    for (std::size_t i = 0; i < live_.size(); ++i)
        if (live_[i]) curl_multi_remove_handle(multi_, easy_[i]);
    // No easy handle is attached now; the multi handle goes first as libcurl documents.
    curl_multi_cleanup(multi_);
    for (CURL* e : easy_) curl_easy_cleanup(e);
}

void HttpMulti::set_max_concurrency(int max_concurrency) {
    const std::size_t n = max_concurrency < 1 ? 1 : static_cast<std::size_t>(max_concurrency);
    easy_.reserve(n);
    while (easy_.size() < n) {
        CURL* e = curl_easy_init();
        if (!e) throw CoreError(sqlstate::internal_error, "could not initialise libcurl");
        easy_.push_back(e);
    }
    while (easy_.size() > n) {
        curl_easy_cleanup(easy_.back());
        easy_.pop_back();
    }
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(n));
    // Room for a full set of connections to each Twilio host (api, conversations, messaging). Without it the
    // cache shrinks with the number of attached handles and closes warm connections at the end of a batch.
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(n) * 3);
    live_.resize(n);
}

std::size_t HttpMulti::in_flight() const {
    std::size_t n = 0;
    for (const auto& l : live_)
        if (l) ++n;
    return n;
}

bool HttpMulti::start(std::uint64_t tag, const HttpRequest& request, const HttpOptions& options) {
    std::size_t slot = 0;
    while (slot < live_.size() && live_[slot]) ++slot;
    if (slot == live_.size()) return false;
    auto live = std::make_unique<Live>();
    live->tag = tag;
    live->options = options;
    live->options.should_abort = nullptr;  // the caller checks between collect() calls
    live->transfer = std::make_unique<http_detail::Transfer>(live->outcome, options.max_response_bytes, nullptr);
    http_detail::prepare_easy(easy_[slot], request, live->options, *live->transfer);
    CURLMcode mc = curl_multi_add_handle(multi_, easy_[slot]);
    if (mc != CURLM_OK) {
        live->outcome.error = TransportError::Other;
        live->outcome.error_text = std::string("not started: ") + curl_multi_strerror(mc);
        curl_easy_reset(easy_[slot]);
        refused_.push_back(Finished{tag, std::move(live->outcome)});
        return true;
    }
    live_[slot] = std::move(live);
    return true;
}

void HttpMulti::end_live(std::size_t slot, CURLcode rc, std::vector<Finished>& into) {
    Live& l = *live_[slot];
    curl_multi_remove_handle(multi_, easy_[slot]);
    http_detail::finish_easy(easy_[slot], rc, l.options, *l.transfer);
    into.push_back(Finished{l.tag, std::move(l.outcome)});
    live_[slot].reset();
}

std::vector<HttpMulti::Finished> HttpMulti::collect(int wait_ms) {
    std::vector<Finished> done = std::move(refused_);
    refused_.clear();
    if (in_flight() == 0) return done;
    std::string failure;
    for (int round = 0; round < 2; ++round) {  // perform; if nothing finished, wait once and perform again
        int running = 0;
        CURLMcode mc = curl_multi_perform(multi_, &running);
        if (mc != CURLM_OK) {
            failure = curl_multi_strerror(mc);
            break;
        }
        int left = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
            if (msg->msg != CURLMSG_DONE) continue;
            CURL* easy = msg->easy_handle;
            const CURLcode rc = msg->data.result;  // msg dies with the handle's removal
            for (std::size_t i = 0; i < easy_.size(); ++i)
                if (live_[i] && easy_[i] == easy) {
                    end_live(i, rc, done);
                    break;
                }
        }
        if (!done.empty() || in_flight() == 0 || round == 1) break;
        mc = curl_multi_poll(multi_, nullptr, 0, wait_ms, nullptr);
        if (mc != CURLM_OK) {
            failure = curl_multi_strerror(mc);
            break;
        }
    }
    if (!failure.empty())
        for (std::size_t i = 0; i < live_.size(); ++i)
            if (live_[i]) {
                live_[i]->transfer->aborted = false;
                end_live(i, CURLE_ABORTED_BY_CALLBACK, done);
                done.back().outcome.error = TransportError::Other;
                done.back().outcome.error_text = "libcurl multi handle failed: " + failure;
            }
    return done;
}

std::vector<HttpMulti::Finished> HttpMulti::abort_all() {
    std::vector<Finished> done = std::move(refused_);
    refused_.clear();
    for (std::size_t i = 0; i < live_.size(); ++i)
        if (live_[i]) {
            live_[i]->transfer->aborted = true;
            end_live(i, CURLE_ABORTED_BY_CALLBACK, done);
        }
    return done;
}

std::vector<HttpOutcome> HttpMulti::perform_all(const std::vector<HttpRequest>& requests, const HttpOptions& opt) {
    std::vector<HttpOutcome> out(requests.size());
    std::vector<Slot> slots(easy_.size());
    for (std::size_t i = 0; i < slots.size(); ++i) slots[i].easy = easy_[i];
    std::size_t next = 0;
    std::size_t in_flight = 0;
    bool stopped = false;
    std::string multi_failure;

    auto detach = [&](Slot& s, CURLcode rc) {
        curl_multi_remove_handle(multi_, s.easy);
        http_detail::finish_easy(s.easy, rc, opt, *s.transfer);
        s.transfer.reset();
        --in_flight;
    };

    try {
        while (!stopped && multi_failure.empty()) {
            if (abort_requested(opt)) {
                stopped = true;
                break;
            }
            for (Slot& s : slots) {
                if (next >= requests.size()) break;
                if (s.transfer) continue;
                // Nothing to read back for the check itself: the loop above polls it.
                s.transfer = std::make_unique<http_detail::Transfer>(out[next], opt.max_response_bytes, nullptr);
                http_detail::prepare_easy(s.easy, requests[next], opt, *s.transfer);
                CURLMcode mc = curl_multi_add_handle(multi_, s.easy);
                if (mc != CURLM_OK) {
                    out[next].error = TransportError::Other;
                    out[next].error_text = curl_multi_strerror(mc);
                    curl_easy_reset(s.easy);
                    s.transfer.reset();
                    multi_failure = out[next++].error_text;
                    break;
                }
                ++next;
                ++in_flight;
            }
            if (in_flight == 0 || !multi_failure.empty()) break;

            int running = 0;
            CURLMcode mc = curl_multi_perform(multi_, &running);
            bool freed = false;
            int left = 0;
            while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
                if (msg->msg != CURLMSG_DONE) continue;
                CURL* done = msg->easy_handle;
                const CURLcode rc = msg->data.result;  // msg dies with the handle's removal
                for (Slot& s : slots)
                    if (s.transfer && s.easy == done) {
                        detach(s, rc);
                        freed = true;
                        break;
                    }
            }
            if (mc == CURLM_OK && in_flight > 0 && !(freed && next < requests.size()))
                mc = curl_multi_poll(multi_, nullptr, 0, kPollMs, nullptr);
            if (mc != CURLM_OK) multi_failure = curl_multi_strerror(mc);
        }
    } catch (...) {
        for (Slot& s : slots)
            if (s.transfer) {
                curl_multi_remove_handle(multi_, s.easy);
                curl_easy_reset(s.easy);
                s.transfer.reset();
            }
        throw;
    }

    // What is still in flight or never started ends here, as Aborted or, after a multi failure, Other.
    for (Slot& s : slots) {
        if (!s.transfer) continue;
        HttpOutcome& o = *s.transfer->out;
        s.transfer->aborted = stopped;
        detach(s, CURLE_ABORTED_BY_CALLBACK);
        if (!stopped) {
            o.error = TransportError::Other;
            o.error_text = "libcurl multi handle failed: " + multi_failure;
        }
    }
    for (; next < requests.size(); ++next) {
        out[next].error = stopped ? TransportError::Aborted : TransportError::Other;
        out[next].error_text =
            stopped ? "transfer stopped by an interrupt" : "not started: libcurl multi handle failed: " + multi_failure;
    }
    return out;
}

}  // namespace byo
