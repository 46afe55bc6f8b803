#include "pg/alter_system_guard.hpp"

#include <strings.h>

#include "pg/guard.hpp"

extern "C" {
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
}

namespace byo::pg {

namespace {

ProcessUtility_hook_type previous_hook = nullptr;

// '' carries no key (it hands over to byo_twilio.encryption_key_file), so it stays allowed.
bool is_empty_string(const List* args) noexcept {
    if (list_length(args) != 1 || !IsA(linitial(args), A_Const)) return false;
    const A_Const* c = static_cast<const A_Const*>(linitial(args));
    return !c->isnull && IsA(&c->val, String) && c->val.sval.sval[0] == '\0';
}

bool sets_encryption_key(const Node* stmt) noexcept {
    if (stmt == nullptr || !IsA(stmt, AlterSystemStmt)) return false;
    const VariableSetStmt* set = reinterpret_cast<const AlterSystemStmt*>(stmt)->setstmt;
    return set && set->name && set->kind == VAR_SET_VALUE &&
           strcasecmp(set->name, "byo_twilio.encryption_key") == 0 && !is_empty_string(set->args);
}

void on_utility(PlannedStmt* pstmt, const char* query, bool read_only_tree, ProcessUtilityContext context,
                ParamListInfo params, QueryEnvironment* query_env, DestReceiver* dest, QueryCompletion* qc) {
    guard([&]() -> Datum {
        if (sets_encryption_key(pstmt->utilityStmt))
            throw CoreError("0A000", "ALTER SYSTEM cannot set byo_twilio.encryption_key",
                            "The statement's text, keys included, would stay in pg_stat_statements. Put the keys "
                            "in postgresql.conf or in the file named by byo_twilio.encryption_key_file, then "
                            "SELECT pg_reload_conf().");
        return Datum(0);
    });
    if (previous_hook)
        previous_hook(pstmt, query, read_only_tree, context, params, query_env, dest, qc);
    else
        standard_ProcessUtility(pstmt, query, read_only_tree, context, params, query_env, dest, qc);
}

}  // namespace

void install_alter_system_guard() {
    previous_hook = ProcessUtility_hook;
    ProcessUtility_hook = on_utility;
}

}  // namespace byo::pg
