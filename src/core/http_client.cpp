#include "core/http_client.hpp"

#include <mutex>

#include "core/core_error.hpp"

namespace byo {

namespace {

struct Transfer {
    std::string* body;
    std::size_t limit;
    bool too_large = false;
    const std::function<bool()>* should_abort;
    bool aborted = false;
};

size_t on_body(char* data, size_t size, size_t nmemb, void* userp) noexcept {
    auto* t = static_cast<Transfer*>(userp);
    const size_t n = size * nmemb;
    if (t->body->size() + n > t->limit) {
        t->too_large = true;
        return 0;
    }
    try {
        t->body->append(data, n);
    } catch (...) {
        return 0;
    }
    return n;
}

int on_progress(void* userp, curl_off_t, curl_off_t, curl_off_t, curl_off_t) noexcept {
    auto* t = static_cast<Transfer*>(userp);
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

}  // namespace

HttpClient::HttpClient() {
    // Runs on first use inside a backend or worker, never in the postmaster.
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    easy_ = curl_easy_init();
    if (!easy_) throw CoreError(sqlstate::internal_error, "could not initialise libcurl");
}

HttpClient::~HttpClient() { curl_easy_cleanup(easy_); }

HttpOutcome HttpClient::perform(const HttpRequest& req, const HttpOptions& opt) {
    HttpOutcome out;
    Transfer transfer{&out.body, opt.max_response_bytes, false, &opt.should_abort, false};
    char errbuf[CURL_ERROR_SIZE] = {0};
    std::string form_body;

    curl_easy_reset(easy_);  // keeps the connection cache: later calls reuse warm connections
    curl_easy_setopt(easy_, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy_, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy_, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy_, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy_, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!opt.ca_file.empty()) curl_easy_setopt(easy_, CURLOPT_CAINFO, opt.ca_file.c_str());
    curl_easy_setopt(easy_, CURLOPT_CONNECTTIMEOUT_MS, opt.connect_timeout_ms);
    curl_easy_setopt(easy_, CURLOPT_TIMEOUT_MS, opt.total_timeout_ms);
    curl_easy_setopt(easy_, CURLOPT_USERAGENT, "byo_twilio/0.1");
    curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy_, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(easy_, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(easy_, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(easy_, CURLOPT_XFERINFODATA, &transfer);
    if (!req.basic_user.empty()) {
        curl_easy_setopt(easy_, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(easy_, CURLOPT_USERNAME, req.basic_user.c_str());
        curl_easy_setopt(easy_, CURLOPT_PASSWORD, req.basic_password ? req.basic_password->c_str() : "");
    }
    if (req.method == "POST") {
        form_body = encode_form(req.form);
        curl_easy_setopt(easy_, CURLOPT_POSTFIELDS, form_body.c_str());
        curl_easy_setopt(easy_, CURLOPT_POSTFIELDSIZE, static_cast<long>(form_body.size()));
    } else if (req.method != "GET") {
        curl_easy_setopt(easy_, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    curl_slist* headers = nullptr;
    for (const auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());
    headers = curl_slist_append(headers, "Accept: application/json");
    curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, headers);

    CURLcode rc = curl_easy_perform(easy_);
    curl_slist_free_all(headers);
    // The password pointer must not outlive this call inside curl's handle.
    curl_easy_setopt(easy_, CURLOPT_PASSWORD, "");

    if (transfer.aborted) {
        out.error = TransportError::Aborted;
        out.error_text = "transfer stopped by an interrupt";
    } else if (transfer.too_large) {
        out.error = TransportError::TooLarge;
        out.error_text = "response larger than " + std::to_string(opt.max_response_bytes) + " bytes";
    } else if (rc != CURLE_OK) {
        out.error = classify(rc);
        out.error_text = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    } else {
        curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &out.status);
        char* ct = nullptr;
        curl_easy_getinfo(easy_, CURLINFO_CONTENT_TYPE, &ct);
        if (ct) out.content_type = ct;
    }
    return out;
}

}  // namespace byo
