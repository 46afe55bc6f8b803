#!/usr/bin/env bash
# No auth token and no encryption key reaches the server log or pg_stat_statements, with every statement logged:
# a cluster of its own with log_statement = 'all', every duration and bind parameter logged, and
# pg_stat_statements tracking nested statements. Tokens are saved sealed (web/seal-token.js) through every path a
# driver, PostgREST or psql would take; keys are rotated the two documented ways (postgresql.conf + reload, and a
# key file + reload), and ALTER SYSTEM with a key is refused. Then the log and pg_stat_statements are searched for
# every token and key.
# Needs the stand-in (STANDIN_URL) and the fixture variables (ALICE_*, BOB_*) that run.sh exports.
# Prints "secret_logs: N passed, M failed".
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
BYO_PGPORT=$((${BYO_PGPORT:-54329} + 3))
source test/lib/cluster.sh
passed=0 failed=0
check() {  # description, expected, actual
    if [ "$2" = "$3" ]; then passed=$((passed + 1)); echo "ok - $1"
    else failed=$((failed + 1)); echo "not ok - $1: expected '$2', got '$3'"; fi
}
finish() {
    cluster_stop
    [ -n "${BYO_CLUSTER_DIR:-}" ] && rm -rf "$BYO_CLUSTER_DIR"
    echo "secret_logs: $passed passed, $failed failed"
    exit $((failed > 0))
}
trap finish EXIT

KEY1=$(openssl rand -hex 32) KEY2=$(openssl rand -hex 32) KEY3=$(openssl rand -hex 32)
USER_ID=00000000-0000-0000-0000-0000000000e1
cluster_start "shared_preload_libraries = 'byo_twilio,pg_cron,pg_stat_statements'
byo_twilio.encryption_key = 'k1:$KEY1'
byo_twilio.api_base_url = '$STANDIN_URL'
byo_twilio.conversations_base_url = '$STANDIN_URL'
byo_twilio.messaging_base_url = '$STANDIN_URL'
log_min_messages = info
log_statement = 'all'
log_min_duration_statement = 0
log_min_error_statement = info
log_parameter_max_length = -1
log_parameter_max_length_on_error = -1
pg_stat_statements.track = all" || exit 1
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"; }
q -f sql/byo_twilio_auth_compat.sql >/dev/null
q -c "CREATE EXTENSION byo_twilio" -c "CREATE EXTENSION pg_stat_statements" \
  -c "INSERT INTO auth.users (id) VALUES ('$USER_ID')"

out=$(node test/e2e/log_secrets_client.js "$USER_ID" "$ALICE_SID" "$ALICE_TOKEN" "$BOB_SID" "$BOB_TOKEN")
check "sealed tokens save through every path (client ran)" 0 "$?"
read -r last4 replay <<<"$out"
check "the saved token is the user's (masked, last four)" "${ALICE_TOKEN: -4}" "$last4"
check "a sealed token replayed by another user is refused (28000)" 28000 "$replay"
check "the platform account saved from a sealed token" "$BOB_SID" \
    "$(q -c "SELECT account_sid FROM twilio.get_platform_account()")"

# Rotation as docs/security.md tells it: prepend a key in postgresql.conf, reload, re-encrypt.
conf=$BYO_CLUSTER_DIR/data/postgresql.conf
wait_for_log() {  # pattern: bounded wait for the server to log it (the reload is asynchronous)
    for _ in $(seq 1 300); do grep -q "$1" "$BYO_CLUSTER_DIR/server.log" && return 0; sleep 0.1; done
    return 1
}
echo "byo_twilio.encryption_key = 'k2:$KEY2,k1:$KEY1'" >>"$conf"
q -c "SELECT pg_reload_conf()" >/dev/null
wait_for_log 'parameter "byo_twilio.encryption_key" changed'
check "the reload's log line names the setting" 0 "$?"
check "tokens re-encrypted under k2" 2 "$(q -c "SELECT twilio.rotate_encryption_keys()")"
# ALTER SYSTEM would leave the keys in pg_stat_statements: refused, whatever the case of the name.
alter="ALTER SYSTEM SET BYO_TWILIO.Encryption_Key = 'k3:$KEY3,k2:$KEY2'"
check "ALTER SYSTEM SET byo_twilio.encryption_key is refused (0A000)" 0A000 \
    "$(q -v VERBOSITY=verbose -c "$alter" 2>&1 | sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\):.*/\1/p')"
# The key file: the setting names a path, the file holds the keys.
printf 'k3:%s,k2:%s\n' "$KEY3" "$KEY2" >"$BYO_CLUSTER_DIR/keys"
chown postgres "$BYO_CLUSTER_DIR/keys" && chmod 600 "$BYO_CLUSTER_DIR/keys"
printf "byo_twilio.encryption_key = ''\nbyo_twilio.encryption_key_file = '%s'\n" "$BYO_CLUSTER_DIR/keys" >>"$conf"
q -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 300); do [ "$(q -c "SELECT (twilio._encryption_key_ids())[1]")" = k3 ] && break; sleep 0.1; done
check "tokens re-encrypted under k3 (from the key file)" 2 "$(q -c "SELECT twilio.rotate_encryption_keys()")"
q -c "SELECT 1 FROM pg_stat_statements LIMIT 0" >/dev/null  # one more statement after the reload, logged
statements=$(q -c "SELECT string_agg(query, E'\n') FROM pg_stat_statements")

log=$BYO_CLUSTER_DIR/server.log
check "the log holds the sealed saves (the test looked in the right place)" yes \
    "$(grep -q 'bt1:k1:' "$log" && echo yes || echo no)"
for secret in "$ALICE_TOKEN" "$BOB_TOKEN" "$KEY1" "$KEY2" "$KEY3"; do
    check "no ${secret:0:4}… in the server log" 0 "$(grep -c "$secret" "$log")"
    check "no ${secret:0:4}… in pg_stat_statements" 0 "$(grep -c "$secret" <<<"$statements")"
done
