#!/usr/bin/env bash
# Upgrade path: a database created at each released version (the frozen sql/released/ scripts) and updated
# with ALTER EXTENSION ... UPDATE must end up with exactly the catalog of a fresh install of the current version:
# functions (language, body, volatility, SECURITY DEFINER, settings, ACL), tables and columns, constraints, indexes,
# policies, triggers, views, comments; and the grant the operator gave the relay (EXECUTE on handle_webhook) must
# survive and reach handle_webhooks.
# Runs against the cluster run.sh started (PGHOST/PGPORT); prints "upgrade: N passed, M failed".
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
passed=0 failed=0
check() {  # $1 description, $2 expected, $3 actual
    if [ "$2" = "$3" ]; then passed=$((passed + 1)); echo "ok - $1"; else failed=$((failed + 1)); echo "not ok - $1: expected $2, got $3"; fi
}
PSQL=(psql -X -q -v ON_ERROR_STOP=1)
# Catalog dumps to compare, in a directory of this run's own (other runs on the machine use the same names).
CMP_DIR=$(mktemp -d /tmp/byo_upgrade.XXXXXX)
trap 'rm -rf "$CMP_DIR"' EXIT
CURRENT=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" byo_twilio.control)
RELEASED=$(ls sql/released/ | sed -n 's/^byo_twilio--\([0-9.]*\)\.sql$/\1/p' | sort -V)
HANDLE_ONE='twilio.handle_webhook(text, text, text, text)'
HANDLE_MANY='twilio.handle_webhooks(text[], text[], text[], text[])'

"${PSQL[@]}" -d postgres -c "DO \$\$BEGIN CREATE ROLE byo_upgrade_relay NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END\$\$"
new_db() {  # $1 name: a database with auth.* (the compat script)
    "${PSQL[@]}" -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
    "${PSQL[@]}" -d "$1" -f sql/byo_twilio_auth_compat.sql >/dev/null
}
# A fresh install with the grants relay/README.md documents for this version.
new_db byo_upgrade_fresh
"${PSQL[@]}" -d byo_upgrade_fresh -c "CREATE EXTENSION byo_twilio" \
    -c "GRANT USAGE ON SCHEMA twilio TO byo_upgrade_relay" \
    -c "GRANT EXECUTE ON FUNCTION $HANDLE_ONE, $HANDLE_MANY TO byo_upgrade_relay"

# One query per part of the catalog; each row describes one object completely.
declare -A parts=(
[functions]="SELECT p.oid::regprocedure::text || ' ' || l.lanname || ' ' || p.provolatile::text || p.prosecdef::text
                    || p.proretset::text || ' ' || pg_get_function_result(p.oid) || ' '
                    || coalesce(array_to_string(p.proconfig, ','), '-') || ' ' || coalesce(p.proacl::text, '-') || ' '
                    || md5(coalesce(p.prosrc, '') || coalesce(pg_get_function_sqlbody(p.oid), '') || coalesce(p.probin, ''))
                    || ' ' || coalesce(obj_description(p.oid, 'pg_proc'), '-')
               FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
              WHERE p.pronamespace = 'twilio'::regnamespace"
[columns]="SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull
                  || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-') || ' ' || a.attidentity::text || ' ' || c.relkind::text
                  || ' ' || c.relrowsecurity || ' ' || coalesce(c.relacl::text, '-')
             FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
            WHERE c.relnamespace = 'twilio'::regnamespace"
[constraints]="SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
                WHERE connamespace = 'twilio'::regnamespace"
[indexes]="SELECT indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'twilio'"
[policies]="SELECT tablename || ' ' || policyname || ' ' || cmd || ' ' || roles::text || ' ' || coalesce(qual, '-')
                   || ' ' || coalesce(with_check, '-') FROM pg_policies WHERE schemaname = 'twilio'"
[triggers]="SELECT tgrelid::regclass::text || ' ' || pg_get_triggerdef(oid) FROM pg_trigger
             WHERE NOT tgisinternal AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'twilio'::regnamespace)"
