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

// Functions whose arguments may include a plaintext token, and the setting that holds the keys (ALTER SYSTEM).
const char* const kSecretTakingFunctions[] = {
    "save_settings", "set_platform_account", "compute_signature", "validate_signature", "_check_formats",
    "_check_credentials", "_seal_token", "_verified_envelope", "_token_input", "encryption_key",
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

// 32 hex digits in a row: half a key, more than any ordinary message carries.
bool has_hex_run(const char* s) noexcept {
    int run = 0;
    for (; *s; ++s) {
        const char c = *s;
        run = ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) ? run + 1 : 0;
        if (run >= 32) return true;
    }
    return false;
}

void replace(char*& field, const char* with) noexcept {
    MemoryContext old = MemoryContextSwitchTo(ErrorContext);
    field = pstrdup(with);
    MemoryContextSwitchTo(old);
}

// Runs inside error reporting: no exceptions, no ereport, only allocation in ErrorContext.
void redact(ErrorData* edata) noexcept {
    // A reload logs every changed setting with its new value (the postmaster, at LOG): keys included.
    // Matched by the quoted name and a run of hex digits (a key), so a translated message (lc_messages) is hidden
    // too, and errors that only name the setting (permission denied) are left alone.
    if (edata->message && std::strstr(edata->message, "byo_twilio.encryption_key\"") && has_hex_run(edata->message))
        replace(edata->message, "parameter \"byo_twilio.encryption_key\" changed (the value is hidden by byo_twilio)");
    if (debug_query_string && query_carries_secret(debug_query_string)) {
        edata->hide_stmt = true;
        // Extended protocol: the bind values of a logged statement ("parameters: $1 = '...'").
        if (edata->detail && std::strncmp(edata->detail, "parameters: ", 12) == 0)
            replace(edata->detail, "parameters: <hidden by byo_twilio: they may include an auth token>");
    }
    if (edata->message && message_is_statement(edata->message) && query_carries_secret(edata->message))
        replace(edata->message, "statement: <hidden by byo_twilio: it passes an auth token or key>");
    // The postmaster reports a crashed backend's query in the detail ("Failed process was running: ...").
    if (edata->detail && query_carries_secret(edata->detail))
        replace(edata->detail, "the statement is hidden by byo_twilio: it passes an auth token or key");
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
