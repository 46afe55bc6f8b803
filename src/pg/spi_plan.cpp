#include "pg/spi_plan.hpp"

#include <algorithm>
#include <memory>

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/resowner.h"
}

namespace byo::pg {

SpiConnection::SpiConnection() {
    pg_call([] {
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "byo_twilio: SPI_connect failed");
    });
}

SpiConnection::~SpiConnection() { SPI_finish(); }

std::vector<SqlRow> SavedPlan::run(const std::vector<SqlValue>& args) {
    if (static_cast<int>(args.size()) != nargs_ || kind_ != Args::Text)
        throw CoreError("XX000", "wrong SQL arguments for \"" + std::string(sql_) + "\"");
    // C++ allocations happen outside pg_call (a C++ exception must never cross PG_TRY); PostgreSQL's inside.
    std::vector<Datum> values(args.size());
    std::string nulls(args.size(), ' ');
    pg_call([&] {
        for (std::size_t i = 0; i < args.size(); ++i) {
            if (args[i])
                values[i] = PointerGetDatum(
                    cstring_to_text_with_len(args[i]->data(), static_cast<int>(args[i]->size())));
            else
                nulls[i] = 'n';
        }
    });
    return execute(values, nulls);
}

std::vector<SqlRow> SavedPlan::run_arrays(const std::vector<std::vector<SqlValue>>& columns) {
    if (static_cast<int>(columns.size()) != nargs_ || kind_ != Args::TextArrays)
        throw CoreError("XX000", "wrong SQL arguments for \"" + std::string(sql_) + "\"");
    std::vector<Datum> values(columns.size());
    std::size_t longest = 0;
    for (const auto& c : columns) longest = std::max(longest, c.size());
    std::vector<Datum> elems(longest + 1);
    std::unique_ptr<bool[]> is_null(new bool[longest + 1]);
    pg_call([&] {
        for (std::size_t i = 0; i < columns.size(); ++i) {
            const auto& column = columns[i];
            for (std::size_t j = 0; j < column.size(); ++j) {
                is_null[j] = !column[j];
                elems[j] = column[j] ? PointerGetDatum(cstring_to_text_with_len(
                                           column[j]->data(), static_cast<int>(column[j]->size())))
                                     : Datum(0);
            }
            int dims[1] = {static_cast<int>(column.size())};
            int lbs[1] = {1};
            values[i] = PointerGetDatum(column.empty() ? construct_empty_array(TEXTOID)
                                                       : construct_md_array(elems.data(), is_null.get(), 1, dims,
                                                                            lbs, TEXTOID, -1, false, TYPALIGN_INT));
        }
    });
    return execute(values, std::string(columns.size(), ' '));
}

std::vector<SqlRow> SavedPlan::execute(std::vector<Datum>& values, const std::string& nulls) {
    const Oid type = kind_ == Args::Text ? TEXTOID : TEXTARRAYOID;
    std::vector<Oid> types(static_cast<std::size_t>(nargs_), type);
    struct Cell {
        const char* data;
        int len;  // -1: NULL
    };
    Cell* cells = nullptr;
    uint64 nrows = 0;
    int ncols = 0;
    pg_call([&] {
        if (!plan_) {
            SPIPlanPtr p = SPI_prepare(sql_, nargs_, types.data());
            if (!p) elog(ERROR, "byo_twilio: could not prepare \"%s\": %s", sql_, SPI_result_code_string(SPI_result));
            SPI_keepplan(p);
            plan_ = p;
        }
        const int rc = SPI_execute_plan(plan_, values.data(), nulls.data(), false, 0);
        if (rc < 0) elog(ERROR, "byo_twilio: \"%s\" failed: %s", sql_, SPI_result_code_string(rc));
        if (!SPI_tuptable) return;
        TupleDesc desc = SPI_tuptable->tupdesc;
        nrows = SPI_processed;
        ncols = desc->natts;
        cells = static_cast<Cell*>(palloc(sizeof(Cell) * (nrows * ncols + 1)));
        for (uint64 r = 0; r < nrows; ++r) {
            for (int c = 1; c <= ncols; ++c) {
                Cell& cell = cells[r * ncols + (c - 1)];
                bool isnull = false;
                Datum d = SPI_getbinval(SPI_tuptable->vals[r], desc, c, &isnull);
                if (isnull) {
                    cell = {nullptr, -1};
                } else if (SPI_gettypeid(desc, c) == BYTEAOID) {
                    bytea* b = DatumGetByteaPP(d);
                    cell = {VARDATA_ANY(b), static_cast<int>(VARSIZE_ANY_EXHDR(b))};
                } else {
                    char* text = SPI_getvalue(SPI_tuptable->vals[r], desc, c);
                    cell = {text, static_cast<int>(strlen(text))};
                }
            }
        }
    });
    std::vector<SqlRow> rows(nrows);
    for (uint64 r = 0; r < nrows; ++r)
        for (int c = 0; c < ncols; ++c) {
            const Cell& cell = cells[r * ncols + c];
            rows[r].push_back(cell.len < 0 ? SqlValue() : SqlValue(std::string(cell.data, cell.len)));
        }
    pg_call([&] {
        if (cells) pfree(cells);
        if (SPI_tuptable) SPI_freetuptable(SPI_tuptable);
    });
    return rows;
}

SubtransactionFrame begin_subtransaction() {
    SubtransactionFrame frame{CurrentMemoryContext, CurrentResourceOwner};
    pg_call([] { BeginInternalSubTransaction(nullptr); });
    MemoryContextSwitchTo(frame.context);  // keep allocating where the caller did
    return frame;
}

void end_subtransaction(const SubtransactionFrame& frame, bool keep) {
    pg_call([&] {
        if (keep) ReleaseCurrentSubTransaction();
        else RollbackAndReleaseCurrentSubTransaction();
    });
    MemoryContextSwitchTo(frame.context);
    CurrentResourceOwner = frame.owner;
}

bool is_cancel(const PgError& e) { return e.data()->sqlerrcode == ERRCODE_QUERY_CANCELED; }

}  // namespace byo::pg
