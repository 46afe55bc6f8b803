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

HttpMulti::~HttpMulti() {
    // No easy handle is attached between batches; the multi handle goes first as libcurl documents.
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
