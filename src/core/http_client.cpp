#include "core/http_client.hpp"

#include <cctype>
#include <cstring>
#include <mutex>

#include "core/core_error.hpp"

namespace byo {

namespace http_detail {

namespace {

size_t on_body(char* data, size_t size, size_t nmemb, void* userp) noexcept {
    auto* t = static_cast<Transfer*>(userp);
    const size_t n = size * nmemb;
    if (t->out->body.size() + n > t->limit) {
        t->too_large = true;
        return 0;
    }
    try {
        t->out->body.append(data, n);
    } catch (...) {
        return 0;
    }
    return n;
}

bool starts_with_nocase(const char* data, size_t n, const char* prefix) {
    const size_t len = std::strlen(prefix);
    if (n < len) return false;
    for (size_t i = 0; i < len; ++i)
        if (std::tolower(static_cast<unsigned char>(data[i])) != prefix[i]) return false;
    return true;
}

// Retry-After as delta-seconds; the HTTP-date form is ignored (Twilio sends seconds).
long parse_retry_after(const char* p, const char* end) {
    while (p < end && (*p == ' ' || *p == '\t')) ++p;
    long seconds = 0;
    const char* digits = p;
    while (p < end && *p >= '0' && *p <= '9') {
        if (seconds < 86400) seconds = seconds * 10 + (*p - '0');
        ++p;
    }
    if (p == digits) return -1;
    while (p < end && std::isspace(static_cast<unsigned char>(*p))) ++p;
    if (p != end) return -1;
    return (seconds > 86400 ? 86400 : seconds) * 1000;
}

size_t on_header(char* data, size_t size, size_t nmemb, void* userp) noexcept {
    auto* t = static_cast<Transfer*>(userp);
    const size_t n = size * nmemb;
    // A status line starts a new response (after a 100 Continue, say): forget the earlier one's headers.
    if (starts_with_nocase(data, n, "http/")) t->out->retry_after_ms = -1;
    else if (starts_with_nocase(data, n, "retry-after:"))
        t->out->retry_after_ms = parse_retry_after(data + 12, data + n);
    return n;
}

int on_progress(void* userp, curl_off_t, curl_off_t, curl_off_t, curl_off_t) noexcept {
    auto* t = static_cast<Transfer*>(userp);
    if (!t->should_abort) return 0;
    try {
        if (*t->should_abort && (*t->should_abort)()) {
            t->aborted = true;
            return 1;
        }
    } catch (...) {
        t->aborted = true;
        return 1;
    }
    return 0;
}

TransportError classify(CURLcode code) {
    switch (code) {
        case CURLE_OPERATION_TIMEDOUT: return TransportError::Timeout;
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY: return TransportError::Connect;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM: return TransportError::Tls;
        default: return TransportError::Other;
    }
}

// See HttpOutcome::request_sent. Both counters are reset by curl at the start of every transfer.
bool whole_request_written(CURL* easy, const Transfer& t) {
    long request_bytes = 0;
    curl_off_t body_bytes = 0;
    curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &request_bytes);
    curl_easy_getinfo(easy, CURLINFO_SIZE_UPLOAD_T, &body_bytes);
    return request_bytes > 0 && body_bytes >= static_cast<curl_off_t>(t.form_body.size());
}

}  // namespace

void ensure_global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

void prepare_easy(CURL* easy, const HttpRequest& req, const HttpOptions& opt, Transfer& transfer) {
    curl_easy_reset(easy);  // keeps the connection cache: later calls reuse warm connections
    curl_easy_setopt(easy, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!opt.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, opt.ca_file.c_str());
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, opt.connect_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, opt.total_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "byo_twilio/0.1");
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer.errbuf);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &transfer);
    if (!req.basic_user.empty()) {
        curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(easy, CURLOPT_USERNAME, req.basic_user.c_str());
        curl_easy_setopt(easy, CURLOPT_PASSWORD, req.basic_password ? req.basic_password->c_str() : "");
    }
    if (req.method == "POST") {
        // libcurl silently re-sends a request whose reused connection died before any answer (up to 5 times).
        // For a POST that may already have been processed, that would send a message twice: POSTs always go
        // on a connection of their own, so a lost answer surfaces as an ambiguous outcome instead.
        curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
        transfer.form_body = encode_form(req.form);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, transfer.form_body.c_str());
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(transfer.form_body.size()));
    } else if (req.method != "GET") {
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    for (const auto& h : req.headers) transfer.headers = curl_slist_append(transfer.headers, h.c_str());
    transfer.headers = curl_slist_append(transfer.headers, "Accept: application/json");
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, transfer.headers);
}

void finish_easy(CURL* easy, CURLcode rc, const HttpOptions& opt, Transfer& transfer) {
    HttpOutcome& out = *transfer.out;
    out.request_sent = whole_request_written(easy, transfer);
    if (transfer.aborted) {
        out.error = TransportError::Aborted;
        out.error_text = "transfer stopped by an interrupt";
    } else if (transfer.too_large) {
        out.error = TransportError::TooLarge;
        out.error_text = "response larger than " + std::to_string(opt.max_response_bytes) + " bytes";
    } else if (rc != CURLE_OK) {
        out.error = classify(rc);
        out.error_text = transfer.errbuf[0] ? transfer.errbuf : curl_easy_strerror(rc);
    } else {
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &out.status);
        char* ct = nullptr;
        curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ct);
        if (ct) out.content_type = ct;
        char* redirect = nullptr;
        curl_easy_getinfo(easy, CURLINFO_REDIRECT_URL, &redirect);
        if (redirect) out.location = redirect;
    }
    // The password copy and the pointers into `transfer` must not outlive the transfer inside curl's handle.
    curl_easy_reset(easy);
}

}  // namespace http_detail

HttpClient::HttpClient() {
    // Runs on first use inside a backend or worker, never in the postmaster.
    http_detail::ensure_global_init();
    easy_ = curl_easy_init();
    if (!easy_) throw CoreError(sqlstate::internal_error, "could not initialise libcurl");
}

HttpClient::~HttpClient() { curl_easy_cleanup(easy_); }

HttpOutcome HttpClient::perform(const HttpRequest& req, const HttpOptions& opt) {
    HttpOutcome out;
    http_detail::Transfer transfer(out, opt.max_response_bytes, &opt.should_abort);
    http_detail::prepare_easy(easy_, req, opt, transfer);
    CURLcode rc = curl_easy_perform(easy_);
    http_detail::finish_easy(easy_, rc, opt, transfer);
    return out;
}

}  // namespace byo
