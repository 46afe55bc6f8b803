// Many HTTP requests at once over one libcurl multi handle, for the outbound dispatcher's batches. The multi
// handle keeps its connection cache and the easy handles are pooled between batches, so TLS connections to
// Twilio stay warm from one batch to the next. Curl callbacks never throw; every wait is bounded.
#pragma once
#include <curl/curl.h>

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

    // Not during perform_all. Shrinking closes the extra easy handles; cached connections stay.
    void set_max_concurrency(int max_concurrency);
    int max_concurrency() const { return static_cast<int>(easy_.size()); }

private:
    CURLM* multi_;
    std::vector<CURL*> easy_;  // one per concurrent slot, idle between batches
};

}  // namespace byo
