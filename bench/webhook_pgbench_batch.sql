-- pgbench script for the webhook benchmark (bench/webhook_run.sh): 8 pre-signed inbound SMS per transaction,
-- straight into twilio.handle_webhooks (the relay's batch call) with no HTTP and no relay: the SQL side's ceiling
-- when webhooks queue up. Takes the next 8 requests of webhook_bench.reqs (the sequence the direct phase uses).
SELECT count(*)
  FROM (SELECT array_agg(url ORDER BY id) AS u, array_agg(signature ORDER BY id) AS s,
               array_agg('application/x-www-form-urlencoded'::text) AS c, array_agg(body ORDER BY id) AS b
          FROM webhook_bench.reqs
         WHERE id IN (SELECT nextval('webhook_bench.next_req') FROM generate_series(1, 8))) AS batch,
       LATERAL twilio.handle_webhooks(batch.u, batch.s, batch.c, batch.b) AS h
 WHERE h.status = 200;
