// A message's delivery status only moves forward: queued/accepted/scheduled, sending, sent, then a final state,
// then read. A late "sent" after "delivered" is recorded in the event log but does not regress the message.
#pragma once
#include <string_view>

namespace byo {

// The status's rung on that ladder: 1 queued, accepted, scheduled; 2 sending; 3 sent; 4 delivered,
// partially_delivered, undelivered, failed, canceled; 5 read; 0 anything else (unknown, received, ...).
int status_rank(std::string_view status);

// Whether a status callback may apply this status to a message (every status with a rank).
inline bool is_delivery_status(std::string_view status) { return status_rank(status) > 0; }

}  // namespace byo
