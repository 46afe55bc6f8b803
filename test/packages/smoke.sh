#!/usr/bin/env bash
# Smoke test of the installed Debian packages (run by test/packages/run.sh inside a network namespace of its own,
# on the host for PostgreSQL 15 and in the Debian 13 root for 17): the files are where Debian puts them; a cluster
# preloading byo_twilio starts its dispatcher; CREATE EXTENSION works; twilio.compute_signature agrees with an
# HMAC-SHA1 made by openssl and validate_signature accepts it and rejects a forgery; with "relay", the packaged
# systemd unit and example settings are in place and /usr/bin/byo-twilio-relay answers /readyz from that cluster.
# $1: PostgreSQL major; $2: "relay" or nothing. Prints "ok - ..." / "not ok - ..." lines.
set -uo pipefail
V=$1 WITH_RELAY=${2:-}
BIN=/usr/lib/postgresql/$V/bin
EXT=/usr/share/postgresql/$V/extension
passed=0 failed=0
check() {  # $1 description, $2 expected, $3 actual
    if [ "$2" = "$3" ]; then passed=$((passed + 1)); echo "ok - $1"; else failed=$((failed + 1)); echo "not ok - $1: expected $2, got $3"; fi
}
yes_no() { "$@" && echo yes || echo no; }

VERSION=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$EXT/byo_twilio.control" 2>/dev/null)
check "$V: byo_twilio.so, the control file, the install script and the auth compat script are installed" "yes yes yes" \
    "$(yes_no test -f "/usr/lib/postgresql/$V/lib/byo_twilio.so") $(yes_no test -f "$EXT/byo_twilio--$VERSION.sql") $(yes_no test -f "$EXT/byo_twilio_auth_compat.sql")"
check "$V: every released version's script and an upgrade path are installed" yes \
    "$(yes_no test -f "$EXT/byo_twilio--0.1.0.sql" -a -f "$EXT/byo_twilio--0.6.0--$VERSION.sql")"

DIR=$(mktemp -d /tmp/byo_twilio_pkg.XXXXXX)
chown postgres:postgres "$DIR" && chmod 700 "$DIR"
as_pg() { runuser -u postgres -- "$@"; }
relay_pid=
cleanup() {
    [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null
    as_pg "$BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1
    rm -rf "$DIR"
}
trap cleanup EXIT
as_pg "$BIN/initdb" -D "$DIR/data" -U postgres -A trust --no-sync >"$DIR/initdb.log" 2>&1 || cat "$DIR/initdb.log"
cat >>"$DIR/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$DIR'
port = 55432
shared_preload_libraries = 'byo_twilio'
byo_twilio.encryption_key = 'k1:$(openssl rand -hex 32)'
fsync = off
CONF
as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start >/dev/null || cat "$DIR/server.log"
PSQL=("$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$DIR" -p 55432 -U postgres -d postgres)

"${PSQL[@]}" -f "$EXT/byo_twilio_auth_compat.sql" >/dev/null
check "$V: CREATE EXTENSION byo_twilio" "$VERSION" \
    "$("${PSQL[@]}" -c "CREATE EXTENSION byo_twilio" -c "SELECT extversion FROM pg_extension WHERE extname = 'byo_twilio'" 2>&1)"
workers=0
for _ in $(seq 1 100); do  # the postmaster starts it once the server accepts connections: wait for it (~10 s)
    workers=$("${PSQL[@]}" -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'byo_twilio dispatcher'")
    [ "$workers" = 1 ] && break
    sleep 0.1
done
check "$V: the preloaded library runs its dispatcher" 1 "$workers"

# Twilio's scheme: base64(HMAC-SHA1(token, URL + each param name and value, sorted by name)).
TOKEN=$(openssl rand -hex 16)
URL='https://hooks.example.com/twilio/sms'
expected=$(printf '%s' "${URL}Body"'hi there'"From+15550001111" | openssl dgst -sha1 -hmac "$TOKEN" -binary | base64)
check "$V: twilio.compute_signature agrees with openssl" "$expected" \
    "$("${PSQL[@]}" -c "SELECT twilio.compute_signature('$TOKEN', '$URL', '{\"From\": \"+15550001111\", \"Body\": \"hi there\"}')")"
check "$V: twilio.validate_signature accepts it and rejects a forgery" "true false" \
    "$("${PSQL[@]}" -c "SELECT twilio.validate_signature('$TOKEN', '$expected', '$URL', 'From=%2B15550001111&Body=hi+there')
                        || ' ' || twilio.validate_signature('$TOKEN', 'AAAA$expected', '$URL', 'From=%2B15550001111&Body=hi+there')")"

if [ "$WITH_RELAY" = relay ]; then
    UNIT=$(ls /lib/systemd/system/byo-twilio-relay.service /usr/lib/systemd/system/byo-twilio-relay.service 2>/dev/null | head -1)
    check "relay: the systemd unit is installed and starts /usr/bin/byo-twilio-relay with /etc/byo-twilio/relay.env" \
        "yes yes" "$(yes_no grep -qx 'ExecStart=/usr/bin/byo-twilio-relay' "${UNIT:-/nonexistent}") $(yes_no grep -qx 'EnvironmentFile=/etc/byo-twilio/relay.env' "${UNIT:-/nonexistent}")"
    EXAMPLE=/usr/share/doc/byo-twilio-relay/examples/relay.env
    check "relay: the example settings and the web components are installed" "yes yes" \
        "$(yes_no grep -q '^BYO_TWILIO_DATABASE_URL=' "$EXAMPLE") $(yes_no test -d /usr/share/byo-twilio/web)"
    # The example file with this cluster's database, as the unit would read it. Run by hand, the relay has no
    # systemd StateDirectory (/var/lib/byo-twilio-relay): its spool goes in this run's directory instead.
    sed -e "s|^BYO_TWILIO_DATABASE_URL=.*|BYO_TWILIO_DATABASE_URL=host=$DIR port=55432 dbname=postgres user=postgres|" \
        -e "s|^BYO_TWILIO_LISTEN=.*|BYO_TWILIO_LISTEN=127.0.0.1:18080|" \
        -e "s|^BYO_TWILIO_SPOOL_DIR=.*|BYO_TWILIO_SPOOL_DIR=$DIR/spool|" "$EXAMPLE" >"$DIR/relay.env"
    # Each NAME=VALUE line whole, as systemd's EnvironmentFile reads it (values hold spaces).
    (while IFS= read -r line; do [[ $line =~ ^[A-Z_]+= ]] && export "$line"; done <"$DIR/relay.env"
     exec /usr/bin/byo-twilio-relay) >"$DIR/relay.log" 2>&1 &
    relay_pid=$!
    status=000
    for _ in $(seq 1 100); do  # until the relay listens and answers (at most ~10 s), or exits
        status=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:18080/readyz)
        [ "$status" = 200 ] && break
        kill -0 "$relay_pid" 2>/dev/null || break
        sleep 0.1
    done
    check "relay: /usr/bin/byo-twilio-relay answers /readyz from the database" 200 "$status"
    [ "$status" = 200 ] || tail -5 "$DIR/relay.log"
fi
echo "smoke $V: $passed passed, $failed failed"
[ "$failed" = 0 ]
