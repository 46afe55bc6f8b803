# Throwaway PostgreSQL cluster (pg_config's major: 15, or 17 in test/pg17's root) for tests and the demo, run as
# the `postgres` OS user (the server refuses root) on a private socket directory. Source this file, then:
# cluster_start; ...; cluster_stop.
# Exposes PGHOST, PGPORT, PGUSER and BYO_CLUSTER_DIR.

PG_BIN=${PG_BIN:-$(pg_config --bindir)}
: "${BYO_PGPORT:=54329}"

cluster_as_postgres() { runuser -u postgres -- "$@"; }

# $1: extra lines for postgresql.conf (may be empty)
cluster_start() {
    BYO_CLUSTER_DIR=$(mktemp -d /tmp/byo_twilio_pg.XXXXXX)
    chown postgres:postgres "$BYO_CLUSTER_DIR"
    chmod 700 "$BYO_CLUSTER_DIR"
    cluster_as_postgres "$PG_BIN/initdb" -D "$BYO_CLUSTER_DIR/data" -U postgres -A trust --no-sync >"$BYO_CLUSTER_DIR/initdb.log" 2>&1 \
        || { cat "$BYO_CLUSTER_DIR/initdb.log"; return 1; }
    cat >>"$BYO_CLUSTER_DIR/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$BYO_CLUSTER_DIR'
port = $BYO_PGPORT
shared_preload_libraries = 'byo_twilio,pg_cron'
cron.database_name = 'postgres'
fsync = off
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
$1
CONF
    chmod 600 "$BYO_CLUSTER_DIR/data/postgresql.conf"
    chown postgres:postgres "$BYO_CLUSTER_DIR/data/postgresql.conf"
    cluster_as_postgres "$PG_BIN/pg_ctl" -D "$BYO_CLUSTER_DIR/data" -l "$BYO_CLUSTER_DIR/server.log" -w -t 60 start >/dev/null \
        || { cat "$BYO_CLUSTER_DIR/server.log"; return 1; }
    export PGHOST=$BYO_CLUSTER_DIR PGPORT=$BYO_PGPORT PGUSER=postgres BYO_CLUSTER_DIR
}

cluster_stop() {
    [ -n "${BYO_CLUSTER_DIR:-}" ] && [ -d "$BYO_CLUSTER_DIR/data" ] || return 0
    cluster_as_postgres "$PG_BIN/pg_ctl" -D "$BYO_CLUSTER_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
}

cluster_log() { cat "$BYO_CLUSTER_DIR/server.log"; }

cluster_remove() {
    cluster_stop
    [ -n "${BYO_CLUSTER_DIR:-}" ] && rm -rf "$BYO_CLUSTER_DIR"
}
