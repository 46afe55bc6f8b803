# A Debian 13 (trixie) root with PostgreSQL 17, for test/pg17/run_in_trixie.sh and test/packages/run.sh. Source it
# with ROOT (the project) and TRIXIE (the root's folder) set; then trixie_prepare, and in_root to run commands in it.
# debootstrap makes the root once (a marker file says it is complete; reused after that: local reruns skip the
# download, a clean clone starts from nothing); apt-get adds whatever of PACKAGES is missing.
#
# Everything that touches the root happens in private mount namespaces: the mounts (/proc, /dev, /dev/shm) vanish
# with the namespace whatever way the caller ends, so nothing is ever left mounted under .tmp.

# Packages of the root: PostgreSQL 17 (contrib included) with the extensions the suites use, the build tools and
# libraries of the extension and relay, node for the test clients (their npm packages come along in the copy of
# test/node_modules), and what the Debian packages of debian/ are built with (pg_buildext, debhelper).
PACKAGES=(postgresql-17 postgresql-server-dev-17 postgresql-17-cron postgresql-17-pgtap
          libtap-parser-sourcehandler-pgtap-perl
          make g++ cmake pkg-config openssl util-linux ca-certificates procps iproute2
          libcurl4-openssl-dev libssl-dev nlohmann-json3-dev libgtest-dev libboost-dev libpq-dev
          jq nodejs curl
          postgresql-server-dev-all debhelper dpkg-dev fakeroot build-essential)

# The same archive the host's apt uses (its first Debian URI), for the trixie suite.
mirror() {
    local uri
    uri=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1)
    [ -n "$uri" ] || uri=$(sed -n 's/^deb \(\[[^]]*\] \)\?\([^ ]*\) .*/\2/p' /etc/apt/sources.list 2>/dev/null | grep -v security | head -1)
    echo "$uri"
}

# Runs a command chrooted into the root with /proc, /dev and a fresh /dev/shm (PostgreSQL's shared memory), in a
# private mount namespace. $1: "net" keeps the host's network (apt), "isolated" gives a loopback-only one.
in_root() {
    local net=$1; shift
    local flags=(--mount --propagation private)
    [ "$net" = isolated ] && flags+=(--net)
    unshare "${flags[@]}" -- /bin/bash -s -- "$TRIXIE" "$@" <<'INNER_EOF'
set -e
R=$1; shift
mount -t proc proc "$R/proc"
mount --bind /dev "$R/dev"
mount -t tmpfs -o mode=1777 shm "$R/dev/shm"
ip link set lo up 2>/dev/null || true
exec chroot "$R" "$@"
INNER_EOF
}

trixie_prepare() {
    local started=$SECONDS
    local marker=$TRIXIE/.byo_twilio_root_complete
    if [ ! -f "$marker" ]; then
        echo "debootstrap trixie into $TRIXIE"
        rm -rf "$TRIXIE" && mkdir -p "$TRIXIE" "$ROOT/.tmp"
        command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
        unshare --mount --propagation private -- debootstrap --variant=minbase \
            --keyring=/usr/share/keyrings/debian-archive-keyring.gpg trixie "$TRIXIE" "$(mirror)" \
            >"$ROOT/.tmp/trixie-debootstrap.log" 2>&1 || { tail -30 "$ROOT/.tmp/trixie-debootstrap.log"; return 1; }
        touch "$marker"
    fi
    echo "trixie root ready after $((SECONDS - started)) s"

    # Packages: installed when missing (a changed list installs only what is new). A throwaway root needs no fsync
    # per unpacked file (dpkg's unsafe-io: several times faster on a busy disk).
    echo force-unsafe-io >"$TRIXIE/etc/dpkg/dpkg.cfg.d/byo_twilio-unsafe-io"
    cp /etc/resolv.conf "$TRIXIE/etc/resolv.conf" 2>/dev/null || true
    mkdir -p "$TRIXIE/etc/postgresql-common/createcluster.d"
    echo "create_main_cluster = false" >"$TRIXIE/etc/postgresql-common/createcluster.d/byo_twilio.conf"
    local installed
    installed=$(in_root net dpkg-query -W -f='${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null | grep -c '^installed$' || true)
    if [ "$installed" != "${#PACKAGES[@]}" ]; then
        echo "apt-get install in the trixie root"
        in_root net /usr/bin/env DEBIAN_FRONTEND=noninteractive /bin/sh -c \
            "apt-get update -qq && apt-get install -y -qq --no-install-recommends ${PACKAGES[*]}" \
            >"$ROOT/.tmp/trixie-apt.log" 2>&1 || { tail -30 "$ROOT/.tmp/trixie-apt.log"; return 1; }
    fi
    echo "trixie packages ready after $((SECONDS - started)) s"
}
