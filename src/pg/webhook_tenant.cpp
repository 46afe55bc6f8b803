#include "pg/webhook_tenant.hpp"

#include <iterator>
#include <vector>

#include "core/envelope.hpp"
#include "core/signature.hpp"
#include "core/webhook_url.hpp"
#include "pg/config.hpp"
#include "pg/spi_plan.hpp"

namespace byo::pg {

namespace {

struct Candidate {
    std::string owner;  // a user id, or "platform"
    std::string account_sid;
    std::string envelope;
};

// One lookup per step, each an index scan with a kept plan: this runs for every webhook.
struct Step {
    const char* label;
    const char* param;  // nullptr: the URL's key
    SavedPlan plan;
};

Step g_steps[] = {
    {"webhook key", nullptr,
     {"SELECT user_id::text, account_sid, auth_token_envelope FROM twilio.user_settings WHERE webhook_key = $1", 1}},
    {"ChatServiceSid", "ChatServiceSid",
     {"SELECT user_id::text, account_sid, auth_token_envelope FROM twilio.user_settings "
      "WHERE conversations_service_sid = $1",
      1}},
    {"MessagingServiceSid", "MessagingServiceSid",
     {"SELECT user_id::text, account_sid, auth_token_envelope FROM twilio.user_settings "
      "WHERE messaging_service_sid = $1",
      1}},
    {"To", "To",
     {"SELECT user_id::text, account_sid, auth_token_envelope FROM twilio.user_settings WHERE sms_number = $1", 1}},
    {"AccountSid", "AccountSid",
     {"SELECT user_id::text, account_sid, auth_token_envelope FROM twilio.user_settings WHERE account_sid = $1", 1}},
};

SavedPlan g_platform_account{"SELECT 'platform', account_sid, auth_token_envelope FROM twilio.platform_account", 0};
// Only traffic sent with the platform account: its token must not reach a message a user sent with their own.
SavedPlan g_message_owner{
    "SELECT user_id::text FROM twilio.messages WHERE twilio_sid = $1 AND direction = 'outbound' AND account_sid = $2"
    " LIMIT 1",
    2};
// The same for calls: the call named, or the agent leg a bridged lead leg belongs to ($2, its ParentCallSid).
SavedPlan g_call_owner{
    "SELECT user_id::text FROM twilio.voice_calls WHERE call_sid IN ($1, $2) AND account_sid = $3 AND leg <> 'other'"
    " LIMIT 1",
    3};
// A callback that beats the dispatcher to the SID: the one agent leg still waiting for it, placed from that number
// ($2) to that number ($1: the agent leg's To, or the lead leg's). More than one user: nobody can tell which.
SavedPlan g_call_awaiting_sid{
    "SELECT DISTINCT user_id::text FROM twilio.voice_calls WHERE call_sid IS NULL AND leg = 'agent'"
    " AND status = 'queued' AND account_sid = $3 AND from_number = $2 AND (to_number = $1 OR lead_phone = $1)"
    " LIMIT 2",
    3};

std::optional<std::string> only_owner(const std::vector<SqlRow>& rows) {
    if (rows.size() != 1 || !rows[0][0]) return std::nullopt;
    return rows[0][0];
}

// The user whose call a platform-account voice callback is about.
std::optional<std::string> call_owner(const WebhookParams& params, const std::string& account_sid) {
    const std::string* sid = params.find("CallSid");
    if (!sid) return std::nullopt;
    const std::string* parent = params.find("ParentCallSid");
    std::optional<std::string> owner =
        only_owner(g_call_owner.run({*sid, parent ? SqlValue(*parent) : SqlValue(), account_sid}));
    if (owner) return owner;
    const std::string* to = params.find("To");
    const std::string* from = params.find("From");
    if (!to || !from) return std::nullopt;
    return only_owner(g_call_awaiting_sid.run({*to, *from, account_sid}));
}

std::vector<Candidate> candidates_from(const std::vector<SqlRow>& rows) {
    std::vector<Candidate> out;
    for (const SqlRow& r : rows) out.push_back({r[0].value_or(""), r[1].value_or(""), r[2].value_or("")});
    return out;
}

void log_unusable_token(const std::string& owner, const std::string& problem) {
    const std::string who = owner == "platform" ? "the platform account" : "user " + owner;
    pg_call([&] {
        ereport(LOG, (errmsg("byo_twilio webhook: the stored token of %s cannot be used: %s", who.c_str(),
                             problem.c_str())));
    });
}

// A candidate's token, decrypted once per call (a batch from one tenant needs it for every webhook). Throws
// CoreError when it cannot be decrypted.
const Secret& token_of(const Candidate& c, TenantLookups& lookups) {
    const std::string context = envelope_context(c.owner, c.account_sid);
    std::string key = context;
    key.push_back('\0');
    key.append(c.envelope);
    auto found = lookups.tokens.find(key);
    if (found == lookups.tokens.end()) {
        if (!lookups.keyring) lookups.keyring = current_keyring();
        const Bytes envelope(c.envelope.begin(), c.envelope.end());
        found = lookups.tokens.emplace(std::move(key), open_envelope(*lookups.keyring, envelope, context)).first;
    }
    return found->second;
}

// The candidates whose token validates the signature. A token that cannot be decrypted counts as "no" and is
// logged, so one broken row cannot block webhooks for every tenant matched with it.
std::vector<std::string> signers(const std::vector<Candidate>& candidates, const SignedRequest& r,
                                 const SignatureCheck& check, TenantLookups& lookups) {
    std::vector<std::string> valid;
    for (const Candidate& c : candidates) {
        std::string problem;
        try {
            if (check.matches(token_of(c, lookups).view(), r.signature)) valid.push_back(c.owner);
            continue;
        } catch (const CoreError& e) {
            problem = e.what();  // envelope errors name the key id, never key or token material
        }
        log_unusable_token(c.owner, problem);
    }
    return valid;
}

// What a candidate's check costs (a token decrypted, the signature computed), spent when there is no candidate:
// otherwise a 403 for an unknown number, service or webhook key comes back measurably sooner than one for a wrong
// signature, and an outsider could tell which are registered. The decoy token is sealed once per key.
void spend_like_a_check(const SignedRequest& r, const SignatureCheck& check, TenantLookups& lookups) {
    static Bytes decoy;
    static std::string decoy_key_id;
    const char* const context = "byo_twilio decoy";
    try {
        if (!lookups.keyring) lookups.keyring = current_keyring();
        const EncryptionKey& key = lookups.keyring->current();
        if (decoy.empty() || decoy_key_id != key.id) {
            decoy = seal_envelope(key, std::string(32, '0'), context);
            decoy_key_id = key.id;
        }
        const Secret token = open_envelope(*lookups.keyring, decoy, context);
        (void)check.matches(token.view(), r.signature);
    } catch (const CoreError&) {
        decoy.clear();  // no key, or the key changed under the same id: nothing to time against; reseal next time
    }
}

constexpr int kPlatformStep = -1;

// The rows stay in `lookups` for the rest of the call: a batch's webhooks read them, not copies.
const std::vector<SqlRow>& lookup(int step, SavedPlan& plan, const std::string* value, TenantLookups& lookups) {
    auto run = [&] { return value ? plan.run({*value}) : plan.run({}); };
    auto key = std::make_pair(step, value ? *value : std::string());
    auto found = lookups.rows.find(key);
    if (found == lookups.rows.end()) found = lookups.rows.emplace(std::move(key), run()).first;
    return found->second;
}

WebhookTenant platform_tenant(const SignedRequest& r, const WebhookParams& params, const SignatureCheck& check,
                              TenantLookups& lookups) {
    const std::vector<Candidate> account = candidates_from(lookup(kPlatformStep, g_platform_account, nullptr, lookups));
    if (account.empty()) {
        spend_like_a_check(r, check, lookups);
        return {std::nullopt, "no platform account is set"};
    }
    if (signers(account, r, check, lookups).size() != 1)
        return {std::nullopt, "signature does not validate with the platform account"};
    if (params.has("CallSid")) {
        std::optional<std::string> owner = call_owner(params, account[0].account_sid);
        if (!owner) return {std::nullopt, "platform callback for an unknown call"};
        return {std::move(owner), "ok"};
    }
    const std::string* sid = params.first_of({"MessageSid", "SmsSid"});
    const std::vector<SqlRow> owner =
        sid ? g_message_owner.run({*sid, account[0].account_sid}) : std::vector<SqlRow>{};
    if (owner.empty() || !owner[0][0]) return {std::nullopt, "platform callback for an unknown message"};
    return {owner[0][0], "ok"};
}

}  // namespace

WebhookTenant resolve_webhook_tenant(const SignedRequest& r, const WebhookParams& params, TenantLookups& lookups) {
    // Parsed and sorted once for every candidate token (a form body as parsed for its params).
    SignatureCheck check = r.params_in_url    ? SignatureCheck(r.url, FormParams{})
                           : params.is_json() ? SignatureCheck(r.url, r.body, r.content_type)
                                              : SignatureCheck(r.url, params.form());
    // The URLs get_settings() hands out end in connection overrides (a fragment) that no HTTP request carries:
    // accept a signature over the URL with them as well as without (core/webhook_url.hpp).
    if (r.url.find('#') == std::string::npos) check.add_url(r.url + kConnectionOverrides);
    const std::optional<std::string> key = webhook_key_from_url(r.url);
    if (key == "platform") return platform_tenant(r, params, check, lookups);
    for (int i = 0; i < static_cast<int>(std::size(g_steps)); ++i) {
        Step& step = g_steps[i];
        const std::string* value = step.param ? params.find(step.param) : (key ? &*key : nullptr);
        if (!value) continue;
        const std::vector<Candidate> candidates = candidates_from(lookup(i, step.plan, value, lookups));
        if (candidates.empty()) continue;
        const std::vector<std::string> valid = signers(candidates, r, check, lookups);
        if (valid.size() == 1) return {valid[0], "ok"};
        if (valid.size() > 1)
            return {std::nullopt, std::to_string(valid.size()) + " users match by " + step.label +
                                      " and their tokens all validate: cannot tell them apart (give each user their "
                                      "own webhook URL with its key)"};
        return {std::nullopt, std::string("signature does not validate for the user(s) matched by ") + step.label};
    }
    spend_like_a_check(r, check, lookups);
    return {std::nullopt, "no tenant matches"};
}

}  // namespace byo::pg
