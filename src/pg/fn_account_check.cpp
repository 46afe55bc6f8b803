// SQL (internal): verify a Twilio setup against Twilio before it is saved, or re-verify a stored one.
// Format errors raise 22023; Twilio's verdict comes back as jsonb so callers can record or raise it.
#include <nlohmann/json.hpp>

#include "core/envelope.hpp"
#include "core/formats.hpp"
#include "core/twilio_account_check.hpp"
#include "pg/config.hpp"
#include "pg/datum.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(byo_check_formats);
PG_FUNCTION_INFO_V1(byo_check_credentials);
PG_FUNCTION_INFO_V1(byo_check_sealed_credentials);
}

using namespace byo;
using namespace byo::pg;

namespace {

// Reads the account SID and the optional service SIDs and number (NULL or '' = not checked), checking formats.
AccountSetup setup_from_args(FunctionCallInfo fcinfo, int sid_arg, int first_optional_arg) {
    AccountSetup s;
    s.account_sid = arg_text(fcinfo, sid_arg);
    s.conversations_service_sid = arg_text(fcinfo, first_optional_arg);
    s.messaging_service_sid = arg_text(fcinfo, first_optional_arg + 1);
    s.sms_number = arg_text(fcinfo, first_optional_arg + 2);
    require_sid("account_sid", s.account_sid, "AC");
    if (!s.conversations_service_sid.empty())
        require_sid("conversations_service_sid", s.conversations_service_sid, "IS");
    if (!s.messaging_service_sid.empty()) require_sid("messaging_service_sid", s.messaging_service_sid, "MG");
    if (!s.sms_number.empty()) require_e164("sms_number", s.sms_number);
    return s;
}

Datum verdict(const CheckResult& r) {
    nlohmann::json out = {{"ok", r.ok}};
    if (!r.ok) {
        out["failed_check"] = r.failed_check;
        out["sqlstate"] = r.sqlstate;
        out["message"] = r.message;
    }
    if (!r.account_status.empty()) out["account_status"] = r.account_status;
    if (!r.account_type.empty()) out["account_type"] = r.account_type;
    if (!r.number_owner.empty()) out["number_owner"] = r.number_owner;
    return jsonb_datum(out.dump());
}

}  // namespace

// _check_formats(account_sid, auth_token, conversations_service_sid, messaging_service_sid, sms_number):
// raises 22023 on the first malformed value, before anything is encrypted or sent.
extern "C" Datum byo_check_formats(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        if (arg_is_null(fcinfo, 0) || arg_is_null(fcinfo, 1))
            throw CoreError(sqlstate::invalid_parameter_value, "account_sid and auth_token are required");
        setup_from_args(fcinfo, 0, 2);
        Secret token = arg_secret(fcinfo, 1);
        require_auth_token(token.view());
        PG_RETURN_VOID();
    });
}

// _check_credentials(account_sid, auth_token, conversations_service_sid, messaging_service_sid, sms_number)
extern "C" Datum byo_check_credentials(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        if (arg_is_null(fcinfo, 0) || arg_is_null(fcinfo, 1))
            throw CoreError(sqlstate::invalid_parameter_value, "account_sid and auth_token are required");
        const AccountSetup setup = setup_from_args(fcinfo, 0, 2);
        Secret token = arg_secret(fcinfo, 1);
        require_auth_token(token.view());
        return verdict(verify_account_setup(backend_http_client(), http_options(), twilio_endpoints(), setup,
                                            token));
    });
}

// _check_sealed_credentials(owner, account_sid, envelope, conversations_service_sid, messaging_service_sid,
// sms_number): the same checks with the stored token.
extern "C" Datum byo_check_sealed_credentials(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        const std::string owner = arg_text(fcinfo, 0);
        Keyring ring = current_keyring();
        const AccountSetup setup = setup_from_args(fcinfo, 1, 3);
        Secret token = open_envelope(ring, arg_bytea(fcinfo, 2), envelope_context(owner, setup.account_sid));
        return verdict(verify_account_setup(backend_http_client(), http_options(), twilio_endpoints(), setup,
                                            token));
    });
}
