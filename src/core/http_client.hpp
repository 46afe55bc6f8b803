// A libcurl client that keeps its connection cache between calls (one per backend), with bounded waits and an
// abort check polled during transfers. It never throws from curl callbacks.
#pragma once
#include <curl/curl.h>

#include <functional>
#include <string>
#include <vector>

#include "core/form.hpp"
#include "core/secret.hpp"

namespace byo {

struct HttpRequest {
    std::string method = "GET";
    std::string url;
    std::string basic_user;
    const Secret* basic_password = nullptr;
    FormParams form;  // sent as an x-www-form-urlencoded body when non-empty
    std::vector<std::string> headers;
};

struct HttpOptions {
    long connect_timeout_ms = 5000;
    long total_timeout_ms = 15000;
    std::string ca_file;                // empty: the system CA store
    std::function<bool()> should_abort; // polled while waiting; true stops the transfer
    std::size_t max_response_bytes = 1 << 20;
};

enum class TransportError { None, Timeout, Connect, Tls, Aborted, TooLarge, Other };

struct HttpOutcome {
    TransportError error = TransportError::None;
    std::string error_text;  // libcurl's description; never contains credentials
    long status = 0;
    std::string content_type;
    std::string location;  // where a 3xx answer points (absolute; redirects are never followed)
    std::string body;
    // The whole request was written to the connection before the outcome: at least one request byte and every
    // body byte (CURLINFO_REQUEST_SIZE > 0 and CURLINFO_SIZE_UPLOAD_T >= body length). False means the server
    // cannot have acted on it (no connection, TLS failure, or the request cut short); true with an error means it
    // may have. Written is not received (a peer that closed first looks the same), so doubt leans to true. A GET's
    // header block could in theory be cut short and still count: reads are safe to repeat.
    bool request_sent = false;
    long retry_after_ms = -1;  // Retry-After in seconds (capped at a day) times 1000; -1 when absent or a date
};

class HttpClient {
public:
    HttpClient();
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    HttpOutcome perform(const HttpRequest& request, const HttpOptions& options);

private:
    CURL* easy_;
};

// Easy-handle plumbing shared by HttpClient and HttpMulti; not meant for other callers.
namespace http_detail {

// What curl's callbacks write into during one transfer. It must stay at one address until finish_easy.
struct Transfer {
    Transfer(HttpOutcome& outcome, std::size_t limit, const std::function<bool()>* should_abort)
        : out(&outcome), limit(limit), should_abort(should_abort) {}
    ~Transfer() { curl_slist_free_all(headers); }
    Transfer(const Transfer&) = delete;
    Transfer& operator=(const Transfer&) = delete;

    HttpOutcome* out;
    std::size_t limit;
    const std::function<bool()>* should_abort;  // null: the caller polls the abort check itself
    bool too_large = false;
    bool aborted = false;
    std::string form_body;  // curl reads the POST body from here, not from a copy
    curl_slist* headers = nullptr;
    char errbuf[CURL_ERROR_SIZE] = {0};
};

// curl_global_init, once per process, on first use (after fork: never in the postmaster).
void ensure_global_init();

// Resets the handle (keeping its connections) and sets every option for one request.
void prepare_easy(CURL* easy, const HttpRequest& request, const HttpOptions& options, Transfer& transfer);

// Fills the outcome from curl's result code and the handle's info, then resets the handle so it keeps no
// password and no pointer into `transfer`.
void finish_easy(CURL* easy, CURLcode rc, const HttpOptions& options, Transfer& transfer);

}  // namespace http_detail

}  // namespace byo
