#include "public_url_check.hpp"

#include "json_log.hpp"

namespace byo::relay {

namespace {

std::string_view without_trailing_slashes(std::string_view v) {
    while (!v.empty() && v.back() == '/') v.remove_suffix(1);
    return v;
}

}  // namespace

std::optional<std::string> public_url_mismatch(std::string_view public_url,
                                               const std::optional<std::string>& db_base_url) {
    const std::string relay(without_trailing_slashes(public_url));
    if (!db_base_url || without_trailing_slashes(*db_base_url).empty())
        return "byo_twilio.webhook_base_url is not set as the relay's database session sees it: "
               "twilio.get_settings() returns no webhook_urls and texts go out without a status callback; "
               "set it to BYO_TWILIO_PUBLIC_URL (" + relay + ")";
    const std::string_view db = without_trailing_slashes(*db_base_url);
    if (db == relay) return std::nullopt;
    return "BYO_TWILIO_PUBLIC_URL (" + relay + ") differs from the database's byo_twilio.webhook_base_url (" +
           std::string(db) + "): Twilio signs the URLs twilio.get_settings() hands out, built from the "
           "database's, so every webhook sent to them will fail its signature check (403)";
}

void PublicUrlCheck::observe(const std::optional<std::string>& db_base_url) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (observed_ && last_ == db_base_url) return;
        observed_ = true;
        last_ = db_base_url;
    }
    if (auto problem = public_url_mismatch(public_url_, db_base_url))
        log_event("config_warning", {{"setting", "byo_twilio.webhook_base_url"}, {"message", *problem}});
}

}  // namespace byo::relay
