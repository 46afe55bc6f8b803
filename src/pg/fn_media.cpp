// SQL (internal): a short-lived link to one media item, fetched from Twilio with the account's stored token
// (core/media_link.cpp). twilio.media_link (30_outbound.sql) decides whose media and which account; this only
// opens the token, asks Twilio and hands back the link. The token never leaves this call.
#include "core/envelope.hpp"
#include "core/media_link.hpp"
#include "pg/config.hpp"
#include "pg/datum.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(byo_fetch_media_link);
}

using namespace byo;
using namespace byo::pg;

// _fetch_media_link(owner, account_sid, envelope, media_sid, message_sid, service_sid): message_sid for an MMS,
// service_sid for Conversations media (the other NULL).
extern "C" Datum byo_fetch_media_link(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        for (int i = 0; i < 4; ++i)
            if (arg_is_null(fcinfo, i))
                throw CoreError(sqlstate::invalid_parameter_value, "media link: owner, account, token and media SID are required");
        const std::string owner = arg_text(fcinfo, 0);
        MediaRef media;
        media.account_sid = arg_text(fcinfo, 1);
        media.media_sid = arg_text(fcinfo, 3);
        media.message_sid = arg_text(fcinfo, 4);
        media.service_sid = arg_text(fcinfo, 5);
        Keyring ring = current_keyring();
        Secret token = open_envelope(ring, arg_bytea(fcinfo, 2), envelope_context(owner, media.account_sid));
        media.auth_token = &token;
        const HttpRequest request = media_link_request(twilio_endpoints(), media);
        const HttpOutcome outcome = backend_http_client().perform(request, http_options());
        return text_datum(media_link_from(outcome, !media.service_sid.empty()));
    });
}
