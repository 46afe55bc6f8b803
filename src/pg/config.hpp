// Server settings (byo_twilio.*) and what the SQL functions derive from them: the keyring, Twilio endpoints,
// HTTP options and the backend's HTTP client.
#pragma once
#include <string>

#include "core/http_client.hpp"
#include "core/keyring.hpp"
#include "core/twilio_account_check.hpp"

namespace byo::pg {

void define_settings();  // called from _PG_init

// Parsed on each use, so a reload takes effect at once. Throws CoreError when missing or malformed.
Keyring current_keyring();

TwilioEndpoints twilio_endpoints();
HttpOptions http_options();  // timeouts and CA file from settings; aborts on cancel or termination

struct DispatcherSettings {
    int concurrency;               // HTTP requests in flight at once
    int batch_size;                // jobs claimed per pass
    double max_segments_per_second;  // per user, unless user_settings overrides
    int max_concurrent_per_account;  // requests in flight per Twilio account
    std::string webhook_base_url;  // status callbacks go to <this>/twilio/<webhook_key>/status
    int reconcile_delay_ms;        // wait before looking up a request of unknown outcome
    double max_calls_per_second;   // click-to-call creates per Twilio account
};
DispatcherSettings dispatcher_settings();
const char* dispatcher_database();  // the database the dispatcher serves (postmaster-level setting)
std::string webhook_base_url();     // byo_twilio.webhook_base_url, "" when not set
bool accept_plaintext_tokens();     // byo_twilio.accept_plaintext_tokens: save_settings may take an unsealed token

// One client per backend, created on first use (after fork) so connections to Twilio are reused.
HttpClient& backend_http_client();

}  // namespace byo::pg
