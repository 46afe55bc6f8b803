// Refuses ALTER SYSTEM SET byo_twilio.encryption_key: the statement's text carries the keys, and
// pg_stat_statements and pg_stat_activity keep statement text where the log hook cannot reach. Keys go in
// postgresql.conf or byo_twilio.encryption_key_file (docs/security.md).
#pragma once

namespace byo::pg {

void install_alter_system_guard();  // called from _PG_init

}  // namespace byo::pg
