// Extension entry: settings and the log-redaction hook. libcurl and OpenSSL are initialised lazily in backends, never here
// (this runs in the postmaster when the library is preloaded).
#include "pg/config.hpp"
#include "pg/guard.hpp"
#include "pg/log_redaction.hpp"

extern "C" {
PG_MODULE_MAGIC;
void _PG_init(void);
}

void _PG_init(void) {
    byo::pg::guard([]() -> Datum {
        byo::pg::pg_call([] { byo::pg::define_settings(); });
        byo::pg::install_log_redaction();
        return (Datum)0;
    });
}
