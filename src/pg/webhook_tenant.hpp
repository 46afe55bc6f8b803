// Which user a webhook belongs to, proven by that user's own token: the key in the URL path first; then
// ChatServiceSid, MessagingServiceSid, the To number, AccountSid. A step that matches nobody falls through to the
// next; one that matches several users is narrowed by whose token validates the signature (two users sharing an
// AccountSid share its token: refused). "platform" in the path: the platform account's token, and the user whose
// message the callback is about. Needs an open SpiConnection.
#pragma once
#include <optional>
#include <string>

#include "core/webhook_event.hpp"

namespace byo::pg {

struct WebhookTenant {
    std::optional<std::string> user_id;  // nothing: refuse with 403
    std::string outcome;                 // why not (for the log), or "ok"
};

struct SignedRequest {
    const std::string& url;
    const std::string& signature;
    const std::string& content_type;
    const std::string& body;
};

WebhookTenant resolve_webhook_tenant(const SignedRequest& request, const WebhookParams& params);

}  // namespace byo::pg
