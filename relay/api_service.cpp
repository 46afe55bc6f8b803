#include "api_service.hpp"

#include <strings.h>

#include <ctime>

#include "api_claims.hpp"
#include "api_errors.hpp"
#include "api_routes.hpp"
#include "config.hpp"
#include "json_log.hpp"

namespace byo::relay::api {

namespace {

namespace http = boost::beast::http;

// Deeper JSON than this is no API body of ours; refusing it bounds the parser's work and the value's nesting.
constexpr std::size_t kMaxJsonDepth = 8;
struct TooDeep {};

HttpResponse json_response(int status, std::string body, const HeaderList& extra) {
    HttpResponse res = text_response(status, std::move(body), "application/json; charset=utf-8");
    res.set(http::field::cache_control, "no-store");
    for (const auto& [name, value] : extra) res.set(name, value);
    return res;
}

HttpResponse error_response(int status, std::string_view code, std::string_view message, const HeaderList& extra,
                            std::string_view detail = {}, std::string_view hint = {},
                            const std::optional<std::string>& check = std::nullopt) {
    return json_response(status, error_body(code, message, detail, hint, check).dump(-1, ' ', false,
                                                                                     nlohmann::json::error_handler_t::replace),
                         extra);
}

std::string header(const HttpRequest& req, http::field f) {
    const auto it = req.find(f);
    return it == req.end() ? std::string() : std::string(it->value());
}

std::optional<nlohmann::json> parse_body(const std::string& text) {
    try {
        auto cb = [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
            if (static_cast<std::size_t>(depth) > kMaxJsonDepth) throw TooDeep{};
            return true;
        };
        nlohmann::json j = nlohmann::json::parse(text, cb, false);
        if (j.is_discarded() || !j.is_object()) return std::nullopt;
        return j;
    } catch (const TooDeep&) {
        return std::nullopt;
    }
}

}  // namespace

ApiService::ApiService(const ApiConfig& config, std::chrono::milliseconds db_timeout)
    : config_(config),
      db_timeout_(db_timeout),
      cors_(config.cors_origins),
      limiter_(config.rate, config.burst),
      pool_(config.database_url, config.pool_size, db_timeout),
      executor_(pool_, config.queue_max) {
    std::string error;
    if (!config.jwks_url.empty())
        keys_url_ = std::make_unique<JwksUrl>(JwksUrlSettings{config.jwt_secret, config.jwks_url, config.jwks_ca_file,
                                                              std::chrono::seconds(config.jwks_refresh_seconds)});
    else if (!keys_file_.init(config.jwt_secret, config.jwks_file, error))
        throw ConfigError(error);
}

ApiService::~ApiService() { stop(); }

void ApiService::stop() {
    executor_.stop();
    pool_.close_all();
}

void ApiService::handle(HttpRequest&& req, Responder reply) {
    const std::string target(req.target());
    const auto q = target.find('?');
    const std::string path = target.substr(0, q);
    const std::string query = q == std::string::npos ? std::string() : target.substr(q + 1);
    const std::string origin = header(req, http::field::origin);
    const HeaderList cors = cors_.answer_headers(origin);
    const std::string method(req.method_string());

    const RouteMatch m = match_route(method, path);
    if (m.kind == RouteMatch::NotFound) return reply(error_response(404, "http_not_found", "no such API route", cors));
    if (m.kind == RouteMatch::WrongMethod) {
        HttpResponse res = error_response(405, "http_method_not_allowed", "method not allowed here", cors);
        res.set(http::field::allow, m.allow);
        return reply(std::move(res));
    }
    if (method == "OPTIONS") {
        if (!cors_.allows(origin))
            return reply(error_response(403, "http_cors_origin", "origin not allowed (BYO_TWILIO_API_CORS_ORIGINS)",
                                        cors));
        HttpResponse res = json_response(204, "", cors_.preflight_headers(origin, m.allow));
        res.body().clear();
        return reply(std::move(res));
    }

    // Authentication: only "Authorization: Bearer <jwt>"; anything else is 401 and runs nothing (never anon).
    HeaderList unauthorized = cors;
    const std::string auth = header(req, http::field::authorization);
    if (auth.size() < 8 || strncasecmp(auth.c_str(), "Bearer ", 7) != 0) {
        unauthorized.emplace_back("WWW-Authenticate", "Bearer");
        return reply(error_response(401, "http_unauthorized", "Authorization: Bearer <JWT> required", unauthorized));
    }
    const auto keys = keys_url_ ? keys_url_->current() : keys_file_.current();
    JwtResult jwt = verify_jwt(std::string_view(auth).substr(7), *keys);
    if (jwt.unknown_key && keys_url_) keys_url_->unknown_kid();
    std::string sub;
    if (jwt.ok) {
        ClaimRules rules;
        rules.audience = config_.jwt_aud;
        rules.issuer = config_.jwt_iss;
        const ClaimCheck c = check_claims(jwt.claims, static_cast<std::int64_t>(std::time(nullptr)), rules);
        if (!c.ok) jwt = {false, c.message, {}};
        sub = c.sub;
    }
    if (!jwt.ok) {
        unauthorized.emplace_back("WWW-Authenticate",
                                  "Bearer error=\"invalid_token\", error_description=\"" + jwt.message + "\"");
        return reply(error_response(401, "http_invalid_token", jwt.message, unauthorized));
    }

    if (const int wait = limiter_.take(sub, RateLimiter::Clock::now()); wait > 0) {
        HeaderList h = cors;
        h.emplace_back("Retry-After", std::to_string(wait));
        return reply(error_response(429, "http_too_many_requests", "request rate limit reached for this user", h));
    }

    nlohmann::json body = nlohmann::json::object();
    const Body body_rule = takes_body(m.route);
    if (body_rule == Body::Required || (body_rule == Body::Optional && !req.body().empty())) {
        if (req.body().size() > config_.body_limit)
            return reply(error_response(413, "http_payload_too_large", "request body too large", cors));
        const std::string ctype = header(req, http::field::content_type);
        if (strncasecmp(ctype.c_str(), "application/json", 16) != 0)
            return reply(error_response(415, "http_unsupported_media_type", "Content-Type must be application/json",
                                        cors));
        auto parsed = parse_body(req.body());
        if (!parsed)
            return reply(error_response(400, "http_bad_json", "the body must be a JSON object (nesting at most 8)",
                                        cors));
        body = std::move(*parsed);
    }
    QueryParams params;
    std::string error;
    if (!parse_query(query, params, error)) return reply(error_response(400, "http_bad_query", error, cors));
    BuildResult built = build_call(m.route, m.id, params, body, m.n);
    if (!built.ok) return reply(error_response(400, "http_bad_request", built.message, cors));

    // "Prefer: tx=rollback", as PostgREST spells it: the call runs and answers, then nothing it wrote stays. A
    // client checks whether a write would pass (the dialer's Call button asks POST /calls) without making it.
    const bool rollback = prefers_rollback(header(req, http::field::prefer));
    HeaderList answer_headers = cors;
    if (rollback) answer_headers.emplace_back("Preference-Applied", "tx=rollback");
    const char* not_found = built.call.not_found;
    const bool redirect = built.call.redirect;
    ApiCall call{std::move(built.call), jwt.claims.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                 method, path, Clock::now() + db_timeout_, rollback};
    const bool queued = executor_.submit(std::move(call), [reply, cors, answer_headers, not_found,
                                                           redirect](ApiOutcome&& o) {
        if (o.ok && not_found && o.json == "null")
            return reply(error_response(404, "http_not_found", not_found, cors));
        if (o.ok && redirect) {  // a media link: short-lived, so never cached
            const auto doc = nlohmann::json::parse(o.json, nullptr, false);
            const auto url = doc.is_object() ? doc.find("url") : doc.end();
            if (doc.is_object() && url != doc.end() && url->is_string()) {
                HeaderList h = answer_headers;
                h.emplace_back("Cache-Control", "no-store");
                HttpResponse res = json_response(302, std::move(o.json), h);
                res.set(http::field::location, url->get<std::string>());
                return reply(std::move(res));
            }
        }
        if (o.ok) return reply(json_response(200, std::move(o.json), answer_headers));
        const ErrorStatus s = status_for_sql_error(o.sqlstate, o.detail);
        HeaderList h = cors;
        if (s.retry_after) h.emplace_back("Retry-After", "5");
        reply(error_response(s.status, o.sqlstate.empty() ? "http_unavailable" : o.sqlstate, o.message, h, o.detail,
                             o.hint, s.check));
    });
    if (!queued) {
        HeaderList h = cors;
        h.emplace_back("Retry-After", "5");
        reply(error_response(503, "http_unavailable", "too many API calls waiting; retry later", h));
    }
}

HttpResponse api_disabled_response() {
    return error_response(404, "http_api_disabled", "the API is not enabled on this relay", {});
}

}  // namespace byo::relay::api
