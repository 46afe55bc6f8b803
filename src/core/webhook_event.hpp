// What an inbound Twilio webhook is, from its parameters alone: its kind, the key that makes Twilio's retries
// idempotent, and the opt-out keyword an inbound text carries. No database, no tenant: see pg/fn_webhook.cpp.
#pragma once
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/form.hpp"

namespace byo {

// How deep a JSON body may nest (its object is level 1). Twilio's are 2 or 3 deep; checked before anything that
// recurses (nlohmann's dump) runs, and far inside what PostgreSQL's jsonb parser takes.
constexpr int kMaxJsonDepth = 64;
// The longest identifier a webhook may carry (SIDs, EventType, statuses, ErrorCode, SequenceNumber, OptOutType):
// Twilio's SIDs are 34 characters. These become lookup keys, index entries and the dedupe key.
constexpr std::size_t kMaxIdentifier = 64;
// The longest To or From: E.164 numbers, and whatsapp:, client: or sip: addresses.
constexpr std::size_t kMaxAddress = 256;
// The longest dedupe key stored as it is; a longer one is stored as its kind and SHA-256 (an index entry's bound).
constexpr std::size_t kMaxDedupeKey = 256;

// A webhook's parameters by name (a repeated name keeps its first value: the routing fields are single-valued).
class WebhookParams {
public:
    // A form body, or a JSON object (a non-string value reads as its JSON text). Throws CoreError 22023 when the
    // body is not of the content type's kind (a type that is neither form nor JSON too), when a JSON body nests
    // deeper than kMaxJsonDepth, or when an identifier, To or From is longer than kMaxIdentifier or kMaxAddress.
    static WebhookParams parse(std::string_view content_type, std::string_view body);

    const std::string* find(const std::string& name) const;
    bool has(const std::string& name) const { return find(name) != nullptr; }
    // The first of these names that is present, else nullptr.
    const std::string* first_of(std::initializer_list<const char*> names) const;
    // As JSON (an object of strings), for the event's `params` column.
    std::string to_json() const;
    bool is_json() const { return json_; }
    // For a JSON body: whether jsonb holds it as it came (no NUL escape, no byte order mark, every number within
    // numeric's range); when not, store to_json() instead.
    bool json_storable() const { return json_ && json_storable_; }
    // A form body's pairs exactly as decoded, repeats included (what its signature covers); empty for JSON.
    const FormParams& form() const { return form_; }

private:
    void check_lengths() const;  // the limits above; CoreError 22023

    std::map<std::string, std::string> values_;  // the first value of each name, as text PostgreSQL can store
    FormParams form_;
    bool json_ = false;
    bool json_storable_ = true;
};

enum class WebhookKind { Conversations, VoiceStatus, Sms, Status };

// Conversations post-events carry EventType; voice status callbacks CallSid and CallStatus; an inbound text has
// SmsStatus=received (or a Body and no MessageStatus); a message status callback MessageStatus or SmsStatus.
std::optional<WebhookKind> webhook_kind(const WebhookParams& p);
const char* kind_name(WebhookKind kind);  // as stored in webhook_events.kind

// (user, this key) is unique in webhook_events: the same delivery twice maps to the same key. At most
// kMaxDedupeKey bytes.
std::string webhook_dedupe_key(WebhookKind kind, const WebhookParams& p, std::string_view body);

// webhook_events.event_type: EventType, MessageStatus, SmsStatus or CallStatus, the first present.
std::optional<std::string> webhook_event_type(const WebhookParams& p);

// Twilio sends at most 10 media with a message (MediaUrl0..9).
constexpr int kMaxMedia = 10;

// The media a message webhook carries, in Twilio's order, as a JSON array of objects with "url" (an MMS's
// MediaUrlN), "sid" (the ME... Media SID: an MMS's URL ends in it, a Conversations item names it), "content_type",
// "filename" and "size" (Conversations), each only when present and sound: an MMS takes NumMedia (at most
// kMaxMedia) items, a URL only when it is https and at most 2048 bytes, a SID only as ME and 32 hex digits, a
// content type only as type/subtype of at most 255 bytes, a filename of at most 255 bytes, a size as a whole
// number of bytes. A Conversations message's Media (a JSON array of {Sid, ContentType, Filename, Size}) that is
// not an array gives no media. An item left with neither URL nor SID is dropped. "[]" when there is none.
std::string webhook_media_json(const WebhookParams& p);

enum class OptKeyword { Stop, Start, Help };

// Twilio's Advanced Opt-Out type when given (STOP/START/HELP), else the STOP, START and HELP families of words
// (the whole message, trimmed, any case).
std::optional<OptKeyword> opt_keyword(std::string_view body, std::string_view opt_out_type);

}  // namespace byo
