// Many HTTP requests at once over one libcurl multi handle, for the outbound dispatcher's batches. The multi
// handle keeps its connection cache and the easy handles are pooled between batches, so TLS connections to
// Twilio stay warm from one batch to the next. Curl callbacks never throw; every wait is bounded.
#pragma once
#include <curl/curl.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "core/http_client.hpp"

namespace byo {

class HttpMulti {
public:
    // max_concurrency below 1 counts as 1. Throws CoreError (XX000) when libcurl cannot create its handles.
    explicit HttpMulti(int max_concurrency);
    ~HttpMulti();
    HttpMulti(const HttpMulti&) = delete;
    HttpMulti& operator=(const HttpMulti&) = delete;

    // Runs every request, at most max_concurrency in flight (and as many connections per host), each with the
    // options' connect and total timeouts; returns the outcomes in request order. options.should_abort is polled
    // at least every 50 ms; once it answers true (or throws), transfers in flight are stopped and, like those not
    // started yet, come back as TransportError::Aborted, with request_sent telling whether each was written.
    // Outcomes already complete are kept. A failure of the multi handle itself ends the batch the same way with
    // TransportError::Other. Throws only on allocation failure, and then some requests may have been sent.
    std::vector<HttpOutcome> perform_all(const std::vector<HttpRequest>& requests, const HttpOptions& options);

    // Not during perform_all, nor while started transfers are in flight. Shrinking closes the extra easy handles;
    // cached connections stay.
    void set_max_concurrency(int max_concurrency);
    int max_concurrency() const { return static_cast<int>(easy_.size()); }

    // Continuous use (the dispatcher's pipeline): start() puts a request in a free slot at once, collect() drives
    // the transfers and hands back those that finished, so a slot freed by a fast answer is reused without
    // waiting for the slow ones. Not mixed with perform_all. `tag` is the caller's name for the request.
    struct Finished {
        std::uint64_t tag;
        HttpOutcome outcome;
    };
    std::size_t in_flight() const;
    std::size_t free_slots() const { return easy_.size() - in_flight(); }
    // False when every slot is busy. A request libcurl refuses to start comes back from the next collect() with
    // TransportError::Other. Throws only on allocation failure (then nothing was started).
    bool start(std::uint64_t tag, const HttpRequest& request, const HttpOptions& options);
    // Drives every transfer, waiting up to wait_ms for socket activity when none has finished; returns the
    // finished ones. A failure of the multi handle ends every transfer in flight with TransportError::Other.
    std::vector<Finished> collect(int wait_ms);
    // Stops every transfer in flight; they come back as TransportError::Aborted (request_sent says whether each
    // was written).
    std::vector<Finished> abort_all();

private:
    struct Live;
    void end_live(std::size_t slot, CURLcode rc, std::vector<Finished>& into);

    CURLM* multi_;
    std::vector<CURL*> easy_;  // one per concurrent slot, idle between batches
    std::vector<std::unique_ptr<Live>> live_;  // per slot: the started transfer, or null
    std::vector<Finished> refused_;            // started but refused by libcurl: reported by the next collect()
};

}  // namespace byo
