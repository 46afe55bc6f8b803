#!/usr/bin/env bash
# Builds the Debian packages of debian/ and smoke-tests them installed: postgresql-15-byo-twilio and
# byo-twilio-relay here (Debian 12), postgresql-17-byo-twilio in the Debian 13 root of test/pg17/trixie_root.sh.
# Each build runs dpkg-buildpackage on a fresh copy of the sources after `pg_buildext updatecontrol` (debian/control
# from control.in for the majors that machine supports). The smoke test (test/packages/smoke.sh) runs in a network
# namespace of its own. On the host the packages are removed afterwards and any file they replaced (an earlier
# `make install` into the system PostgreSQL) is put back. Prints "packages: N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
WORK=${PACKAGES_WORK_DIR:-$ROOT/.tmp/packages}
TRIXIE=${BYO_TRIXIE_ROOT:-$ROOT/.tmp/trixie-root}
rm -rf "$WORK" && mkdir -p "$WORK"
passed=0 failed=0
check() {  # $1 description, $2 expected, $3 actual
    if [ "$2" = "$3" ]; then passed=$((passed + 1)); echo "ok - $1"; else failed=$((failed + 1)); echo "not ok - $1: expected $2, got $3"; fi
}
count_smoke() {  # adds a smoke log's ok / not ok lines to the tally
    passed=$((passed + $(grep -c '^ok - ' "$1"))); failed=$((failed + $(grep -c '^not ok - ' "$1")))
    grep -qE '^smoke [0-9]+: [0-9]+ passed, 0 failed$' "$1" || { grep -q '^not ok - ' "$1" || failed=$((failed + 1)); }
    cat "$1"
}
VERSION=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" byo_twilio.control)
check "debian/changelog's version is the control file's $VERSION" "$VERSION" \
    "$(dpkg-parsechangelog -l debian/changelog -S Version | sed 's/-[^-]*$//')"
DEBVER=$(dpkg-parsechangelog -l debian/changelog -S Version)

# The sources as they are in the work tree (committed or not, ignored files left out).
copy_sources() {  # $1 destination
    mkdir -p "$1" && git ls-files -z -co --exclude-standard | tar --null -T - -cf - | tar -C "$1" -xf -
}

# --- PostgreSQL 15 and the relay, on this machine -----------------------------------------------------------------
SRC15=$WORK/build-15/byo-twilio-$VERSION
copy_sources "$SRC15"
(cd "$SRC15" && pg_buildext updatecontrol && dpkg-buildpackage -us -uc -b -j2) >"$WORK/build-15.log" 2>&1
check "dpkg-buildpackage on Debian 12" 0 $?
DEB15=$WORK/build-15/postgresql-15-byo-twilio_${DEBVER}_$(dpkg --print-architecture).deb
DEBRELAY=$WORK/build-15/byo-twilio-relay_${DEBVER}_$(dpkg --print-architecture).deb
check "it makes postgresql-15-byo-twilio and byo-twilio-relay" "yes yes" \
    "$([ -f "$DEB15" ] && echo yes || echo no) $([ -f "$DEBRELAY" ] && echo yes || echo no)"
[ -f "$DEB15" ] && [ -f "$DEBRELAY" ] || tail -40 "$WORK/build-15.log"

if [ -f "$DEB15" ] && [ -f "$DEBRELAY" ]; then
    # Files the packages would replace (a `make install` into the system PostgreSQL): saved, put back afterwards.
    # Files only, never their folders (whose owners and modes must stay as they are).
    for deb in "$DEB15" "$DEBRELAY"; do
        dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's|^\./||' | while read -r f; do
            [ -f "/$f" ] && ! dpkg -S "/$f" >/dev/null 2>&1 && echo "$f"
        done
    done >"$WORK/replaced.list"
    tar -C / --no-recursion -cf "$WORK/replaced.tar" -T "$WORK/replaced.list"
    dpkg -i "$DEB15" "$DEBRELAY" >"$WORK/install-15.log" 2>&1
    check "dpkg -i postgresql-15-byo-twilio byo-twilio-relay" 0 $?
    unshare --net -- bash -c 'ip link set lo up && exec bash "$0" 15 relay' "$ROOT/test/packages/smoke.sh" >"$WORK/smoke-15.log" 2>&1
    count_smoke "$WORK/smoke-15.log"
    dpkg --purge postgresql-15-byo-twilio byo-twilio-relay >"$WORK/purge-15.log" 2>&1
    check "dpkg --purge removes both" 0 $?
    tar -C / --no-overwrite-dir -xf "$WORK/replaced.tar"
fi

# --- PostgreSQL 17, in the Debian 13 root -------------------------------------------------------------------------
source "$ROOT/test/pg17/trixie_root.sh"
trixie_prepare >"$WORK/trixie-prepare.log" 2>&1
check "the Debian 13 root is ready" 0 $?
INNER=/srv/byo_twilio_packages
rm -rf "$TRIXIE$INNER"
copy_sources "$TRIXIE$INNER/byo-twilio-$VERSION"
cp test/packages/smoke.sh "$TRIXIE$INNER/"
# Only the extension here: the relay package was built and tested above (a build profile leaves it out).
in_root isolated /bin/sh -c "cd $INNER/byo-twilio-$VERSION && pg_buildext updatecontrol \
    && dpkg-buildpackage -us -uc -b -j2 --build-profiles=pkg.byo-twilio.norelay" >"$WORK/build-17.log" 2>&1
check "dpkg-buildpackage on Debian 13" 0 $?
DEB17=$INNER/postgresql-17-byo-twilio_${DEBVER}_$(dpkg --print-architecture).deb
check "it makes postgresql-17-byo-twilio" yes "$([ -f "$TRIXIE$DEB17" ] && echo yes || echo no)"
if [ -f "$TRIXIE$DEB17" ]; then
    cp "$TRIXIE$DEB17" "$WORK/"
    in_root isolated /bin/sh -c "dpkg -i $DEB17 && bash $INNER/smoke.sh 17; rc=\$?; dpkg --purge postgresql-17-byo-twilio; exit \$rc" \
        >"$WORK/smoke-17.log" 2>&1
    count_smoke "$WORK/smoke-17.log"
else
    tail -40 "$WORK/build-17.log"
fi
rm -rf "$TRIXIE$INNER"

echo "packages: $passed passed, $failed failed"
[ "$failed" = 0 ]
