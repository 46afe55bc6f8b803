#include "core/dial_twiml.hpp"

#include "core/core_error.hpp"

namespace byo {

std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r')
                    throw CoreError(sqlstate::invalid_parameter_value,
                                    "a control character cannot be written into TwiML");
                out += c;
        }
    }
    return out;
}

std::string bridge_twiml(const std::string& caller_id, const std::string& lead, const std::string& status_callback) {
    if (caller_id.empty() || lead.empty())
        throw CoreError(sqlstate::invalid_parameter_value, "a bridged call needs a caller id and a number to dial");
    std::string number = "<Number";
    if (!status_callback.empty()) {
        std::string events;
        for (const char* e : kCallStatusEvents) events += (events.empty() ? "" : " ") + std::string(e);
        number += " statusCallbackEvent=\"" + events + "\" statusCallback=\"" + xml_escape(status_callback) + "\"";
    }
    return "<Response><Dial callerId=\"" + xml_escape(caller_id) + "\">" + number + ">" + xml_escape(lead) +
           "</Number></Dial></Response>";
}

}  // namespace byo
