// Which tenant a webhook URL names: the per-user key (or "platform") that get_settings().webhook_urls put in
// its path, as in https://relay.example.com/twilio/<key>/sms.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace byo {

// The segment right after "/twilio/" in the URL's path, when it is 16 to 64 hex digits or "platform" and is
// followed by '/', '?', '#' or the end; otherwise nothing (the webhook is then matched by its parameters).
std::optional<std::string> webhook_key_from_url(std::string_view url);

// Whether `url` lies under `base` (byo_twilio.webhook_base_url; trailing slashes ignored): the base itself, or it
// followed by '/', '?' or '#'. An empty base holds nothing. A rejected webhook whose URL is not under the base was
// most likely rebuilt by a relay with another BYO_TWILIO_PUBLIC_URL, so the log says so.
bool url_under_base(std::string_view url, std::string_view base);

}  // namespace byo
