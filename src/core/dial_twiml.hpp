// The TwiML of a click-to-call: Twilio calls the agent first and, once the agent answers, runs this document,
// which bridges the call to the lead with the user's own number as caller id. It is sent inline (the Calls API's
// Twiml parameter), so the bridge is fixed when the call is placed and no server has to answer Twilio mid-call.
#pragma once
#include <string>
#include <string_view>

namespace byo {

// Text made safe for an XML attribute value or element content: & < > " ' become entities. Control characters
// XML 1.0 cannot carry (below U+0020 except tab, newline and carriage return) throw CoreError 22023.
std::string xml_escape(std::string_view text);

// <Response><Dial callerId="{caller_id}"><Number statusCallbackEvent="initiated ringing answered completed"
// statusCallback="{status_callback}">{lead}</Number></Dial></Response>, every value escaped. With an empty
// status_callback both status attributes are left out (the lead leg then reports nothing). Throws CoreError 22023
// when caller_id or lead is empty.
std::string bridge_twiml(const std::string& caller_id, const std::string& lead, const std::string& status_callback);

// The events Twilio reports for each leg (the Calls API's StatusCallbackEvent values; the <Number> attribute
// takes them space-separated).
inline constexpr const char* kCallStatusEvents[] = {"initiated", "ringing", "answered", "completed"};

}  // namespace byo
