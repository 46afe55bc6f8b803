// Which tenant a webhook URL names: the per-user key (or "platform") that get_settings().webhook_urls put in
// its path, as in https://relay.example.com/twilio/<key>/sms.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace byo {

// Twilio's connection overrides, as a fragment at the end of every webhook URL twilio.get_settings() hands out
// (sql/install/20_settings.sql, twilio._webhook_urls, holds the same text): retry up to 5 times on a connect
// failure, a read timeout or a 5xx (the relay's 503 while it cannot store a webhook), within Twilio's 15 s limit.
// Twilio does not send the fragment in the request, so the signature check tries the URL with it and without.
inline constexpr const char* kConnectionOverrides = "#rc=5&rp=ct,rt,5xx&tt=15000";

// The segment right after "/twilio/" in the URL's path, when it is 16 to 64 hex digits or "platform" and is
// followed by '/', '?', '#' or the end; otherwise nothing (the webhook is then matched by its parameters).
std::optional<std::string> webhook_key_from_url(std::string_view url);

// Whether `url` lies under `base` (byo_twilio.webhook_base_url; trailing slashes ignored): the base itself, or it
// followed by '/', '?' or '#'. An empty base holds nothing. A rejected webhook whose URL is not under the base was
// most likely rebuilt by a relay with another BYO_TWILIO_PUBLIC_URL, so the log says so.
bool url_under_base(std::string_view url, std::string_view base);

}  // namespace byo
