// Which user a webhook belongs to, proven by that user's own token: the key in the URL path first; then
// ChatServiceSid, MessagingServiceSid, the To number, AccountSid. A step that matches nobody falls through to the
// next; one that matches several users is narrowed by whose token validates the signature (two users sharing an
// AccountSid share its token: refused). "platform" in the path: the platform account's token, and the user whose
// message the callback is about. Needs an open SpiConnection.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/keyring.hpp"
#include "core/secret.hpp"
#include "core/webhook_event.hpp"
#include "pg/spi_plan.hpp"

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
    bool params_in_url = false;  // a GET: the parameters are the URL's query, and the signature covers the URL alone
};

// The settings rows each lookup step found during one handle_webhooks call, and the tokens decrypted, so a batch
// from one tenant looks up and decrypts once. Lives no longer than the call: a later call sees rotated tokens and
// changed settings. The tokens are wiped with it.
struct TenantLookups {
    std::map<std::pair<int, std::string>, std::vector<SqlRow>> rows;  // (step, value) -> rows
    std::optional<Keyring> keyring;
    std::map<std::string, Secret> tokens;  // (envelope context, envelope) -> token
};

// `lookups`: what this call has already looked up and decrypted (one per handle_webhook or handle_webhooks call).
WebhookTenant resolve_webhook_tenant(const SignedRequest& request, const WebhookParams& params,
                                     TenantLookups& lookups);

}  // namespace byo::pg
