# Installs what the build and tests need on a fresh Debian 12 machine (as root): Debian packages via apt-get,
# test-only npm packages via npm ci. Quiet when everything is already there.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

packages=(make g++ cmake pkg-config openssl util-linux
          postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap postgresql-15-cron postgresql-contrib
          libtap-parser-sourcehandler-pgtap-perl
          libcurl4-openssl-dev libssl-dev nlohmann-json3-dev libgtest-dev libboost-dev libpq-dev
          clang-14 libclang-rt-14-dev
          jq nodejs npm)
# clang-14 + libclang-rt-14-dev (ASan, UBSan and libFuzzer runtimes): the unit tests under sanitizers and the fuzz
# harnesses of test/fuzz.
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A machine may already have its own node/npm outside Debian's packages: keep it.
if command -v node >/dev/null && command -v npm >/dev/null; then
    missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
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

if [ ! -d "$ROOT/test/node_modules/twilio" ] || [ ! -d "$ROOT/test/node_modules/@stoplight/prism-cli" ] \
    || [ ! -d "$ROOT/test/node_modules/@twilio-alpha/mcp" ] || [ ! -d "$ROOT/test/node_modules/jose" ] \
    || [ ! -d "$ROOT/test/node_modules/pg" ]; then
    echo "installing npm test packages"
    (cd "$ROOT/test" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
