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

}  // namespace byo
