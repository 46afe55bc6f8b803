// The outbound dispatcher's Twilio calls: building each request and reading each answer into a verdict that
// says whether the message was sent, may be retried, failed for good, or needs reconciling with Twilio.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/http_client.hpp"
#include "core/secret.hpp"
#include "core/twilio_account_check.hpp"

namespace byo {

struct OutboundCall {
    enum class Kind {
        CreateConversation,
        AddParticipant,
        SendConversationMessage,
        SendSms,
        FetchConversation,
        ListConversationMessages,
        ListMessages,
        CreateCall,  // click-to-call: To = the agent, From = the caller id, Twiml = the bridge to the lead
        ListCalls
    } kind = Kind::SendSms;
    std::string account_sid;
    const Secret* auth_token = nullptr;
    std::string conversations_service_sid, messaging_service_sid;
    std::string conversation_sid;  // CH...; FetchConversation also takes a unique name
    std::string unique_name, friendly_name, attributes_json;  // CreateConversation (each sent only if non-empty)
    std::string address, proxy_address;                        // AddParticipant
    std::string author, body;  // SendConversationMessage (attributes_json too) / SendSms (body)
    std::string to, status_callback;  // SendSms: From only without a Messaging service (which picks the sender)
    std::string from, twiml;          // CreateCall (with to and status_callback); SendSms (see above)
    std::string list_to, list_from;   // ListMessages / ListCalls filters (omitted when empty)
    // SendSms: one MediaUrl each, in order (MMS). SendConversationMessage: MediaSid (a Media Content Service SID).
    // With media, an empty body is not sent (Twilio sends the media alone).
    std::vector<std::string> media_urls;
    std::string media_sid;
    // ListMessages / ListCalls: a list's next_page_uri (is_list_page); that page is read instead, its filters in it.
    std::string page_uri;
};

// The Twilio REST request for `call`: URL, method, form fields, Basic auth (account SID + auth token), and
// `X-Twilio-Webhook-Enabled: true` on Conversations POSTs so Twilio fires webhooks for what we do by REST.
// CreateConversation also sends MessagingServiceSid when messaging_service_sid is set. CreateCall sends
// StatusCallback with StatusCallbackEvent once per event (initiated, ringing, answered, completed) when
// status_callback is set. Throws CoreError 22023 when a SID, name or number the request needs is empty.
// ListMessages / ListCalls with page_uri read that page of the API host; a page_uri that is_list_page (with
// list_to) refuses throws CoreError 22023.
HttpRequest build_outbound_request(const TwilioEndpoints& endpoints, const OutboundCall& call);

// Whether `uri` is a page of this account's list `resource` ("Messages" or "Calls") filtered by To = `to`, as
// Twilio writes next_page_uri: "/2010-04-01/Accounts/<account_sid>/<resource>.json?...To=<to>..." with no
// fragment, whitespace or control character. A lookup follows only such links: the account's credentials go with
// the request, and a page of another list says nothing about ours.
bool is_list_page(const std::string& uri, const std::string& account_sid, const char* resource,
                  const std::string& to);

// list_body's "next_page_uri" when it is a non-empty string, else empty (the last page).
std::string next_page_uri(const nlohmann::json& list_body);


enum class Verdict { Success, Retry, Final, Ambiguous };

struct OutboundResult {
    Verdict verdict = Verdict::Ambiguous;
    long http_status = 0;
    std::string sid;     // "sid" of a 2xx answer
    std::string status;  // "status" (Messages) or else "state" (Conversations) of a 2xx answer
    int error_code = 0;  // Twilio's "code" of an error answer
    std::string error_message;  // Twilio's "message", else the transport error or a short description
    long retry_after_ms = -1;
    int num_segments = 0;
    nlohmann::json body;  // the parsed answer (2xx or error) when it was a JSON object, else null
};

// Delivery rules:
// - 2xx with a JSON object body: Success.
// - 2xx whose body is not a JSON object: Ambiguous (Twilio accepted the request; we cannot read what it made).
// - 429 (e.g. code 20429, too many concurrent requests): Retry, after Retry-After when Twilio sent one. Twilio
//   never processes a request it answers 429.
// - 503: Retry (Twilio did not process it).
// - 500, 502, 504 and any other 5xx: Ambiguous (the request may have been processed).
// - other 4xx: Final, with Twilio's code and message (e.g. 21610 recipient opted out, 50416 binding exists).
// - 1xx/3xx (no redirect is followed): Final, an answer Twilio does not give for these calls.
// - transport failure (connect, TLS, timeout, connection lost, abort, oversized answer): Retry when the request
//   was not completely written (HttpOutcome::request_sent false: Twilio cannot have acted on it), else Ambiguous.
// Ambiguous means: reconcile (find_by_attribute / find_sms on a list) before sending again.
OutboundResult classify_outbound(const HttpOutcome& outcome);

// The first conversation SID (CH + 32 hex digits, as a whole word) in Twilio's 50416 message
// "... already exists in Conversation CHxxx...", or empty.
std::string conversation_sid_from_50416(const std::string& message);

// The item of list_body[list_key] whose "attributes" (a JSON string, or an object) holds attr_key equal to the
// string attr_value; null when none.
const nlohmann::json* find_by_attribute(const nlohmann::json& list_body, const char* list_key,
                                        const std::string& attr_key, const std::string& attr_value);

// The first (newest, as Twilio lists them) item of list_body["messages"] with exactly this "to" and "body" and,
// when both dates parse, "date_created" (RFC 2822, second precision) not before not_before_iso truncated to the
// second. not_before_iso: "YYYY-MM-DD[T ]HH:MM:SS[.fff][Z|+HH|+HH:MM|+HHMM]" (no zone: UTC). When either date does
// not parse the date check is skipped. Twilio's clock is not ours: items up to `clock_slack_seconds` older than
// not_before still match.
const nlohmann::json* find_sms(const nlohmann::json& list_body, const std::string& to, const std::string& body,
                               const std::string& not_before_iso, long clock_slack_seconds = 0);

// The call of list_body["calls"] (a Calls.json list, newest first) that a create of unknown fate made: the first
// with exactly this "to" and "from", no parent call, a "sid" not in known_sids (calls already recorded on other
// rows), and "date_created" not before not_before_iso less clock_slack_seconds (dates as for find_sms; one that
// does not parse is not held against the call). Null when none.
const nlohmann::json* find_call(const nlohmann::json& list_body, const std::string& to, const std::string& from,
                                const std::string& not_before_iso, long clock_slack_seconds,
                                const std::vector<std::string>& known_sids);

}  // namespace byo
