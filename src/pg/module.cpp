// Extension entry: settings only. libcurl and OpenSSL are initialised lazily in backends, never here
// (this runs in the postmaster when the library is preloaded).
#include "pg/config.hpp"
#include "pg/guard.hpp"

extern "C" {
PG_MODULE_MAGIC;
void _PG_init(void);
}

void _PG_init(void) {
    byo::pg::guard([]() -> Datum {
        byo::pg::pg_call([] { byo::pg::define_settings(); });
        return (Datum)0;
    });
}
