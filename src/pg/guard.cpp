#include "pg/guard.hpp"

#include <cstdio>
#include <cstring>

extern "C" {
#include "miscadmin.h"
}

namespace byo::pg {

void fill_pending(PendingError& err, const char* sqlstate, const char* message, const char* hint) noexcept {
    snprintf(err.sqlstate, sizeof err.sqlstate, "%s", sqlstate);
    snprintf(err.message, sizeof err.message, "%s", message);
    snprintf(err.hint, sizeof err.hint, "%s", hint);
}

void raise_pending(const PendingError& err) {
    if (err.pg_error) ReThrowError(err.pg_error);
    if (err.interrupted) {
        CHECK_FOR_INTERRUPTS();  // raises the cancel or termination that stopped the transfer
        ereport(ERROR, (errcode(ERRCODE_QUERY_CANCELED), errmsg("Twilio request interrupted")));
    }
    const char* s = err.sqlstate;
    int code = (std::strlen(s) == 5) ? MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]) : ERRCODE_INTERNAL_ERROR;
    ereport(ERROR, (errcode(code), errmsg("%s", err.message), err.hint[0] ? errhint("%s", err.hint) : 0));
    pg_unreachable();
}

}  // namespace byo::pg
