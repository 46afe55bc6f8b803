-- pgbench script for the naive alternative (bench/dispatch_naive.sql): one message per transaction, the HTTP call
-- to Twilio made synchronously inside it. bench/dispatch_run.sh runs it with -c 8 (parallel sessions).
\set n random(1, 9999999)
SELECT dispatch_naive.send_sms('+1555' || lpad(:n::text, 7, '0'), 'dispatch naive pgbench ' || :client_id || ' ' || :n);
