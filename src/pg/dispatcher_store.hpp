// The dispatcher's SQL: each call is one short transaction of its own (claim, record, sweep), through SPI.
// PostgreSQL errors come back as PgError (pg_call); the worker loop decides what to do with them.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/outbox_step.hpp"

namespace byo::pg {

bool extension_installed();                           // byo_twilio is in this database
int sweep_outbox(int reconcile_delay_ms);              // twilio._sweep_outbox(delay)
std::vector<OutboxJob> claim_outbox(int max_rows);     // twilio._claim_outbox(max_rows)
void finish_outbox(const std::string& results_json);   // twilio._finish_outbox(results)
// An in-flight job whose outcome the tables refused: failed, with `why`, and its message (if still queued)
// 'unknown'; nothing is sent again for it.
void fail_unrecorded(const std::string& user_id, long long id, const std::string& why);
std::optional<double> next_due_ms();                   // twilio._next_due_ms()

}  // namespace byo::pg
