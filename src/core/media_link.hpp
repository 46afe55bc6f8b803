// Short-lived links to a message's media. Twilio keeps media behind the account's credentials: an MMS's media
// resource answers an authenticated GET with a redirect to a temporary URL, and a Conversations media resource
// (Media Content Service) with JSON whose links.content_direct_temporary is one. These build that GET and read
// the link out of the answer, so apps get a URL that needs no credentials and expires.
#pragma once
#include <string>

#include "core/http_client.hpp"
#include "core/twilio_account_check.hpp"

namespace byo {

struct MediaRef {
    std::string account_sid;
    const Secret* auth_token = nullptr;
    std::string media_sid;    // ME...
    std::string message_sid;  // MMS: the SM/MM message the media belongs to
    std::string service_sid;  // Conversations: the IS... service (empty for an MMS)
};

// GET <api>/2010-04-01/Accounts/{AC}/Messages/{SM|MM}/Media/{ME} (no .json: the media itself, which Twilio
// answers with a redirect) for an MMS, or GET <media>/v1/Services/{IS}/Media/{ME} for Conversations, with Basic
// auth. The URL is built from SIDs checked here, never from a URL a webhook brought, so the credentials only go
// to the configured Twilio hosts. Throws CoreError 22023 when a SID is malformed.
HttpRequest media_link_request(const TwilioEndpoints& endpoints, const MediaRef& media);

// The temporary link in Twilio's answer: an https Location of a 3xx (MMS) or the https
// links.content_direct_temporary of a 2xx JSON answer (Conversations). Throws CoreError: 42704 when Twilio has no
// such media (404), 28000 when it refused the credentials (401/403), 08000 when Twilio was unreachable, slow or
// unavailable (429, 5xx), 08P01 for any other answer. Aborted transfers throw Interrupted.
std::string media_link_from(const HttpOutcome& outcome, bool conversations);

}  // namespace byo
