-- pgbench script for the webhook benchmark (bench/webhook_run.sh): one pre-signed "delivered" status callback per
-- transaction for one of the user's outbound messages (status "sent"), straight into twilio.handle_webhook: each
-- call locks the message, moves it forward and records the event.
SELECT h.status
  FROM webhook_bench.sreqs r,
       LATERAL twilio.handle_webhook(r.url, r.signature, 'application/x-www-form-urlencoded', r.body) h
 WHERE r.id = (SELECT nextval('webhook_bench.next_sreq'));
