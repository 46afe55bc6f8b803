-- byo_twilio 0.2.0 -> 0.3.0: twilio.handle_webhooks, the relay's batch call (src/pg/fn_webhook.cpp).
\echo Use "ALTER EXTENSION byo_twilio UPDATE TO '0.3.0'" to load this file. \quit

CREATE FUNCTION twilio.handle_webhooks(urls text[], signatures text[], request_content_types text[],
                                       request_bodies text[])
    RETURNS TABLE (item integer, status integer, content_type text, body text)
    AS 'MODULE_PATHNAME', 'byo_handle_webhooks'
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION twilio.handle_webhooks(text[], text[], text[], text[]) IS
    'Many Twilio webhooks in one transaction, as handle_webhook would take each; one answer row per webhook';
REVOKE ALL ON FUNCTION twilio.handle_webhooks(text[], text[], text[], text[]) FROM PUBLIC;

-- Whoever may call handle_webhook (the relay's role) may call the batch too, so an updated relay batches at once.
DO $$
DECLARE
    grantee text;
BEGIN
    FOR grantee IN
        SELECT a.grantee::regrole::text
          FROM pg_proc p, aclexplode(p.proacl) a
         WHERE p.oid = 'twilio.handle_webhook(text, text, text, text)'::regprocedure
           AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0 AND a.grantee <> p.proowner
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION twilio.handle_webhooks(text[], text[], text[], text[]) TO %s',
                       grantee);
    END LOOP;
END
$$;
