#include "jwks_url.hpp"

#include <curl/curl.h>

#include "json_log.hpp"

namespace byo::relay::api {

namespace {

constexpr std::size_t kMaxBody = 1024 * 1024;  // Supabase's JWKS is a few KiB; more is no key set of ours

struct Body {
    std::string text;
    bool too_big = false;
};

std::size_t append(char* data, std::size_t size, std::size_t n, void* user) {
    auto* body = static_cast<Body*>(user);
    if (body->text.size() + size * n > kMaxBody) {
        body->too_big = true;
        return 0;  // curl stops with CURLE_WRITE_ERROR
    }
    body->text.append(data, size * n);
    return size * n;
}

// GETs `url` over HTTPS with TLS verified. True with the body; false with a message that names no URL, key or
// header (curl's fixed error texts and the HTTP status only).
bool https_get(const JwksUrlSettings& s, std::string& body_out, std::string& error) {
    static std::once_flag curl_ready;
    std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) {
        error = "cannot start a fetch";
        return false;
    }
    Body body;
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, s.url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!s.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, s.ca_file.c_str());
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM from a background thread
    curl_easy_setopt(c, CURLOPT_USERAGENT, "byo-twilio-relay");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    const CURLcode rc = curl_easy_perform(c);
    if (body.too_big) {
        error = "JWKS response is over 1 MiB";
        return false;
    }
    if (rc != CURLE_OK) {
        error = curl_easy_strerror(rc);
        return false;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        error = "JWKS URL answered HTTP " + std::to_string(status);
        return false;
    }
    body_out = std::move(body.text);
    return true;
}

}  // namespace

JwksUrl::JwksUrl(JwksUrlSettings settings) : settings_(std::move(settings)), policy_(settings_.refresh) {
    auto secret_only = std::make_shared<JwtKeys>();
    std::string error;
    secret_only->load(settings_.hs256_secret, "", error);
    keys_ = std::move(secret_only);
    fetch("start");
    thread_ = std::thread([this] { run(); });
}

JwksUrl::~JwksUrl() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const JwtKeys> JwksUrl::current() {
    std::lock_guard<std::mutex> lock(mutex_);
    return keys_;
}

void JwksUrl::unknown_kid() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!policy_.unknown_kid(JwksRefreshPolicy::Clock::now())) return;
        early_ = true;
    }
    wake_.notify_all();
}

void JwksUrl::run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
        wake_.wait_until(lock, policy_.next_due(), [this] { return stop_ || early_; });
        if (stop_) break;
        const bool early = early_;
        if (!early && JwksRefreshPolicy::Clock::now() < policy_.next_due()) continue;
        early_ = false;
        lock.unlock();
        fetch(early ? "unknown_kid" : "schedule");
        lock.lock();
    }
}

void JwksUrl::fetch(const char* trigger) {
    std::string text, error;
    auto keys = std::make_shared<JwtKeys>();
    const bool ok = https_get(settings_, text, error) && keys->load(settings_.hs256_secret, text, error);
    std::lock_guard<std::mutex> lock(mutex_);
    policy_.fetched(JwksRefreshPolicy::Clock::now());
    if (!ok) {
        log_event("jwks_error", {{"source", "url"}, {"trigger", trigger}, {"message", error}, {"kept", "previous keys"}});
        return;
    }
    log_event("jwks_loaded", {{"source", "url"}, {"trigger", trigger}, {"keys", keys->public_key_count()},
                              {"skipped", keys->skipped()}});
    keys_ = std::move(keys);
}

}  // namespace byo::relay::api
