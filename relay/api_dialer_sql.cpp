// The dialer's routes (docs/http-api.md#dialer): each one fixed SQL text over the twilio schema's dialer functions
// (sql/install/70_dialer_queue.sql, 71_dialer_calls.sql) or a plain statement under RLS, values as parameters.
// Functions are called positionally, in the order docs/sql-api.md gives, so a NULL argument is the function's own
// "not given" and not a default spelled out twice.
#include <array>

#include "api_sql.hpp"

namespace byo::relay::api {

namespace {

constexpr std::array<std::string_view, 5> kStatuses{"open", "in_progress", "done", "skipped", "failed"};

// The current and open actions first (the queue in the order next_action() takes it), then the finished ones,
// the latest first.
constexpr const char* kListActions = R"SQL(
SELECT jsonb_build_object('actions', coalesce(jsonb_agg(to_jsonb(a) - 'user_id'
         ORDER BY a.status <> 'in_progress', a.status <> 'open', a.completed_at DESC NULLS FIRST, a.priority DESC,
                  a.due_at, a.id), '[]'::jsonb))::text
  FROM (SELECT * FROM twilio.manual_actions
         WHERE ($1::text IS NULL OR status = ANY (string_to_array($1::text, ',')))
         ORDER BY status <> 'in_progress', status <> 'open', completed_at DESC NULLS FIRST, priority DESC, due_at, id
         LIMIT least(coalesce($2::integer, 50), 200)) a)SQL";

constexpr const char* kCreateAction = R"SQL(
SELECT jsonb_build_object('action', to_jsonb(a) - 'user_id')::text
  FROM twilio.create_action($1, $2, $3, $4::uuid, coalesce($5::timestamptz, now()), coalesce($6::integer, 0), $7, $8) a)SQL";

constexpr const char* kCreateActions = R"SQL(
SELECT jsonb_build_object('actions', coalesce(jsonb_agg(to_jsonb(a) - 'user_id' - 'ordinality' ORDER BY a.ordinality),
                                              '[]'::jsonb))::text
  FROM twilio.create_actions($1::jsonb) WITH ORDINALITY a)SQL";

// The call, its other legs (the lead's leg has the agent leg's SID as parent) and the action it works on.
constexpr const char* kGetCall = R"SQL(
SELECT jsonb_build_object('call', to_jsonb(c) - 'user_id',
         'legs', coalesce((SELECT jsonb_agg(to_jsonb(l) - 'user_id' ORDER BY l.created_at, l.id)
                             FROM twilio.voice_calls l WHERE l.parent_call_sid = c.call_sid), '[]'::jsonb),
         'action', (SELECT to_jsonb(m) - 'user_id' FROM twilio.manual_actions m WHERE m.id = c.action_id))::text
  FROM twilio.voice_calls c WHERE c.id = $1::uuid)SQL";

constexpr const char* kListDoNotCall = R"SQL(
SELECT jsonb_build_object('do_not_call',
         coalesce(jsonb_agg(to_jsonb(d) - 'user_id' ORDER BY d.created_at DESC, d.phone), '[]'::jsonb))::text
  FROM (SELECT * FROM twilio.do_not_call WHERE ($1::text IS NULL OR phone = $1::text)
         ORDER BY created_at DESC, phone LIMIT least(coalesce($2::integer, 100), 1000)) d)SQL";

// Adding a number already listed is not an error: the existing entry comes back with "added": false.
constexpr const char* kAddDoNotCall = R"SQL(
WITH added AS (
    INSERT INTO twilio.do_not_call (user_id, phone, source, reason) VALUES (auth.uid(), $1, 'manual', $2)
    ON CONFLICT (user_id, phone) DO NOTHING RETURNING *)
SELECT jsonb_build_object('entry', coalesce((SELECT to_jsonb(a) - 'user_id' FROM added a),
                                            (SELECT to_jsonb(d) - 'user_id' FROM twilio.do_not_call d WHERE d.phone = $1)),
                          'added', EXISTS (SELECT 1 FROM added))::text)SQL";

constexpr const char* kRemoveDoNotCall = R"SQL(
WITH removed AS (DELETE FROM twilio.do_not_call WHERE phone = $1 RETURNING 1)
SELECT jsonb_build_object('removed', EXISTS (SELECT 1 FROM removed))::text)SQL";

// body[name] as text: a string as is, a number or boolean as JSON spells it (SQL casts it, so "priority": 5 and
// "priority": "5" are the same), absent or null as SQL NULL. Objects and arrays are the caller's mistake.
bool scalar(const nlohmann::json& body, const char* name, std::vector<std::optional<std::string>>& params,
            std::string& error) {
    const auto it = body.find(name);
    if (it == body.end() || it->is_null()) {
        params.emplace_back(std::nullopt);
        return true;
    }
    if (it->is_string()) {
        params.emplace_back(it->get<std::string>());
        return true;
    }
    if (it->is_number() || it->is_boolean()) {
        params.emplace_back(it->dump());
        return true;
    }
    error = std::string("\"") + name + "\" must be a string, a number or a boolean";
    return false;
}

