#include "pg/webhook_record.hpp"

#include "core/sms_segments.hpp"
#include "pg/message_status.hpp"

namespace byo::pg {

namespace {

// An inbound text: its event and its message in one statement, the message only when the event is new.
SavedPlan g_inbound_sms{
    "WITH ev AS ("
    "  INSERT INTO twilio.webhook_events (user_id, kind, event_type, dedupe_key, url, content_type, body, params,"
    "                                     effect)"
    "  VALUES ($1::uuid, 'sms', $2, $3, $4, $5, $6, $7::jsonb, $8)"
    "  ON CONFLICT (user_id, dedupe_key) DO NOTHING RETURNING user_id),"
    " msg AS ("
    "  INSERT INTO twilio.messages (user_id, channel, direction, to_number, from_number, body, status, twilio_sid,"
    "                              segments, account_sid, encoding, media_count)"
    "  SELECT user_id, 'sms', 'inbound', $9, $10, $11, 'received', $12, $13::integer, $14, $15,"
    "         jsonb_array_length($16::jsonb) FROM ev"
    "  ON CONFLICT (user_id, twilio_sid) DO NOTHING RETURNING user_id, id),"
    " media AS ("
    "  INSERT INTO twilio.message_media (user_id, message_id, position, url, media_sid, content_type)"
    "  SELECT msg.user_id, msg.id, m.n - 1, m.item ->> 'url', m.item ->> 'sid', m.item ->> 'content_type'"
    "    FROM msg, jsonb_array_elements($16::jsonb) WITH ORDINALITY AS m(item, n))"
    " SELECT count(*)::text FROM ev",
    16};
// The same for many texts, one array per column: a statement's fixed costs (executor start-up, constraint
// set-up, foreign-key plans) are paid once per batch instead of once per text. Two copies of one delivery in a
// batch insert one event (ON CONFLICT sees its own command's rows) and one message. The messages take the clock
// time, not the transaction's, so texts of one batch keep their order of arrival in created_at.
SavedPlan g_inbound_sms_batch{
    "WITH input AS ("
    "  SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[],"
    "                       $8::text[], $9::text[], $10::text[], $11::text[], $12::integer[], $13::text[],"
    "                       $14::text[])"
    "    WITH ORDINALITY AS t(user_id, event_type, dedupe_key, url, content_type, body, params, to_number,"
    "                         from_number, text, sid, segments, account_sid, encoding, n)),"
    " ev AS ("
    "  INSERT INTO twilio.webhook_events (user_id, kind, event_type, dedupe_key, url, content_type, body, params,"
    "                                     effect)"
    "  SELECT user_id, 'sms', event_type, dedupe_key, url, content_type, body, params, 'inbound message' FROM input"
    "  ORDER BY n"
    "  ON CONFLICT (user_id, dedupe_key) DO NOTHING RETURNING user_id, dedupe_key),"
    " msg AS ("
    "  INSERT INTO twilio.messages (user_id, channel, direction, to_number, from_number, body, status, twilio_sid,"
    "                              segments, account_sid, encoding, created_at, updated_at)"
    "  SELECT i.user_id, 'sms', 'inbound', i.to_number, i.from_number, i.text, 'received', i.sid, i.segments,"
    "         i.account_sid, i.encoding, clock_timestamp(), clock_timestamp()"
    "    FROM input i JOIN ev ON ev.user_id = i.user_id AND ev.dedupe_key = i.dedupe_key ORDER BY i.n"
    "  ON CONFLICT (user_id, twilio_sid) DO NOTHING)"
    " SELECT count(*)::text FROM ev",
    14, SavedPlan::Args::TextArrays};
SavedPlan g_opt_keywords{"SELECT twilio._apply_opt_keywords($1::uuid, $2, $3, $4)", 4};
SavedPlan g_route{"SELECT twilio._route_webhook($1::uuid, $2, $3::jsonb, $4::jsonb)", 4};
SavedPlan g_event{
    "INSERT INTO twilio.webhook_events (user_id, kind, event_type, dedupe_key, url, content_type, body, params,"
    "                                   effect)"
    " VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)"
    " ON CONFLICT (user_id, dedupe_key) DO NOTHING RETURNING id",
    9};

SqlValue param(const WebhookParams& p, const char* name) {
    const std::string* v = p.find(name);
    return v ? SqlValue(*v) : SqlValue();
}

SqlValue param_of(const WebhookParams& p, std::initializer_list<const char*> names) {
    const std::string* v = p.first_of(names);
    return v ? SqlValue(*v) : SqlValue();
}

std::string text_param(const WebhookParams& p, const char* name) {
    const std::string* v = p.find(name);
    return v ? *v : std::string();
}

// The most segments a text can bill: 1600 characters, each a UTF-16 surrogate pair, at 67 units a segment.
constexpr int kMaxSegments = 48;

// NumSegments as Twilio sends it when it is a whole number from 1 to kMaxSegments; otherwise (missing, not a
// number, out of range) our own count of the body, at least 1 (a media-only message bills as one).
std::string segments(const WebhookParams& p, const SegmentCount& ours) {
    const std::string* v = p.find("NumSegments");
    if (v && !v->empty() && v->size() <= 2 && v->find_first_not_of("0123456789") == std::string::npos) {
        const int n = std::stoi(*v);
        if (n >= 1 && n <= kMaxSegments) return std::to_string(n);
    }
    return std::to_string(ours.segments < 1 ? 1 : ours.segments);
}

// Twilio's webhooks do not say how a text was encoded: GSM-7 or UCS-2 follows from its characters.
const char* encoding(const SegmentCount& ours) { return ours.ucs2 ? "UCS-2" : "GSM-7"; }

bool has_keyword(const WebhookParams& p) {
    return opt_keyword(text_param(p, "Body"), text_param(p, "OptOutType")).has_value();
}

// `keyword`: whether the text is an opt-out keyword, which the caller already knows.
bool record_inbound_sms(const WebhookEvent& e, bool keyword) {
    const WebhookParams& p = e.params;
    std::string effect = "inbound message";
    const std::string body_text = text_param(p, "Body");
    const SegmentCount ours = count_sms_segments(body_text);
    if (keyword) {
        const auto r = g_opt_keywords.run({e.user_id, param(p, "From"), body_text, text_param(p, "OptOutType")});
        if (!r.empty() && r[0][0]) effect = *r[0][0];
    }
    const auto rows = g_inbound_sms.run({e.user_id, e.event_type, e.dedupe_key, e.url, e.content_type, e.body,
                                         e.params_json, effect, param(p, "To"), param(p, "From"), body_text,
                                         param_of(p, {"MessageSid", "SmsSid"}), segments(p, ours),
                                         param(p, "AccountSid"), std::string(encoding(ours)),
                                         webhook_media_json(p)});
    return rows.at(0).at(0) == "1";  // not new: a retry, whose keyword effect (if any) is rolled back
}

SqlValue insert_event(const WebhookEvent& e, const std::string& effect) {
    const auto rows = g_event.run({e.user_id, std::string(kind_name(e.kind)), e.event_type, e.dedupe_key, e.url,
                                   e.content_type, e.body, e.params_json, effect});
    return rows.empty() ? SqlValue() : rows[0][0];
}

void log_not_applied(const WebhookEvent& e, const std::string& error) {
    const std::string line = std::string("byo_twilio webhook (") + kind_name(e.kind) + ") for user " + e.user_id +
                             " not applied: " + error;
    pg_call([&] { ereport(LOG, (errmsg("%s", line.c_str()))); });
}

}  // namespace

std::string short_reason(const std::string& why) {
    constexpr std::size_t kMax = 200;
    if (why.size() <= kMax) return why;
    std::size_t n = kMax;
    while (n > 0 && (static_cast<unsigned char>(why[n]) & 0xC0) == 0x80) --n;  // not inside a UTF-8 character
    return why.substr(0, n) + "...";
}

bool is_plain_text(WebhookKind kind, const WebhookParams& params) {
    const std::string* media = params.find("NumMedia");
    return kind == WebhookKind::Sms && !has_keyword(params) && (!media || *media == "0");
}

// Effect first, then the event with its effect, in one subtransaction: the event's unique (user_id, dedupe_key)
// decides. A retry of a webhook already recorded (even one still committing elsewhere) rolls its effect back, so
// the same delivery twice has one effect. A signed webhook carrying a value we cannot apply is kept with the
// reason and acknowledged, rather than failing (503) and being retried by Twilio forever.
void record_webhook(const WebhookEvent& e) {
    // A plain inbound text (nearly every one) is one statement of fixed, checked values: nothing in it can be
    // "a value we cannot apply", and a retry changes nothing, so no subtransaction; an error here is transient
    // (503, Twilio retries). 4-5 % of its cost.
    if (e.plain_text) {
        record_inbound_sms(e, false);
        return;
    }
    const SubtransactionOutcome outcome = in_subtransaction([&] {
        if (e.kind == WebhookKind::Sms) return record_inbound_sms(e, has_keyword(e.params));
        std::string effect;
        if (e.kind == WebhookKind::Status) {
            const WebhookParams& p = e.params;
            effect = apply_message_status(e.user_id, param_of(p, {"MessageSid", "SmsSid"}),
                                          param_of(p, {"MessageStatus", "SmsStatus"}), param(p, "ErrorCode"));
        } else {
            effect = g_route.run({e.user_id, std::string(kind_name(e.kind)), e.params_json,
                                  e.kind == WebhookKind::Conversations ? webhook_media_json(e.params) : "[]"})
                         .at(0).at(0).value_or("");
        }
        return insert_event(e, effect).has_value();
    });
    if (!outcome.error) return;
    const std::string why = short_reason(*outcome.error);
    if (insert_event(e, "not applied: " + why)) log_not_applied(e, why);
}

void record_plain_texts(const std::vector<const WebhookEvent*>& texts) {
    if (texts.empty()) return;
    if (texts.size() == 1) {
        record_inbound_sms(*texts[0], false);
        return;
    }
    constexpr std::size_t kColumns = 14;
    std::vector<std::vector<SqlValue>> columns(kColumns);
    for (auto& c : columns) c.reserve(texts.size());
    for (const WebhookEvent* e : texts) {
        const WebhookParams& p = e->params;
        const std::string body_text = text_param(p, "Body");
        const SegmentCount ours = count_sms_segments(body_text);
        SqlValue row[kColumns] = {e->user_id,         e->event_type,  e->dedupe_key,
                                        e->url,             e->content_type, e->body,
                                        e->params_json,     param(p, "To"),  param(p, "From"),
                                        body_text,          param_of(p, {"MessageSid", "SmsSid"}), segments(p, ours),
                                        param(p, "AccountSid"), std::string(encoding(ours))};
        for (std::size_t c = 0; c < kColumns; ++c) columns[c].push_back(std::move(row[c]));
    }
    g_inbound_sms_batch.run_arrays(columns);
}

}  // namespace byo::pg
