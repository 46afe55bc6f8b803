#include "api_sql.hpp"

#include <curl/curl.h>

#include "api_claims.hpp"
#include "utf8.hpp"

namespace byo::relay::api {

namespace {

constexpr std::size_t kMaxParams = 16, kMaxParamBytes = 512;

std::optional<std::string> unescape(std::string_view s) {
    int len = 0;
    // A NULL handle is allowed since libcurl 7.82.
    char* out = curl_easy_unescape(nullptr, s.data(), static_cast<int>(s.size()), &len);
    if (!out) return std::nullopt;
    std::string v(out, static_cast<std::size_t>(len));
    curl_free(out);
    if (v.find('\0') != std::string::npos || !valid_utf8(v)) return std::nullopt;
    return v;
}

// Lists newest first, in pages: `limit` (default 50, at most 200) items created before the item `before` (its
// id) or before a time (`before` as a timestamp). Ids are UUIDs, timestamps everything else; a bad value of
// either is the cast's 22P02/22007, a 400.
constexpr const char* kConversations = R"SQL(
SELECT jsonb_build_object('conversations',
         coalesce(jsonb_agg(to_jsonb(c) - 'user_id' ORDER BY c.created_at DESC, c.id DESC), '[]'::jsonb))::text
  FROM (SELECT * FROM twilio.conversations
         WHERE ($2::uuid IS NULL OR (created_at, id) < (SELECT b.created_at, b.id FROM twilio.conversations b
                                                           WHERE b.id = $2::uuid))
           AND ($3::timestamptz IS NULL OR created_at < $3::timestamptz)
         ORDER BY created_at DESC, id DESC
         LIMIT least(coalesce($1::integer, 50), 200)) c)SQL";

constexpr const char* kMessages = R"SQL(
SELECT jsonb_build_object('messages',
         coalesce(jsonb_agg(to_jsonb(m) - 'user_id' ORDER BY m.created_at DESC, m.id DESC), '[]'::jsonb))::text
  FROM (SELECT * FROM twilio.messages
         WHERE ($4::uuid IS NULL OR conversation_id = $4::uuid)
           AND ($2::uuid IS NULL OR (created_at, id) < (SELECT b.created_at, b.id FROM twilio.messages b
                                                           WHERE b.id = $2::uuid))
           AND ($3::timestamptz IS NULL OR created_at < $3::timestamptz)
         ORDER BY created_at DESC, id DESC
         LIMIT least(coalesce($1::integer, 50), 200)) m)SQL";

constexpr const char* kCampaigns = R"SQL(
SELECT jsonb_build_object('campaigns',
         coalesce(jsonb_agg(to_jsonb(c) - 'user_id' ORDER BY c.created_at DESC, c.id DESC), '[]'::jsonb))::text
  FROM (SELECT * FROM twilio.campaigns ORDER BY created_at DESC, id DESC LIMIT 1000) c)SQL";

// limit, before-as-id, before-as-time.
std::vector<std::optional<std::string>> page_params(const QueryParams& q) {
    const auto before = query_value(q, "before");
    const bool id = before && is_uuid(*before);
    return {query_value(q, "limit"), id ? before : std::nullopt, id ? std::nullopt : before};
}

// Reads body[name]: a string, or absent/null (SQL NULL). Anything else is the caller's mistake.
bool field(const nlohmann::json& body, const char* name, std::vector<std::optional<std::string>>& params,
           std::string& error) {
    const auto it = body.find(name);
    if (it == body.end() || it->is_null()) {
        params.emplace_back(std::nullopt);
        return true;
    }
    if (!it->is_string()) {
        error = std::string("\"") + name + "\" must be a string";
        return false;
    }
    params.emplace_back(it->get<std::string>());
    return true;
}

// Reads body[name]: an array of strings (sent as its JSON text, which the SQL turns into text[]), or absent/null.
bool string_list(const nlohmann::json& body, const char* name, std::vector<std::optional<std::string>>& params,
                 std::string& error) {
    const auto it = body.find(name);
    if (it == body.end() || it->is_null()) {
        params.emplace_back(std::nullopt);
        return true;
    }
    bool strings = it->is_array();
    for (const auto& item : *it)
        if (!item.is_string()) strings = false;
    if (!strings) {
        error = std::string("\"") + name + "\" must be an array of strings";
        return false;
    }
    params.emplace_back(it->dump());
    return true;
}

// A send with the body's string fields, then its media (an array of strings, or absent).
BuildResult send_with_media(const char* sql, const nlohmann::json& body, std::initializer_list<const char*> names,
                            const char* media, std::vector<std::optional<std::string>> first = {}) {
    BuildResult r = from_body(sql, body, names, std::move(first));
    if (r.ok && !string_list(body, media, r.call.params, r.message)) r.ok = false;
    return r;
}

}  // namespace