[views]="SELECT viewname || ' ' || md5(definition) FROM pg_views WHERE schemaname = 'twilio'"
[members]="SELECT pg_describe_object(classid, objid, 0) FROM pg_depend
            WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
              AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'byo_twilio')"
)
# Every released version updates to exactly the current one.
for OLD in $RELEASED; do
echo "# from $OLD"
# Installed at OLD with the grant its documentation gave (handle_webhook; from 0.3.0 on, handle_webhooks too), then
# updated.
new_db byo_upgrade_upgraded
"${PSQL[@]}" -d byo_upgrade_upgraded -c "CREATE EXTENSION byo_twilio VERSION '$OLD'" \
    -c "GRANT USAGE ON SCHEMA twilio TO byo_upgrade_relay" \
    -c "GRANT EXECUTE ON FUNCTION $HANDLE_ONE TO byo_upgrade_relay"
if [ "$("${PSQL[@]}" -At -d byo_upgrade_upgraded -c "SELECT to_regprocedure('$HANDLE_MANY') IS NOT NULL")" = t ]; then
    "${PSQL[@]}" -d byo_upgrade_upgraded -c "GRANT EXECUTE ON FUNCTION $HANDLE_MANY TO byo_upgrade_relay"
fi
check "$OLD installs" "$OLD" \
    "$("${PSQL[@]}" -At -d byo_upgrade_upgraded -c "SELECT extversion FROM pg_extension WHERE extname = 'byo_twilio'")"
"${PSQL[@]}" -d byo_upgrade_upgraded -c "ALTER EXTENSION byo_twilio UPDATE"
check "$OLD: ALTER EXTENSION UPDATE reaches $CURRENT" "$CURRENT" \
    "$("${PSQL[@]}" -At -d byo_upgrade_upgraded -c "SELECT extversion FROM pg_extension WHERE extname = 'byo_twilio'")"

for part in functions columns constraints indexes policies triggers views members; do
    q="SELECT x FROM (${parts[$part]}) AS t(x) ORDER BY 1"
    if ! "${PSQL[@]}" -At -d byo_upgrade_upgraded -c "$q" >"$CMP_DIR/byo_upgrade_$part.upgraded" ||
       ! "${PSQL[@]}" -At -d byo_upgrade_fresh -c "$q" >"$CMP_DIR/byo_upgrade_$part.fresh"; then
        check "$OLD: $part: catalog query runs" 0 1
    elif [ ! -s "$CMP_DIR/byo_upgrade_$part.fresh" ]; then
        check "$OLD: $part: a fresh install has some" "rows" "none"
    elif diff -u "$CMP_DIR/byo_upgrade_$part.fresh" "$CMP_DIR/byo_upgrade_$part.upgraded" >"$CMP_DIR/byo_upgrade_$part.diff"; then
        check "$OLD: $part: upgraded = fresh ($(wc -l <"$CMP_DIR/byo_upgrade_$part.fresh") rows)" same same
    else
        check "$OLD: $part: upgraded = fresh" same "different (diff fresh -> upgraded below)"
        head -40 "$CMP_DIR/byo_upgrade_$part.diff"
    fi
    rm -f "$CMP_DIR/byo_upgrade_$part".*
done
check "$OLD: the relay's EXECUTE grants survive the update, and reach handle_webhooks" "true true" \
    "$("${PSQL[@]}" -At -d byo_upgrade_upgraded -c "SELECT has_function_privilege('byo_upgrade_relay', '$HANDLE_ONE', 'EXECUTE')
        || ' ' || has_function_privilege('byo_upgrade_relay', '$HANDLE_MANY', 'EXECUTE')")"
"${PSQL[@]}" -d postgres -c "DROP DATABASE byo_upgrade_upgraded"
done

"${PSQL[@]}" -d postgres -c "DROP DATABASE byo_upgrade_fresh"
"${PSQL[@]}" -d postgres -c "DROP ROLE byo_upgrade_relay"
echo "upgrade: $passed passed, $failed failed"
[ "$failed" = 0 ]
