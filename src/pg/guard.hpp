// The one boundary between C++ and PostgreSQL's C code (see ../shared/CPP_IN_POSTGRES.md).
//
// guard(): every SQL-callable function runs its body through it. No C++ exception escapes: the error is copied
// into plain storage, and ereport(ERROR) runs only after the catch block closed, so every destructor has run.
// pg_call(): calls into PostgreSQL from C++ go through it, so a PostgreSQL error (longjmp) becomes a C++
// exception right there instead of jumping over live C++ objects. Keep RAII objects above it, never inside f.
#pragma once
#include <exception>
#include <new>

#include "core/core_error.hpp"

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "utils/elog.h"
#include "utils/memutils.h"
}

namespace byo::pg {

class PgError : public std::exception {
public:
    explicit PgError(ErrorData* data) : data_(data) {}
    ErrorData* data() const { return data_; }
    const char* what() const noexcept override { return "PostgreSQL error"; }

private:
    ErrorData* data_;
};

template <typename F>
void pg_call(F&& f) {
    MemoryContext cxt = CurrentMemoryContext;
    ErrorData* volatile caught = nullptr;
    PG_TRY();
    {
        f();
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(cxt);
        caught = CopyErrorData();
        FlushErrorState();
    }
    PG_END_TRY();
    if (caught) throw PgError(caught);
}

// Plain storage for an error on its way out of C++: no destructors, nothing allocated.
struct PendingError {
    char sqlstate[6];
    char message[1024];
    char hint[512];
    bool interrupted;
    ErrorData* pg_error;
};

void fill_pending(PendingError& err, const char* sqlstate, const char* message, const char* hint) noexcept;
[[noreturn]] void raise_pending(const PendingError& err);

template <typename F>
Datum guard(F&& body) noexcept {
    PendingError err{};
    try {
        return body();
    } catch (const PgError& e) {
        err.pg_error = e.data();
    } catch (const Interrupted&) {
        err.interrupted = true;
    } catch (const CoreError& e) {
        fill_pending(err, e.sqlstate().c_str(), e.what(), e.hint().c_str());
    } catch (const std::bad_alloc&) {
        fill_pending(err, "53200", "out of memory in byo_twilio", "");
    } catch (const std::exception& e) {
        fill_pending(err, "XX000", e.what(), "");
    } catch (...) {
        fill_pending(err, "XX000", "unknown C++ exception in byo_twilio", "");
    }
    raise_pending(err);
}

}  // namespace byo::pg