BuildResult from_body(const char* sql, const nlohmann::json& body, std::initializer_list<const char*> names,
                      std::vector<std::optional<std::string>> first, BodyField read) {
    if (!read) read = field;
    BuildResult r;
    r.call.sql = sql;
    r.call.read_only = false;
    r.call.params = std::move(first);
    for (const char* n : names)
        if (!read(body, n, r.call.params, r.message)) return r;
    r.ok = true;
    return r;
}

std::optional<std::string> query_value(const QueryParams& q, const char* name) {
    const auto it = q.find(name);
    if (it == q.end() || it->second.empty()) return std::nullopt;
    return it->second;
}

BuildResult fixed(const char* sql, bool read_only, std::vector<std::optional<std::string>> params) {
    BuildResult r;
    r.ok = true;
    r.call.sql = sql;
    r.call.params = std::move(params);
    r.call.read_only = read_only;
    return r;
}

bool parse_query(std::string_view raw, QueryParams& out, std::string& error) {
    while (!raw.empty()) {
        const auto amp = raw.find('&');
        const std::string_view pair = raw.substr(0, amp);
        raw = amp == std::string_view::npos ? std::string_view() : raw.substr(amp + 1);
        if (pair.empty()) continue;
        if (out.size() >= kMaxParams || pair.size() > kMaxParamBytes) {
            error = "too many or too long query parameters";
            return false;
        }
        const auto eq = pair.find('=');
        const auto name = unescape(pair.substr(0, eq));
        const auto value = unescape(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
        if (!name || !value) {
            error = "a query parameter is not valid UTF-8 text";
            return false;
        }
        if (!out.emplace(*name, *value).second) {
            error = "query parameter \"" + *name + "\" is repeated";
            return false;
        }
    }
    return true;
}

BuildResult build_call(Route route, const std::string& id, const QueryParams& q, const nlohmann::json& body,
                       const std::string& n) {
    switch (route) {
    case Route::SealingKey:
        return fixed("SELECT twilio.token_sealing_key()::text", true);
    case Route::GetSettings:
        return fixed("SELECT jsonb_build_object('settings', (SELECT to_jsonb(s) FROM twilio.get_settings() s LIMIT 1))::text",
                     true);
    case Route::SaveSettings:
        return from_body("SELECT jsonb_build_object('settings', to_jsonb(s))::text "
                         "FROM twilio.save_settings($1, $2, $3, $4, $5) s",
                         body, {"account_sid", "auth_token", "conversations_service_sid", "messaging_service_sid",
                                "sms_number"});
    case Route::Disconnect:
        return fixed("SELECT jsonb_build_object('disconnected', twilio.disconnect())::text", false);
    case Route::Status:
        return fixed("SELECT to_jsonb(s)::text FROM twilio.status() s", true);
    case Route::Verify:
        return fixed("SELECT to_jsonb(s)::text FROM twilio.verify_settings() s", false);
    case Route::ListConversations:
        return fixed(kConversations, true, page_params(q));
    case Route::CreateConversation:
        return from_body("SELECT jsonb_build_object('id', twilio.get_or_create_conversation_for_lead($1::uuid, $2, $3))::text",
                         body, {"lead_id", "phone", "friendly_name"});
    case Route::ListConversationMessages: {
        auto params = page_params(q);
        params.emplace_back(id);
        return fixed(kMessages, true, std::move(params));
    }
    case Route::SendConversationMessage:
        return send_with_media(
            "SELECT jsonb_build_object('id', twilio.send_conversation_message($1::uuid, $2, "
            "ARRAY(SELECT jsonb_array_elements_text($3::jsonb))))::text",
            body, {"body"}, "media_sids", {id});
    case Route::ListMessages: {
        auto params = page_params(q);
        params.emplace_back(std::nullopt);
        return fixed(kMessages, true, std::move(params));
    }
    case Route::SendSms:
        return send_with_media(
            "SELECT jsonb_build_object('id', twilio.send_sms($1, $2, ARRAY(SELECT jsonb_array_elements_text($3::jsonb))))::text",
            body, {"to", "body"}, "media_urls");
    case Route::MediaLink: {
        // One HTTP request to Twilio inside the call; nothing is written.
        BuildResult r = fixed("SELECT jsonb_build_object('url', twilio.media_link($1::uuid, $2::integer))::text", true,
                              {id, n});
        r.call.redirect = query_value(q, "format") != std::optional<std::string>("json");
        return r;
    }
    case Route::Campaigns:
        return fixed(kCampaigns, true);
    case Route::Analytics:
        return fixed("SELECT jsonb_build_object('rows', coalesce(jsonb_agg(to_jsonb(a)), '[]'::jsonb))::text "
                     "FROM twilio.analytics($1::date, $2::date, $3::uuid) a",
                     true, {query_value(q, "from"), query_value(q, "to"), query_value(q, "campaign")});
    default:
        return build_dialer_call(route, id, q, body);
    }
    return {};
}

}  // namespace byo::relay::api
