#include "core/message_status.hpp"

namespace byo {

int status_rank(std::string_view s) {
    if (s == "queued" || s == "accepted" || s == "scheduled") return 1;
    if (s == "sending") return 2;
    if (s == "sent") return 3;
    if (s == "delivered" || s == "partially_delivered" || s == "undelivered" || s == "failed" || s == "canceled")
        return 4;
    if (s == "read") return 5;
    return 0;
}

}  // namespace byo