BuildResult writes(const char* sql, const nlohmann::json& body, std::initializer_list<const char*> names,
                   std::vector<std::optional<std::string>> first = {}) {
    return from_body(sql, body, names, std::move(first), scalar);
}

BuildResult bad(std::string message) {
    BuildResult r;
    r.message = std::move(message);
    return r;
}

// "open,in_progress": each a known status (a typo would otherwise list nothing, silently).
bool statuses_ok(const std::string& list) {
    std::size_t start = 0;
    for (;;) {
        const auto comma = list.find(',', start);
        const std::string_view one = std::string_view(list).substr(start, comma - start);
        bool known = false;
        for (auto s : kStatuses) known = known || s == one;
        if (!known) return false;
        if (comma == std::string::npos) return true;
        start = comma + 1;
    }
}

}  // namespace

BuildResult build_dialer_call(Route route, const std::string& id, const QueryParams& q, const nlohmann::json& body) {
    switch (route) {
    case Route::ListActions: {
        const auto status = query_value(q, "status");
        if (status && !statuses_ok(*status))
            return bad("status must be open, in_progress, done, skipped or failed (or several, comma-separated)");
        return fixed(kListActions, true, {status, query_value(q, "limit")});
    }
    case Route::CreateActions: {
        const auto many = body.find("actions");
        if (many == body.end())
            return writes(kCreateAction, body,
                          {"kind", "title", "phone", "lead_id", "due_at", "priority", "notes", "time_zone"});
        if (!many->is_array() || body.size() != 1)
            return bad("\"actions\" must be an array of actions, and the body's only field");
        BuildResult r = fixed(kCreateActions, false, {many->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
        return r;
    }
    case Route::CurrentAction:
        return fixed("SELECT jsonb_build_object('action', (SELECT to_jsonb(a) - 'user_id' FROM twilio.current_action() a "
                     "LIMIT 1))::text",
                     true);
    case Route::NextAction:
        return fixed("SELECT jsonb_build_object('action', (SELECT to_jsonb(a) - 'user_id' FROM twilio.next_action() a "
                     "LIMIT 1))::text",
                     false);
    case Route::CompleteAction:
        return writes("SELECT jsonb_build_object('next', (SELECT to_jsonb(a) - 'user_id' "
                      "FROM twilio.complete_action($1::uuid, $2, $3) a LIMIT 1))::text",
                      body, {"outcome", "notes"}, {id});
    case Route::SkipAction:
        return writes("SELECT jsonb_build_object('next', (SELECT to_jsonb(a) - 'user_id' "
                      "FROM twilio.skip_action($1::uuid, $2) a LIMIT 1))::text",
                      body, {"notes"}, {id});
    case Route::ReleaseAction:
        return fixed("SELECT jsonb_build_object('action', to_jsonb(a) - 'user_id')::text FROM twilio.release_action($1::uuid) a",
                     false, {id});
    case Route::Dial:
        return writes("SELECT jsonb_build_object('call', to_jsonb(c) - 'user_id')::text "
                      "FROM twilio.dial($1::uuid, $2, $3, $4) c",
                      body, {"action_id", "lead_phone", "agent_phone", "time_zone"});
    case Route::GetCall: {
        BuildResult r = fixed(kGetCall, true, {id});
        r.call.not_found = "no call with this id";
        return r;
    }
    case Route::GetDialerSettings:
        return fixed("SELECT jsonb_build_object('settings', to_jsonb(s) - 'user_id')::text FROM twilio.get_dialer_settings() s",
                     true);
    case Route::SaveDialerSettings:
        return writes("SELECT jsonb_build_object('settings', to_jsonb(s) - 'user_id')::text "
                      "FROM twilio.save_dialer_settings($1, $2::time, $3::time, $4, $5::boolean) s",
                      body, {"agent_phone", "calling_hours_start", "calling_hours_end", "default_time_zone", "auto_advance"});
    case Route::ListDoNotCall:
        return fixed(kListDoNotCall, true, {query_value(q, "phone"), query_value(q, "limit")});
    case Route::AddDoNotCall:
        return writes(kAddDoNotCall, body, {"phone", "reason"});
    case Route::RemoveDoNotCall: {
        const auto phone = query_value(q, "phone");
        if (!phone) return bad("the query parameter phone is required (the number to remove, %2B for +)");
        return fixed(kRemoveDoNotCall, false, {phone});
    }
    default:
        return bad("no such route");
    }
}

}  // namespace byo::relay::api
