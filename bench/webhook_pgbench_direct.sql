-- pgbench script for the webhook benchmark (bench/webhook_run.sh): one pre-signed inbound SMS per transaction,
-- straight into twilio.handle_webhook with no HTTP and no relay, i.e. the SQL side's own ceiling. Each
-- transaction takes the next request of webhook_bench.reqs (a sequence, evaluated once per statement), so every
-- call is a new MessageSid and a real insert.
SELECT h.status
  FROM webhook_bench.reqs r,
       LATERAL twilio.handle_webhook(r.url, r.signature, 'application/x-www-form-urlencoded', r.body) h
 WHERE r.id = (SELECT nextval('webhook_bench.next_req'));
