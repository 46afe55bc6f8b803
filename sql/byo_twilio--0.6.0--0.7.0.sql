-- byo_twilio 0.6.0 -> 0.7.0: messages as Twilio has them (media, sends from a number, webhook fields) and a
-- dispatcher that keeps each job on the account it belongs to.
\echo Use "ALTER EXTENSION byo_twilio UPDATE TO '0.7.0'" to load this file. \quit

-- Webhook URLs end in Twilio connection overrides, so Twilio retries a webhook the relay answered 503.
-- The webhook URLs carrying a user's key (NULL until byo_twilio.webhook_base_url is set). Each ends in Twilio's
-- connection overrides (a fragment Twilio reads and never sends): retry on a connect failure, a read timeout or a
-- 5xx, 5 times within 15 s, so a relay that cannot store a webhook (503) gets it again. The webhook check accepts
-- signatures over the URL with and without it (src/core/webhook_url.hpp, kConnectionOverrides: the same text).
CREATE OR REPLACE FUNCTION twilio._webhook_urls(webhook_key text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_object_agg(kind, rtrim(base, '/') || '/twilio/' || webhook_key || '/' || kind
                                  || '#rc=5&rp=ct,rt,5xx&tt=15000')
      FROM (SELECT nullif(current_setting('byo_twilio.webhook_base_url', true), '') AS base) b,
           unnest(ARRAY['conversations', 'sms', 'status', 'voice_status']) AS kind
     WHERE b.base IS NOT NULL
$$;
