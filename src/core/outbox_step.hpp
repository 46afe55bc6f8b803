// The dispatcher's decisions for one outbox job, free of PostgreSQL and of I/O: which Twilio request a claimed job
// needs next (plan_step), and what Twilio's answer means for the job, its message and its conversation
// (decide). The semantics are written up in docs/delivery.md; keep the two in step.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/envelope.hpp"
#include "core/twilio_outbound.hpp"

namespace byo {

// A claimed row of twilio._claim_outbox().
struct OutboxJob {
    std::string user_id;
    long long id = 0;
    std::string kind;         // create_conversation | send_conversation_message | send_sms | create_call
    std::string prior_state;  // pending | ambiguous (ambiguous: reconcile before anything is resent)
    int attempts = 0;         // including this claim
    std::string created_at;   // ISO 8601, when the job was enqueued
    std::string source;       // user | platform | "" (no account any more)
    std::string owner, account_sid;
    // The account the job's conversation, message or call was created in; when `source` is empty and this is
    // set, that account is no longer the user's to send with, and the job fails rather than use another.
    std::string pinned_account_sid;
    Bytes auth_token_envelope;
    std::string conversations_service_sid, messaging_service_sid, sms_number, webhook_key;
    double max_segments_per_second = 0;  // 0: the server default
    std::string conversation_id, conversation_status, conversation_sid, participant_sid, phone, friendly_name;
    std::string message_id, body, to_number;
    int segments = 1;
    // The message's outbound media in order: MMS URLs (send_sms) or one Conversations media SID.
    std::vector<std::string> media;
    // create_call: the agent leg's twilio.voice_calls row (call_to = the agent, call_from = the caller id), and
    // the SIDs of the user's other recent calls, which a lookup after an ambiguous create must not take for ours.
    std::string call_id, call_to, call_from, lead_phone, call_status, call_sid;
    std::vector<std::string> known_call_sids;
};

enum class Step {
    CreateConversation,
    AddParticipant,
    SendConversationMessage,
    SendSms,
    FindConversation,         // reconcile: was the conversation created?
    FindConversationMessage,  // reconcile: did the message reach the conversation?
    FindSms,                  // reconcile: did Twilio accept the SMS?
    CreateCall,               // click-to-call: Twilio rings the agent, then bridges to the lead
    FindCall,                 // reconcile: did Twilio place the call?
    Fail,                     // no request can succeed (e.g. the conversation failed); fail with `reason`
};

struct PlannedStep {
    Step step = Step::Fail;
    OutboundCall call;   // auth_token left null: the dispatcher fills it in after decrypting
    std::string reason;  // for Step::Fail
    int page = 0;        // FindSms / FindCall: pages of the list read before this one
    bool sends_message() const { return step == Step::SendConversationMessage || step == Step::SendSms; }
    bool places_call() const { return step == Step::CreateCall; }
};

struct RetryPolicy {
    int max_attempts = 8;  // sends and reconciliations that Twilio did not complete, before giving up
    std::chrono::milliseconds base{500};
    std::chrono::milliseconds cap{60000};
    // An ambiguous request is looked up this long after it was sent, so that one Twilio was still working on
    // has landed before "not found" lets us send it again.
    std::chrono::milliseconds reconcile_delay{10000};
    // Twilio's clock is not ours: an SMS it dates up to this much before our enqueue time can still be ours.
    std::chrono::seconds clock_slack{300};
    // A lookup reads at most this many pages (50 items each) of what was sent to the number since the request;
    // when the item is not on them and there are more, the lookup is inconclusive and is done again later.
    int max_lookup_pages = 10;
};

// `status_callback_base` is byo_twilio.webhook_base_url ("" for none): SMS status callbacks go to
// <base>/twilio/<webhook_key>/status, both legs of a call report to <base>/twilio/<webhook_key>/voice_status;
// both URLs end in Twilio's connection overrides (kConnectionOverrides), so Twilio retries a callback the relay
// could not take. A lookup after an ambiguous SMS or call lists what went to that number since the job was
// enqueued, less `clock_slack`.
PlannedStep plan_step(const OutboxJob& job, const std::string& status_callback_base,
                      std::chrono::seconds clock_slack = RetryPolicy{}.clock_slack);

// After one page of a reconciling lookup (FindSms, FindCall) came back: the step that reads the next page, when
// the job's message or call is not on this page, Twilio links a next page of this account's list, and fewer than
// policy.max_lookup_pages pages have been read. Otherwise nothing: decide() on this page.
std::optional<PlannedStep> next_lookup_page(const OutboxJob& job, const PlannedStep& step,
                                            const OutboundResult& result, const RetryPolicy& policy);

// The outcome object twilio._finish_outbox() applies (see its comment for the shape).
nlohmann::json decide(const OutboxJob& job, const PlannedStep& step, const OutboundResult& result,
                      const RetryPolicy& policy, std::uint64_t random_bits);

// Puts a job back without counting the attempt (rate limit, concurrency cap, key not available).
nlohmann::json unclaim(const OutboxJob& job, std::chrono::milliseconds retry_in, const std::string& why);

// Fails a job without a request: its message/conversation get `reason`.
nlohmann::json fail_job(const OutboxJob& job, const std::string& reason);

}  // namespace byo
