# Installs what the build and tests need on a fresh Debian 12 machine (as root): Debian packages via apt-get,
# test-only npm packages via npm ci. Quiet when everything is already there.
# PG_MAJOR (default 15) picks the PostgreSQL packages: test/pg17/run_in_trixie.sh runs the suites with 17 in a
# Debian 13 root that it has already equipped. BYO_SUITES (as in run.sh) leaves out the tools of suites not run.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_MAJOR=${PG_MAJOR:-15}
want() { [ -z "${BYO_SUITES:-}" ] || [[ " $BYO_SUITES " == *" $1 "* ]]; }

packages=(make g++ cmake pkg-config openssl util-linux curl
          postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-$PG_MAJOR-pgtap postgresql-$PG_MAJOR-cron
          libtap-parser-sourcehandler-pgtap-perl
          libcurl4-openssl-dev libssl-dev nlohmann-json3-dev libgtest-dev libboost-dev libpq-dev
          jq)
# pgcrypto: in postgresql-15 and postgresql-17 themselves; Debian 12 also has the postgresql-contrib metapackage.
[ "$PG_MAJOR" = 15 ] && packages+=(postgresql-contrib)
# clang-14 + libclang-rt-14-dev (ASan, UBSan and libFuzzer runtimes): the unit tests under sanitizers and the fuzz
# harnesses of test/fuzz.
if want unit_asan || want fuzz; then packages+=(clang-14 libclang-rt-14-dev); fi
# The Debian packages of debian/ (pg_buildext, debhelper); the PostgreSQL 17 pass (a Debian 13 root).
if want packages; then packages+=(postgresql-server-dev-all debhelper dpkg-dev fakeroot build-essential); fi
if want pg17 || want packages; then packages+=(debootstrap); fi
if want dist; then packages+=(unzip); fi
# A machine may already have its own node outside Debian's packages: keep it. npm is needed only to fill
# test/node_modules.
command -v node >/dev/null || packages+=(nodejs)
npm_needed=false
for m in twilio @stoplight/prism-cli @twilio-alpha/mcp jose pg; do
    [ -d "$ROOT/test/node_modules/$m" ] || npm_needed=true
done
if $npm_needed && ! command -v npm >/dev/null; then packages+=(npm); fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
filtered=()
for p in "${missing[@]}"; do [ -n "$p" ] && filtered+=("$p"); done
if [ ${#filtered[@]} -gt 0 ]; then
    echo "installing: ${filtered[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # The Debian postgresql package would create and start a default cluster; we only want the binaries.
    mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/byo_twilio.conf
    apt-get install -y -qq --no-install-recommends "${filtered[@]}" >/dev/null
fi

if $npm_needed; then
    echo "installing npm test packages"
    (cd "$ROOT/test" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
