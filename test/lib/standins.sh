# Local stand-ins for Twilio: Prism serving Twilio's official OpenAPI specs (validating every request), and our
# controllable stand-in (test/standin) for accounts, faults and TLS. Source this file; standins_start; standins_stop.

BYO_TEST_DIR=${BYO_TEST_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
SPEC_DIR=$BYO_TEST_DIR/node_modules/@twilio-alpha/mcp/twilio-oai/spec/json
: "${PRISM_API_PORT:=4010}" "${PRISM_CONVERSATIONS_PORT:=4011}" "${PRISM_MESSAGING_PORT:=4012}"
: "${STANDIN_PORT:=4020}" "${STANDIN_TLS_PORT:=4021}"
BYO_STANDIN_PIDS=()

wait_for_port() {  # $1 port, $2 seconds
    local i
    for ((i = 0; i < $2 * 5; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}

# Starts the processes without waiting, so a build can run meanwhile.
# $1: directory for logs and the throwaway certificate; $2: yes to start Prism too.
standins_launch() {
    local dir=$1 with_prism=${2:-yes}
    BYO_STANDIN_DIR=$dir BYO_STANDIN_PRISM=$with_prism
    mkdir -p "$dir"
    bash "$BYO_TEST_DIR/standin/make_cert.sh" "$dir" >/dev/null
    node "$BYO_TEST_DIR/standin/twilio_standin.js" --host 127.0.0.1 --port "$STANDIN_PORT" \
        --https-port "$STANDIN_TLS_PORT" --cert "$dir/cert.pem" --key "$dir/key.pem" \
        --fixtures "$BYO_TEST_DIR/standin/fixtures.json" >"$dir/standin.log" 2>&1 &
    BYO_STANDIN_PIDS+=($!)
    if [ "$with_prism" = yes ]; then
        local spec port
        for spec in api_v2010:$PRISM_API_PORT conversations_v1:$PRISM_CONVERSATIONS_PORT messaging_v1:$PRISM_MESSAGING_PORT; do
            port=${spec#*:}
            "$BYO_TEST_DIR/node_modules/.bin/prism" mock -h 127.0.0.1 -p "$port" "$SPEC_DIR/twilio_${spec%%:*}.json" \
                >"$dir/prism_${spec%%:*}.log" 2>&1 &
            BYO_STANDIN_PIDS+=($!)
        done
    fi
}

standins_wait() {
    local dir=$BYO_STANDIN_DIR with_prism=$BYO_STANDIN_PRISM port
    wait_for_port "$STANDIN_PORT" 30 || { echo "stand-in did not start:"; cat "$dir/standin.log"; return 1; }
    if [ "$with_prism" = yes ]; then
        for port in $PRISM_API_PORT $PRISM_CONVERSATIONS_PORT $PRISM_MESSAGING_PORT; do
            wait_for_port "$port" 180 || { echo "prism on $port did not start"; tail -20 "$dir"/prism_*.log; return 1; }
        done
    fi
    # A port answered, but was it ours? Another process holding it would make our server exit at once.
    local pid
    for pid in "${BYO_STANDIN_PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null || { echo "a stand-in exited (port taken?):"; tail -n 5 "$dir"/*.log; return 1; }
    done
}

standins_start() { standins_launch "$@" && standins_wait; }

standins_stop() {
    local pid
    for pid in "${BYO_STANDIN_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${BYO_STANDIN_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    BYO_STANDIN_PIDS=()
}
