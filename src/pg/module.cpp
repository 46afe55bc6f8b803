// Extension entry: settings, the log-redaction and ALTER SYSTEM hooks, and (when preloaded) the dispatcher worker. libcurl and OpenSSL are initialised lazily in backends, never here
// (this runs in the postmaster when the library is preloaded).
#include "pg/alter_system_guard.hpp"
#include "pg/config.hpp"
#include "pg/guard.hpp"
#include "pg/log_redaction.hpp"
#include "pg/dispatcher_shmem.hpp"
#include "pg/dispatcher_worker.hpp"

extern "C" {
#include "miscadmin.h"
}

extern "C" {
PG_MODULE_MAGIC;
void _PG_init(void);
}

void _PG_init(void) {
    byo::pg::guard([]() -> Datum {
        byo::pg::pg_call([] { byo::pg::define_settings(); });
        byo::pg::install_log_redaction();
        byo::pg::install_alter_system_guard();
        // The dispatcher and its wake-up slot exist only when preloaded (shared_preload_libraries).
        if (process_shared_preload_libraries_in_progress) {
            byo::pg::pg_call([] {
                byo::pg::dispatcher_shmem_install_hooks();
                byo::pg::register_dispatcher_worker();
            });
        }
        return (Datum)0;
    });
}
