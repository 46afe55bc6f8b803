// Applies a delivery status to one of a user's messages (by Twilio SID), forward only (core/message_status.hpp);
// a 21610 error (the recipient replied STOP) also records an opt-out. Shared by handle_webhook's status callbacks
// and, through SQL, by Conversations delivery receipts and the dispatcher's late callbacks. Needs an open
// SpiConnection; a PostgreSQL error (an ErrorCode that is not a number) is raised as PgError.
#pragma once
#include <string>

#include "pg/spi_plan.hpp"

namespace byo::pg {

// What it did, as kept in webhook_events.effect: "sent -> delivered", "late sent after delivered: not applied",
// "status received recorded only", "status for an unknown message".
std::string apply_message_status(const std::string& user_id, const SqlValue& sid, const SqlValue& new_status,
                                 const SqlValue& error_code);

}  // namespace byo::pg
