// Statements run through SPI from C++: each prepared once per backend and kept (PostgreSQL re-plans a kept plan
// by itself after DDL), arguments passed as text and cast in the SQL, results copied out as strings (a bytea
// column as its raw bytes). Callers hold an SPI connection (SpiConnection) around these calls.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "pg/guard.hpp"

extern "C" {
#include "executor/spi.h"
#include "utils/resowner.h"
}

namespace byo::pg {

using SqlValue = std::optional<std::string>;  // nullopt is SQL NULL
using SqlRow = std::vector<SqlValue>;

class SavedPlan {
public:
    // Text: every $n is text. TextArrays: every $n is text[], one element per row of a set-based statement
    // (built as arrays directly, so no array literal is written and parsed again).
    enum class Args { Text, TextArrays };
    SavedPlan(const char* sql, int nargs, Args kind = Args::Text) : sql_(sql), nargs_(nargs), kind_(kind) {}
    // Runs the statement; every row of its result (INSERT ... RETURNING included).
    std::vector<SqlRow> run(const std::vector<SqlValue>& args);
    // The same for an Args::TextArrays statement: columns[n] is $n+1's elements.
    std::vector<SqlRow> run_arrays(const std::vector<std::vector<SqlValue>>& columns);

private:
    std::vector<SqlRow> execute(std::vector<Datum>& values, const std::string& nulls);

    const char* sql_;
    int nargs_;
    Args kind_;
    SPIPlanPtr plan_ = nullptr;
};

// SPI_connect / SPI_finish around a scope; the result of the last run() lives until the next one.
class SpiConnection {
public:
    SpiConnection();
    ~SpiConnection();
    SpiConnection(const SpiConnection&) = delete;
    SpiConnection& operator=(const SpiConnection&) = delete;
};

// What in_subtransaction() did.
struct SubtransactionOutcome {
    bool kept = false;                 // released (its work stays); false: rolled back
    std::optional<std::string> error;  // the error that rolled it back, if one did
};

// Runs `body` in a subtransaction, like a PL/pgSQL block with EXCEPTION WHEN OTHERS: body returns true to keep
// its work, false to roll it back. A PostgreSQL error inside rolls back and is returned, except a cancel, which is
// re-raised; any other C++ exception rolls back and propagates.
template <typename F>
SubtransactionOutcome in_subtransaction(F&& body);

// Implementation details of in_subtransaction: where the caller was, restored when the subtransaction ends (as
// PL/pgSQL does).
struct SubtransactionFrame {
    MemoryContext context;
    ResourceOwner owner;
};
SubtransactionFrame begin_subtransaction();
void end_subtransaction(const SubtransactionFrame& frame, bool keep);
bool is_cancel(const PgError& e);

template <typename F>
SubtransactionOutcome in_subtransaction(F&& body) {
    const SubtransactionFrame frame = begin_subtransaction();
    SubtransactionOutcome out;
    try {
        out.kept = body();
    } catch (const PgError& e) {
        end_subtransaction(frame, false);
        if (is_cancel(e)) throw;
        out.error = e.data()->message ? e.data()->message : "unknown error";
        return out;
    } catch (...) {
        end_subtransaction(frame, false);
        throw;
    }
    end_subtransaction(frame, out.kept);
    return out;
}

}  // namespace byo::pg
