#!/usr/bin/env bash
# How long a 403 takes when the tenant is unknown, against when the tenant is known and the signature is wrong:
# if they differ, an outsider can tell which numbers and webhook keys are registered. Calls twilio.handle_webhook
# in one backend, the cases interleaved call by call, and prints the median and 90th percentile of each (µs) and
# their difference. Starts a throwaway cluster (removed at the end). Usage: bash bench/forbidden_timing.sh
# Environment: BENCH_CALLS (calls per case, default 20000), BYO_PGPORT (default 54393).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CALLS=${BENCH_CALLS:-20000}
export BYO_PGPORT=${BYO_PGPORT:-54393}
make -s -j2 >/dev/null && make -s install >/dev/null
source test/lib/cluster.sh
trap cluster_remove EXIT
cluster_start "byo_twilio.encryption_key = 'k1:$(openssl rand -hex 32)'
jit = off" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d postgres -f sql/byo_twilio_auth_compat.sql >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d postgres <<SQL
CREATE EXTENSION byo_twilio;
INSERT INTO auth.users (id) VALUES ('00000000-0000-0000-0000-00000000f001');
INSERT INTO twilio.user_settings (user_id, account_sid, auth_token_envelope, sms_number, webhook_key)
VALUES ('00000000-0000-0000-0000-00000000f001', 'AC$(printf 'f%.0s' {1..32})',
        twilio._seal_token('00000000-0000-0000-0000-00000000f001', 'AC$(printf 'f%.0s' {1..32})', repeat('ab', 16)),
        '+15005550006', 'abababababababababababababababab');
SQL
psql -X -q -At -v ON_ERROR_STOP=1 -d postgres <<SQL
CREATE TEMP TABLE t (kind text, us double precision);
DO \$\$
DECLARE
    body_for text := 'AccountSid=AC$(printf '9%.0s' {1..32})&Body=hi&From=%2B15005550777&MessageSid=SM'
                     || repeat('1', 32) || '&SmsStatus=received&To=';
    cases text[][] := ARRAY[
        ['unknown number', 'https://relay.example.test/twilio/sms', '%2B15005559999'],
        ['known number, wrong signature', 'https://relay.example.test/twilio/sms', '%2B15005550006'],
        ['unknown webhook key', 'https://relay.example.test/twilio/cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd/sms', '%2B15005559999'],
        ['known webhook key, wrong signature', 'https://relay.example.test/twilio/abababababababababababababababab/sms', '%2B15005559999']];
    t0 timestamptz;
    st integer;
BEGIN
    FOR i IN 1..$CALLS LOOP
        FOR c IN 1..array_length(cases, 1) LOOP
            t0 := clock_timestamp();
            SELECT status INTO st FROM twilio.handle_webhook(cases[c][2], 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=',
                                                             'application/x-www-form-urlencoded',
                                                             body_for || cases[c][3]);
            IF i > 200 THEN  -- after warm-up (plans kept, caches filled)
                INSERT INTO t VALUES (cases[c][1], extract(epoch FROM clock_timestamp() - t0) * 1e6);
            END IF;
            IF st <> 403 THEN RAISE EXCEPTION 'case % answered %, not 403', cases[c][1], st; END IF;
        END LOOP;
    END LOOP;
END
\$\$;
SELECT format('| %s | %s | %s |', kind, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY us)::numeric, 1),
              round(percentile_cont(0.9) WITHIN GROUP (ORDER BY us)::numeric, 1))
  FROM t GROUP BY kind ORDER BY kind;
SQL
