// The relay rebuilds every webhook's URL from BYO_TWILIO_PUBLIC_URL; Twilio signs the URL the user pasted from
// twilio.get_settings(), which the database builds from byo_twilio.webhook_base_url. When the two differ every
// signature check fails with 403 and nothing else says why, so each new database session reports the setting
// here and a disagreement is logged as a warning.
#pragma once
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace byo::relay {

// What is wrong, for the operator, or nullopt when the database's base URL (nullopt or empty: not set) names the
// same base as the relay's. Trailing slashes do not count (both sides drop them); anything else does, case too:
// Twilio signs the URL exactly as it was entered.
std::optional<std::string> public_url_mismatch(std::string_view public_url,
                                               const std::optional<std::string>& db_base_url);

class PublicUrlCheck {
public:
    explicit PublicUrlCheck(std::string public_url) : public_url_(std::move(public_url)) {}
    // The setting as a new session sees it. Logs "config_warning" when it disagrees, once per distinct value:
    // every pooled connection and every reconnect reports it, and one line says enough.
    void observe(const std::optional<std::string>& db_base_url);

private:
    const std::string public_url_;
    std::mutex mutex_;
    bool observed_ = false;
    std::optional<std::string> last_;  // the value observed last
};

}  // namespace byo::relay
