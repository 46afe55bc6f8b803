#include "pg/log_redaction.hpp"

#include <strings.h>

#include <cstring>

extern "C" {
#include "postgres.h"

#include "tcop/tcopprot.h"
#include "utils/elog.h"
#include "utils/memutils.h"
}

namespace byo::pg {

namespace {

emit_log_hook_type previous_hook = nullptr;

// Functions whose arguments include a plaintext token.
const char* const kSecretTakingFunctions[] = {
    "save_settings", "set_platform_account", "compute_signature", "validate_signature",
    "_check_formats", "_check_credentials", "_seal_token", "_verified_envelope",
};

bool contains_ci(const char* haystack, const char* needle) noexcept {
    const std::size_t n = std::strlen(needle);
    for (const char* p = haystack; *p; ++p)
        if (strncasecmp(p, needle, n) == 0) return true;
    return false;
}

// Log lines that carry the statement in their message rather than in STATEMENT: (log_statement,
// log_min_duration_statement) start with one of these.
bool message_is_statement(const char* message) noexcept {
    return std::strncmp(message, "statement: ", 11) == 0 || std::strncmp(message, "execute ", 8) == 0 ||
           (std::strncmp(message, "duration: ", 10) == 0 && std::strstr(message, "statement: ")) ||
           (std::strncmp(message, "duration: ", 10) == 0 && std::strstr(message, "execute "));
}

// Runs inside error reporting: no exceptions, no ereport, only allocation in ErrorContext.
void redact(ErrorData* edata) noexcept {
    if (debug_query_string && query_carries_secret(debug_query_string)) edata->hide_stmt = true;
    if (edata->message && message_is_statement(edata->message) && query_carries_secret(edata->message)) {
        MemoryContext old = MemoryContextSwitchTo(ErrorContext);
        edata->message = pstrdup("statement: <hidden by byo_twilio: it passes an auth token>");
        MemoryContextSwitchTo(old);
    }
    // The postmaster reports a crashed backend's query in the detail ("Failed process was running: ...").
    if (edata->detail && query_carries_secret(edata->detail)) {
        MemoryContext old = MemoryContextSwitchTo(ErrorContext);
        edata->detail = pstrdup("the statement is hidden by byo_twilio: it passes an auth token");
        MemoryContextSwitchTo(old);
    }
}

void on_emit_log(ErrorData* edata) {
    redact(edata);
    if (previous_hook) previous_hook(edata);
}

}  // namespace

bool query_carries_secret(const char* query) noexcept {
    if (!contains_ci(query, "twilio")) return false;
    for (const char* fn : kSecretTakingFunctions)
        if (contains_ci(query, fn)) return true;
    return false;
}

void install_log_redaction() {
    previous_hook = emit_log_hook;
    emit_log_hook = on_emit_log;
}

}  // namespace byo::pg
