// What differs between the PostgreSQL majors byo_twilio builds for (15 and 17), in one place: every version check
// of the extension is here, so the rest of src/pg reads the same on both. Include it after the file's PostgreSQL
// headers (it needs postgres.h, miscadmin.h and storage/proc.h, which it includes itself).
#pragma once

extern "C" {
#include "postgres.h"

#include "miscadmin.h"
#include "storage/proc.h"
}

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 180000
#error "byo_twilio supports PostgreSQL 15, 16 and 17"
#endif

namespace byo::pg {

// The calling backend's slot in ProcGlobal->allProcs, which another backend uses to set its latch. PostgreSQL 17
// replaced PGPROC.pgprocno by the global MyProcNumber (a ProcNumber).
inline int my_proc_number() {
#if PG_VERSION_NUM >= 170000
    return MyProcNumber;
#else
    return MyProc->pgprocno;
#endif
}

// The PGPROC of a slot my_proc_number() returned.
inline PGPROC* proc_by_number(int number) { return &ProcGlobal->allProcs[number]; }

}  // namespace byo::pg
