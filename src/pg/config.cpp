#include "pg/config.hpp"

#include <fstream>
#include <sstream>

#include "core/core_error.hpp"
#include "core/secret.hpp"

extern "C" {
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/guc.h"
}

namespace byo::pg {

namespace {

char* encryption_key = nullptr;
char* encryption_key_file = nullptr;
char* api_base_url = nullptr;
char* conversations_base_url = nullptr;
char* messaging_base_url = nullptr;
char* media_base_url = nullptr;
char* http_ca_file = nullptr;
int http_connect_timeout_ms = 5000;
int http_timeout_ms = 15000;

char* dispatcher_db = nullptr;
int dispatcher_concurrency_setting = 32;
int dispatcher_batch_size_setting = 256;
double max_segments_per_second_setting = 10;
int max_concurrent_per_account_setting = 16;
char* webhook_base_url_setting = nullptr;
int reconcile_delay_ms_setting = 10000;
double max_calls_per_second_setting = 1;
bool accept_plaintext_tokens_setting = false;

HttpClient* client = nullptr;

void free_client(int, Datum) {
    delete client;
    client = nullptr;
}

std::string text_or_empty(const char* s) { return s ? std::string(s) : std::string(); }

}  // namespace

void define_settings() {
    // Secrets: only postgresql.conf / ALTER SYSTEM (PGC_SIGHUP), readable by superusers only, absent from
    // SHOW ALL. No check hook: PostgreSQL would print a rejected value, key included, in its error message.
    DefineCustomStringVariable("byo_twilio.encryption_key",
                               "Keys that encrypt stored auth tokens: ID:HEX64 entries, newest first.", nullptr,
                               &encryption_key, "", PGC_SIGHUP,
                               GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE, nullptr, nullptr, nullptr);
    DefineCustomStringVariable("byo_twilio.encryption_key_file",
                               "File holding byo_twilio.encryption_key's value, used when that setting is empty.",
                               nullptr, &encryption_key_file, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY, nullptr, nullptr,
                               nullptr);
    // Where Twilio requests go. Superuser-only, so no client can point another user's token elsewhere.
    DefineCustomStringVariable("byo_twilio.api_base_url", "Base URL of Twilio's REST API (2010-04-01).", nullptr,
                               &api_base_url, "https://api.twilio.com", PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable("byo_twilio.conversations_base_url", "Base URL of Twilio Conversations v1.",
                               nullptr, &conversations_base_url, "https://conversations.twilio.com", PGC_SUSET, 0,
                               nullptr, nullptr, nullptr);
    DefineCustomStringVariable("byo_twilio.messaging_base_url", "Base URL of Twilio Messaging v1.", nullptr,
                               &messaging_base_url, "https://messaging.twilio.com", PGC_SUSET, 0, nullptr, nullptr,
                               nullptr);
    DefineCustomStringVariable("byo_twilio.media_base_url",
                               "Base URL of Twilio's Media Content Service (Conversations media).", nullptr,
                               &media_base_url, "https://mcs.us1.twilio.com", PGC_SUSET, 0, nullptr, nullptr,
                               nullptr);
    DefineCustomStringVariable("byo_twilio.http_ca_file",
                               "CA bundle for TLS verification of Twilio hosts (empty: the system store).", nullptr,
                               &http_ca_file, "", PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("byo_twilio.http_connect_timeout_ms", "Connect timeout for requests to Twilio.",
                            nullptr, &http_connect_timeout_ms, 5000, 100, 60000, PGC_SUSET, GUC_UNIT_MS, nullptr,
                            nullptr, nullptr);
    DefineCustomIntVariable("byo_twilio.http_timeout_ms", "Total timeout for one request to Twilio.", nullptr,
                            &http_timeout_ms, 15000, 100, 300000, PGC_SUSET, GUC_UNIT_MS, nullptr, nullptr,
                            nullptr);
    DefineCustomStringVariable("byo_twilio.database", "Database whose outbox the dispatcher drains.", nullptr,
                               &dispatcher_db, "postgres", PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("byo_twilio.dispatcher_concurrency", "Requests to Twilio in flight at once.", nullptr,
                            &dispatcher_concurrency_setting, 32, 1, 512, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("byo_twilio.dispatcher_batch_size", "Outbox jobs the dispatcher claims per pass.",
                            nullptr, &dispatcher_batch_size_setting, 256, 1, 10000, PGC_SIGHUP, 0, nullptr, nullptr,
                            nullptr);
    DefineCustomRealVariable("byo_twilio.max_segments_per_second",
                             "Default per-user sending rate, in SMS segments per second.", nullptr,
                             &max_segments_per_second_setting, 10, 0.01, 100000, PGC_SIGHUP, 0, nullptr, nullptr,
                             nullptr);
    DefineCustomIntVariable("byo_twilio.max_concurrent_per_account",
                            "Requests in flight at once per Twilio account (Twilio answers 429 beyond its limit).",
                            nullptr, &max_concurrent_per_account_setting, 16, 1, 1000, PGC_SIGHUP, 0, nullptr,
                            nullptr, nullptr);
    DefineCustomStringVariable("byo_twilio.webhook_base_url",
                               "Public base URL of the webhook relay (status callbacks); empty: none.", nullptr,
                               &webhook_base_url_setting, "", PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("byo_twilio.reconcile_delay_ms",
                            "How long after an ambiguous request the dispatcher looks it up at Twilio.", nullptr,
                            &reconcile_delay_ms_setting, 10000, 0, 600000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr,
                            nullptr);
    DefineCustomRealVariable("byo_twilio.max_calls_per_second",
                             "Calls the dispatcher places per second per Twilio account (click-to-call).", nullptr,
                             &max_calls_per_second_setting, 1, 0.01, 1000, PGC_SIGHUP, 0, nullptr, nullptr,
                             nullptr);
    // Off: save_settings and set_platform_account take only sealed tokens (core/token_seal.hpp), so no plaintext
    // token can sit in a statement, a bind parameter or a log line. Superuser-only, so no client can turn it on.
    DefineCustomBoolVariable("byo_twilio.accept_plaintext_tokens",
                             "Whether save_settings and set_platform_account accept an auth token that is not sealed.",
                             nullptr, &accept_plaintext_tokens_setting, false, PGC_SUSET, 0, nullptr, nullptr,
                             nullptr);
    MarkGUCPrefixReserved("byo_twilio");
}

Keyring current_keyring() {
    if (encryption_key && encryption_key[0]) return Keyring::parse(encryption_key);
    if (encryption_key_file && encryption_key_file[0]) {
        std::ifstream in(encryption_key_file);
        if (!in)
            throw CoreError("58P01", "could not read byo_twilio.encryption_key_file",
                            "The file must exist and be readable by the PostgreSQL server's OS user.");
        std::ostringstream buf;
        buf << in.rdbuf();
        Secret spec(buf.str());
        std::string s = buf.str();
        OPENSSL_cleanse(s.data(), s.size());
        return Keyring::parse(spec.view());
    }
    return Keyring();
}

TwilioEndpoints twilio_endpoints() {
    return TwilioEndpoints{text_or_empty(api_base_url), text_or_empty(conversations_base_url),
                           text_or_empty(messaging_base_url), text_or_empty(media_base_url)};
}

HttpOptions http_options() {
    HttpOptions opt;
    opt.connect_timeout_ms = http_connect_timeout_ms;
    opt.total_timeout_ms = http_timeout_ms;
    opt.ca_file = text_or_empty(http_ca_file);
    // Read-only peeks at flags the signal handlers set; the transfer stops and the guard raises the interrupt.
    opt.should_abort = [] { return QueryCancelPending || ProcDiePending; };
    return opt;
}

DispatcherSettings dispatcher_settings() {
    return DispatcherSettings{dispatcher_concurrency_setting, dispatcher_batch_size_setting,
                              max_segments_per_second_setting, max_concurrent_per_account_setting,
                              text_or_empty(webhook_base_url_setting), reconcile_delay_ms_setting,
                              max_calls_per_second_setting};
}

const char* dispatcher_database() { return dispatcher_db ? dispatcher_db : "postgres"; }

std::string webhook_base_url() { return text_or_empty(webhook_base_url_setting); }

bool accept_plaintext_tokens() { return accept_plaintext_tokens_setting; }

HttpClient& backend_http_client() {
    if (!client) {
        client = new HttpClient();
        on_proc_exit(free_client, 0);
    }
    return *client;
}

}  // namespace byo::pg
