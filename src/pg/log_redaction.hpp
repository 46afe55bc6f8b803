// Keeps auth tokens out of the server log. PostgreSQL logs the statement text of a failing query
// ("STATEMENT: ..."), and log_statement / log_min_duration_statement log it too; a call such as
// `SELECT twilio.save_settings('AC...', '<token>')` would leave the token there. An emit_log_hook hides the
// statement of every log line whose query calls one of our token-taking functions.
#pragma once

namespace byo::pg {

void install_log_redaction();  // called from _PG_init

// True when a query text calls a function that takes a token argument (exposed for tests through SQL).
bool query_carries_secret(const char* query) noexcept;

}  // namespace byo::pg
