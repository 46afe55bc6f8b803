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
    std::string body;
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

}  // namespace byo
