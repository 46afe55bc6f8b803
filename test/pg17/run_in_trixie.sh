#!/usr/bin/env bash
# Runs test/run.sh's PostgreSQL suites against PostgreSQL 17 in a Debian 13 (trixie) root: Debian 12 carries only
# PostgreSQL 15, Debian 13 carries 17. The root (.tmp/trixie-root, made and equipped by test/pg17/trixie_root.sh)
# gets a fresh copy of the project (sources only: no objects built for 15), and test/run.sh runs inside it with
# PG_MAJOR=17, in a network namespace of its own (loopback only): the same ports as the PostgreSQL 15 run beside
# it, no clash. `--prepare-only` makes and equips the root and stops there.
#
# Env: BYO_PG17_SUITES (default: the suites that touch PostgreSQL but web and spool), BYO_TRIXIE_ROOT, PG17_LOG_DIR (where
# the logs are copied, default .tmp/test/pg17), BYO_HOST_RELAY (a byo-twilio-relay built on this machine, to use
# instead of building one in the root), and the test ports (BYO_PGPORT, PRISM_*_PORT, STANDIN_*_PORT,
# RELAY_PORT), passed through. Prints the inner run's "<suite>: N passed, N failed" lines and its "all:" line.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TRIXIE=${BYO_TRIXIE_ROOT:-$ROOT/.tmp/trixie-root}
LOGS=${PG17_LOG_DIR:-$ROOT/.tmp/test/pg17}
# relay and api run the relay built by the PostgreSQL 15 run (BYO_HOST_RELAY) against PostgreSQL 17. Not repeated:
# web (the browser sees only the relay's HTTP API, the same on both) and spool (the relay's own disk queue).
SUITES=${BYO_PG17_SUITES:-regress upgrade relay api crash drips drips_crash pgtap oracle secret_logs}
# Not under /root (0700): the server, as postgres, reads files of the run (the stand-ins' certificate).
INNER=/srv/byo_twilio

source "$ROOT/test/pg17/trixie_root.sh"
started=$SECONDS
trixie_prepare || exit 1
[ "${1:-}" = "--prepare-only" ] && exit 0

# A fresh copy of the project's sources (objects built for PostgreSQL 15 stay out), test/node_modules included.
rm -rf "$TRIXIE$INNER" && mkdir -p "$TRIXIE$INNER"
tar -C "$ROOT" --exclude=./.tmp --exclude=./.git --exclude='./build*' --exclude='./src/*.o' --exclude='./src/*.d' \
    --exclude='./src/*.bc' --exclude='./*.so' \
    --exclude=./web/test/node_modules --exclude=./bench/node_modules -cf - . | tar -C "$TRIXIE$INNER" -xf -

# A relay built here already (BYO_HOST_RELAY, by the PostgreSQL 15 run): used as is, not built again in the root.
pass=()
if [ -n "${BYO_HOST_RELAY:-}" ]; then
    install -D -m 0755 "$BYO_HOST_RELAY" "$TRIXIE$INNER/.prebuilt/byo-twilio-relay"
    pass+=("BYO_PREBUILT_RELAY=$INNER/.prebuilt/byo-twilio-relay")
fi
for v in BYO_PGPORT PRISM_API_PORT PRISM_CONVERSATIONS_PORT PRISM_MESSAGING_PORT STANDIN_PORT STANDIN_TLS_PORT \
         RELAY_PORT BYO_REGRESS CI; do
    [ -n "${!v:-}" ] && pass+=("$v=${!v}")
done
set +e
in_root isolated /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root LANG=C.UTF-8 \
    PG_MAJOR=17 BYO_SUITES="$SUITES" "${pass[@]}" /bin/bash "$INNER/test/run.sh" >"$ROOT/.tmp/pg17-run.log" 2>&1
rc=$?
set -e
rm -rf "$LOGS" && mkdir -p "$(dirname "$LOGS")" && cp -a "$TRIXIE$INNER/.tmp/test" "$LOGS" 2>/dev/null || true
mv "$ROOT/.tmp/pg17-run.log" "$LOGS/run.log" 2>/dev/null || true
cat "$LOGS/run.log"
echo "pg17 pass took $((SECONDS - started)) s"
exit $rc
