#include "core/outbox_step.hpp"

#include "core/backoff.hpp"
#include "core/core_error.hpp"
#include "core/dial_twiml.hpp"
#include "core/webhook_url.hpp"

namespace byo {

namespace {

using nlohmann::json;
using std::chrono::milliseconds;

json base_outcome(const OutboxJob& job, const char* state) {
    return json{{"user_id", job.user_id}, {"id", job.id}, {"state", state}};
}

std::string twilio_error(const OutboundResult& r) {
    std::string text = "HTTP " + std::to_string(r.http_status);
    if (r.error_code) text += ", Twilio error " + std::to_string(r.error_code);
    if (!r.error_message.empty()) text += ": " + r.error_message;
    return text;
}

// What a job works on: its conversation, its call, or its message.
const char* subject(const OutboxJob& job) {
    if (job.kind == "create_conversation") return "conversation";
    if (job.kind == "create_call") return "call";
    return "message";
}

// The job's message, conversation or call, failed with Twilio's code and message.
void mark_failed(json& out, const OutboxJob& job, int code, const std::string& message) {
    json detail = {{"status", "failed"}, {"error_message", message}};
    if (code) detail["error_code"] = code;
    out[subject(job)] = detail;
}

// The call Twilio made (created, or found by a lookup): its SID, its status, the account it was placed with.
json call_placed(const OutboxJob& job, const std::string& sid, const std::string& status) {
    return {{"status", status.empty() ? "queued" : status}, {"twilio_sid", sid}, {"account_sid", job.account_sid}};
}

std::string trimmed_base(std::string base) {
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base;
}

// A status callback URL for the job's tenant, with the connection overrides the webhook URLs carry too.
std::string status_callback(const OutboxJob& job, const std::string& base, const char* route) {
    if (base.empty() || job.webhook_key.empty()) return {};
    return trimmed_base(base) + "/twilio/" + job.webhook_key + "/" + route + kConnectionOverrides;
}

// The next page of a lookup's list that Twilio linked, when it is one we follow (is_list_page); else empty: a
// link to anything else is taken for the end of the list.
std::string followable_next_page(const PlannedStep& step, const OutboundResult& r) {
    std::string next = next_page_uri(r.body);
    const char* resource = step.step == Step::FindCall ? "Calls" : "Messages";
    return is_list_page(next, step.call.account_sid, resource, step.call.list_to) ? next : std::string();
}

// The job's message or call in one page of a reconciling lookup, or null.
const nlohmann::json* lookup_match(const OutboxJob& job, const PlannedStep& step, const OutboundResult& r,
                                   const RetryPolicy& policy) {
    if (step.step == Step::FindCall)
        return find_call(r.body, job.call_to, job.call_from, job.created_at, policy.clock_slack.count(),
                         job.known_call_sids);
    return find_sms(r.body, job.to_number, job.body, job.created_at, policy.clock_slack.count());
}

// Twilio did not act: try again later, or give up after max_attempts (the message fails; nothing was sent).
json retry_or_fail(const OutboxJob& job, const OutboundResult& r, const RetryPolicy& policy, std::uint64_t random,
                   const std::string& what) {
    if (job.attempts >= policy.max_attempts) {
        json out = base_outcome(job, "failed");
        out["error"] = what + " (gave up after " + std::to_string(job.attempts) + " attempts)";
        mark_failed(out, job, r.error_code, out["error"].get<std::string>());
        // After an ambiguous send we could not settle, Twilio may or may not have the message: say so.
        if (job.prior_state == "ambiguous" && out.contains("message")) out["message"]["status"] = "unknown";
        return out;
    }
    std::optional<milliseconds> retry_after;
    if (r.retry_after_ms >= 0) retry_after = milliseconds(r.retry_after_ms);
    json out = base_outcome(job, job.prior_state == "ambiguous" ? "ambiguous" : "pending");
    out["retry_in_ms"] = retry_delay(job.attempts, retry_after, policy.base, policy.cap, random).count();
    out["error"] = what;
    return out;
}

// A reconciling lookup found nothing at Twilio: do it again (`again`), or give up after max_attempts
// (`nothing_done` says what did not happen).
json not_found_at_twilio(const OutboxJob& job, const RetryPolicy& policy, const char* nothing_done,
                         const char* again) {
    if (job.attempts >= policy.max_attempts) {
        const std::string why = "not found at Twilio after " + std::to_string(job.attempts) +
                                " attempts with unknown outcomes; giving up (" + nothing_done + ")";
        json out = base_outcome(job, "failed");
        out["error"] = why;
        mark_failed(out, job, 0, why);
        return out;
    }
    json out = base_outcome(job, "pending");
    out["error"] = std::string("not found at Twilio after an ambiguous attempt; ") + again;
    return out;
}

// Not on the pages read, and Twilio has more that the bound left unread: we cannot tell whether Twilio has it, so
// nothing is sent; the lookup is done again later (bounded by max_attempts, then failed, the message `unknown`).
json inconclusive_lookup(const OutboxJob& job, const OutboundResult& r, const RetryPolicy& policy,
                         std::uint64_t random, const PlannedStep& step) {
    return retry_or_fail(job, r, policy, random,
                         "lookup inconclusive: not on the first " + std::to_string(step.page + 1) +
                             " pages of what Twilio lists for this number since the request");
}

std::string describe(const OutboundResult& r) {
    return r.http_status ? twilio_error(r) : (r.error_message.empty() ? "no answer" : r.error_message);
}

OutboundCall call_for(const OutboxJob& job, OutboundCall::Kind kind) {
    OutboundCall c;
    c.kind = kind;
    c.account_sid = job.account_sid;
    c.conversations_service_sid = job.conversations_service_sid;
    c.messaging_service_sid = job.messaging_service_sid;
    c.conversation_sid = job.conversation_sid;
    return c;
}

PlannedStep fail_step(const std::string& reason) {
    PlannedStep p;
    p.step = Step::Fail;
    p.reason = reason;
    return p;
}

PlannedStep conversation_step(const OutboxJob& job) {
    PlannedStep p;
    if (job.conversation_sid.empty()) {
        // Created under our own id as UniqueName, so a creation of unknown fate can be looked up, and a repeat
        // is refused by Twilio (50353) instead of creating a second conversation.
        p.step = job.prior_state == "ambiguous" ? Step::FindConversation : Step::CreateConversation;
        p.call = call_for(job, p.step == Step::FindConversation ? OutboundCall::Kind::FetchConversation
                                                                : OutboundCall::Kind::CreateConversation);
        if (p.step == Step::FindConversation) p.call.conversation_sid = job.conversation_id;
        p.call.unique_name = job.conversation_id;
        p.call.friendly_name = job.friendly_name.empty() ? job.phone : job.friendly_name;
        p.call.attributes_json = json{{"byo_conversation_id", job.conversation_id}}.dump();
        return p;
    }
    // Adding the participant is idempotent: a repeat answers 50416 naming this same conversation.
    p.step = Step::AddParticipant;
    p.call = call_for(job, OutboundCall::Kind::AddParticipant);
    p.call.address = job.phone;
    p.call.proxy_address = job.sms_number;
    return p;
}

// Both legs report to the same voice_status URL; the agent leg through StatusCallback, the lead leg through the
// <Number>'s statusCallback in the TwiML.
PlannedStep call_step(const OutboxJob& job, const std::string& status_callback_base,
                      std::chrono::seconds clock_slack) {
    if (job.call_id.empty()) return fail_step("the call to place no longer exists");
    if (job.call_status != "queued")  // e.g. canceled before it went out: nothing to place
        return fail_step("the call is " + (job.call_status.empty() ? std::string("gone") : job.call_status) +
                         " and was not placed");
    if (job.call_from.empty()) return fail_step("your Twilio settings have no phone number to call from");
    if (job.call_to.empty() || job.lead_phone.empty()) return fail_step("the call has no agent or lead number");
    PlannedStep p;
    const bool reconcile = job.prior_state == "ambiguous";
    p.step = reconcile ? Step::FindCall : Step::CreateCall;
    p.call = call_for(job, reconcile ? OutboundCall::Kind::ListCalls : OutboundCall::Kind::CreateCall);
    p.call.to = p.call.list_to = job.call_to;
    p.call.from = p.call.list_from = job.call_from;
    p.call.status_callback = status_callback(job, status_callback_base, "voice_status");
    if (!reconcile) {
        try {
            p.call.twiml = bridge_twiml(job.call_from, job.lead_phone, p.call.status_callback);
        } catch (const CoreError& e) {
            return fail_step(e.what());
        }
    }
    return p;
}

}  // namespace

PlannedStep plan_step(const OutboxJob& job, const std::string& status_callback_base,
                      std::chrono::seconds clock_slack) {
    if (job.source.empty() && !job.pinned_account_sid.empty())
        return fail_step(std::string("this ") + subject(job) + " belongs to Twilio account " + job.pinned_account_sid +
                         ", which you no longer send with; it is not sent from another account");
    if (job.source.empty()) return fail_step("no Twilio account connected");
    if (job.kind == "create_conversation") return conversation_step(job);
    PlannedStep p;
    if (job.kind == "send_conversation_message") {
        if (job.conversation_status == "failed" || job.conversation_sid.empty())
            return fail_step("the conversation could not be created at Twilio");
        const bool reconcile = job.prior_state == "ambiguous";
        p.step = reconcile ? Step::FindConversationMessage : Step::SendConversationMessage;
        p.call = call_for(job, reconcile ? OutboundCall::Kind::ListConversationMessages
                                         : OutboundCall::Kind::SendConversationMessage);
        p.call.body = job.body;
        if (!job.media.empty()) p.call.media_sid = job.media.front();  // the SQL call allows one
        p.call.attributes_json = json{{"byo_message_id", job.message_id}}.dump();
        return p;
    }
    if (job.kind == "send_sms") {
        const bool reconcile = job.prior_state == "ambiguous";
        p.step = reconcile ? Step::FindSms : Step::SendSms;
        p.call = call_for(job, reconcile ? OutboundCall::Kind::ListMessages : OutboundCall::Kind::SendSms);
        p.call.to = job.to_number;
        p.call.from = job.sms_number;  // sent only when there is no Messaging service
        p.call.body = job.body;
        p.call.media_urls = job.media;
        p.call.status_callback = status_callback(job, status_callback_base, "status");
        // What went to the number, newest first (a Messaging service picks its own sender). No date filter: a
        // message still in Twilio's queue has no DateSent yet, and a filter on it would hide the very message
        // being looked for, which would then be sent twice.
        if (reconcile) {
            p.call.list_to = job.to_number;
            if (job.messaging_service_sid.empty()) p.call.list_from = job.sms_number;
        }
        return p;
    }
    if (job.kind == "create_call") return call_step(job, status_callback_base, clock_slack);
    return fail_step("unknown outbox job kind '" + job.kind + "'");
}

std::optional<PlannedStep> next_lookup_page(const OutboxJob& job, const PlannedStep& step, const OutboundResult& r,
                                            const RetryPolicy& policy) {
    if ((step.step != Step::FindSms && step.step != Step::FindCall) || r.verdict != Verdict::Success) return {};
    if (step.page + 1 >= policy.max_lookup_pages || lookup_match(job, step, r, policy)) return {};
    const std::string next = followable_next_page(step, r);
    if (next.empty()) return {};
    PlannedStep following = step;
    following.page = step.page + 1;
    following.call.page_uri = next;
    return following;
}

json unclaim(const OutboxJob& job, milliseconds retry_in, const std::string& why) {
    json out = base_outcome(job, job.prior_state == "ambiguous" ? "ambiguous" : "pending");
    out["unclaim"] = true;
    out["retry_in_ms"] = retry_in.count();
    out["error"] = why;
    return out;
}

json fail_job(const OutboxJob& job, const std::string& reason) {
    json out = base_outcome(job, "failed");
    out["error"] = reason;
    mark_failed(out, job, 0, reason);
    return out;
}

json decide(const OutboxJob& job, const PlannedStep& step, const OutboundResult& r, const RetryPolicy& policy,
            std::uint64_t random) {
    const bool ok = r.verdict == Verdict::Success;
    switch (step.step) {
        case Step::Fail:
            return fail_job(job, step.reason);

        case Step::CreateConversation:
            if (ok) {  // next: the participant, at once and without counting an attempt
                json out = unclaim(job, milliseconds(0), "");
                out.erase("error");
                out["conversation"] = {{"twilio_sid", r.sid}};
                return out;
            }
            if (r.verdict == Verdict::Final && r.error_code == 50353) {  // created earlier: look it up
                json out = unclaim(job, milliseconds(0), "conversation already exists at Twilio");
                out["state"] = "ambiguous";
                return out;
            }
            break;

        case Step::FindConversation:
            if (ok) {
                json out = base_outcome(job, "pending");
                out["unclaim"] = true;
                out["conversation"] = {{"twilio_sid", r.sid}};
                return out;
            }
            if (r.verdict == Verdict::Final && r.http_status == 404) {  // never created: create it (bounded, paced)
                if (job.attempts >= policy.max_attempts) return fail_job(job, "conversation could not be created");
                json out = base_outcome(job, "pending");
                out["retry_in_ms"] = full_jitter_backoff(job.attempts, policy.base, policy.cap, random).count();
                out["error"] = "conversation not found at Twilio after an ambiguous attempt; creating it";
                return out;
            }
            return retry_or_fail(job, r, policy, random, "could not look the conversation up: " + describe(r));

        case Step::AddParticipant: {
            if (ok) {
                json out = base_outcome(job, "done");
                out["conversation"] = {{"status", "active"}, {"participant_sid", r.sid}};
                return out;
            }
            if (r.verdict == Verdict::Final && r.error_code == 50416) {
                // The lead is already bound in this service: reuse that conversation (it may be ours).
                const std::string bound = conversation_sid_from_50416(r.error_message);
                if (!bound.empty()) {
                    json out = base_outcome(job, "done");
                    out["conversation"] = {{"status", "active"}, {"twilio_sid", bound}};
                    return out;
                }
            }
            if (r.verdict == Verdict::Ambiguous)  // idempotent (see above): simply try again
                return retry_or_fail(job, r, policy, random, "participant: " + describe(r));
            break;
        }

        case Step::SendConversationMessage:
        case Step::SendSms:
            if (ok) {
                json out = base_outcome(job, "done");
                out["message"] = {{"status", step.step == Step::SendSms && !r.status.empty() ? r.status : "sent"},
                                  {"twilio_sid", r.sid}};
                return out;
            }
            if (r.verdict == Verdict::Ambiguous) {  // Twilio may have it: look before resending
                json out = base_outcome(job, "ambiguous");
                out["retry_in_ms"] = policy.reconcile_delay.count();
                out["error"] = "outcome unknown: " + describe(r);
                return out;
            }
            break;

        case Step::CreateCall:
            if (ok) {
                json out = base_outcome(job, "done");
                out["call"] = call_placed(job, r.sid, r.status);
                return out;
            }
            if (r.verdict == Verdict::Ambiguous) {  // the phone may be ringing already: look before dialing again
                json out = base_outcome(job, "ambiguous");
                out["retry_in_ms"] = policy.reconcile_delay.count();
                out["error"] = "outcome unknown: " + describe(r);
                return out;
            }
            break;

        case Step::FindCall: {
            if (!ok) return retry_or_fail(job, r, policy, random, "reconciliation failed: " + describe(r));
            const json* found = lookup_match(job, step, r, policy);
            if (!found && !followable_next_page(step, r).empty())
                return inconclusive_lookup(job, r, policy, random, step);
            if (!found) return not_found_at_twilio(job, policy, "no call was placed", "placing the call again");
            json out = base_outcome(job, "done");
            auto text = [found](const char* name) {
                auto it = found->find(name);
                return it != found->end() && it->is_string() ? it->get<std::string>() : std::string();
            };
            out["call"] = call_placed(job, text("sid"), text("status"));
            return out;
        }

        case Step::FindConversationMessage:
        case Step::FindSms: {
            if (!ok) return retry_or_fail(job, r, policy, random, "reconciliation failed: " + describe(r));
            const json* found = step.step == Step::FindConversationMessage
                                     ? find_by_attribute(r.body, "messages", "byo_message_id", job.message_id)
                                     : lookup_match(job, step, r, policy);
            if (!found && step.step == Step::FindSms && !followable_next_page(step, r).empty())
                return inconclusive_lookup(job, r, policy, random, step);
            if (!found)  // Twilio never got it: send it now, unless we have tried often enough
                return not_found_at_twilio(job, policy, "nothing was sent", "sending again");
            json out = base_outcome(job, "done");
            std::string status = found->value("status", std::string());
            out["message"] = {{"status", step.step == Step::FindSms && !status.empty() ? status : "sent"},
                              {"twilio_sid", found->value("sid", std::string())}};
            return out;
        }
    }

    // Left: a final refusal, or a transient failure of a create/send.
    if (r.verdict == Verdict::Retry || r.verdict == Verdict::Ambiguous)
        return retry_or_fail(job, r, policy, random, describe(r));
    json out = base_outcome(job, "failed");
    out["error"] = twilio_error(r);
    mark_failed(out, job, r.error_code, r.error_message.empty() ? twilio_error(r) : r.error_message);
    if (r.error_code == 21610 && job.kind != "create_call")
        out["opt_out"] = job.kind == "send_sms" ? job.to_number : job.phone;
    return out;
}

}  // namespace byo
