#!/usr/bin/env bash
# Oracle test: random vectors from Twilio's official Node helper library,
# checked against the byo_twilio SQL functions.
#
# Connection: the usual libpq variables PGHOST (host or socket dir), PGPORT,
# PGDATABASE, PGUSER; any arguments are passed on to psql (e.g. -h /tmp -p 5433
# -d db -U user). The database needs the byo_twilio extension installed.
#
# Knobs (environment):
#   ORACLE_COUNT  number of vectors (default 600)
#   ORACLE_SEED   generator seed (default 42)
#   ORACLE_ARGS   extra make_vectors.js flags, e.g. "--no-utf16-order --core-only"
#   NODE          node binary (default: node)
#
# Prints any mismatches and the line "oracle: N passed, N failed"; exits 1 when
# something failed, nothing was checked, or the run broke.
set -u -o pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
node_bin="${NODE:-node}"
count="${ORACLE_COUNT:-600}"
seed="${ORACLE_SEED:-42}"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/byo_twilio_oracle.XXXXXX")" || exit 1
trap 'rm -rf "$tmp"' EXIT
vectors="$tmp/vectors.tsv"

# shellcheck disable=SC2086  # ORACLE_ARGS is a list of flags
if ! "$node_bin" "$here/make_vectors.js" --count "$count" --seed "$seed" ${ORACLE_ARGS---no-invalid-utf8} >"$vectors"; then
    echo "oracle: vector generation failed" >&2
    echo "oracle: 0 passed, 1 failed"
    exit 1
fi

out="$tmp/psql.out"
psql -X -q -v ON_ERROR_STOP=1 -v vectors="$vectors" -f "$here/check_vectors.sql" "$@" >"$out" 2>&1
rc=$?
summary="$(grep -E '^oracle: [0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)"
# everything except the summary (mismatches, errors), then the summary last
grep -vE '^oracle: [0-9]+ passed, [0-9]+ failed$' "$out"
if [ "$rc" -ne 0 ] || [ -z "$summary" ]; then
    echo "oracle: psql run failed (exit $rc)" >&2
    echo "oracle: 0 passed, 1 failed"
    exit 1
fi
echo "$summary"

passed="$(sed -E 's/^oracle: ([0-9]+) passed, ([0-9]+) failed$/\1/' <<<"$summary")"
failed="$(sed -E 's/^oracle: ([0-9]+) passed, ([0-9]+) failed$/\2/' <<<"$summary")"
if [ "$failed" -gt 0 ] || [ $((passed + failed)) -eq 0 ]; then
    exit 1
fi
exit 0
