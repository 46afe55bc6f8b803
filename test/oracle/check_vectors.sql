-- Oracle check: compare twilio.compute_signature / twilio.validate_signature
-- against vectors produced by test/oracle/make_vectors.js (expected values come
-- from Twilio's official Node helper library).
--
--   psql -X -v vectors=/path/to/vectors.tsv -f test/oracle/check_vectors.sql
--
-- Prints one line per mismatch (never the auth token) and, last, exactly one
-- summary line:  oracle: N passed, N failed
-- Needs a UTF8 database and the byo_twilio extension installed.

\set QUIET on
\set ON_ERROR_STOP on
\pset pager off
\pset tuples_only on
\pset format unaligned
\pset footer off
SET client_min_messages = warning;

SET client_encoding = 'UTF8';

\if :{?vectors}
\else
  DO $$ BEGIN RAISE EXCEPTION 'check_vectors.sql: set the psql variable vectors to the TSV path (psql -v vectors=FILE)'; END $$;
\endif
SELECT current_setting('server_encoding') = 'UTF8' AS oracle_utf8 \gset
\if :oracle_utf8
\else
  DO $$ BEGIN RAISE EXCEPTION 'check_vectors.sql: the database must use UTF8 encoding'; END $$;
\endif

CREATE TEMP TABLE oracle_raw (
    id           bigint GENERATED ALWAYS AS IDENTITY,
    kind         text,
    token        text,
    url          text,
    payload      text,
    content_type text,
    signature    text,
    expected     text
);

-- \copy takes the rest of its line literally (no variable interpolation), so
-- build the command in a variable and run that.
\set oracle_copy '\\copy oracle_raw (kind, token, url, payload, content_type, signature, expected) from ' :'vectors' ' with (format text)'
:oracle_copy

SELECT count(*) AS oracle_n,
       to_regprocedure('twilio.compute_signature(text,text,jsonb)') IS NOT NULL
   AND to_regprocedure('twilio.validate_signature(text,text,text,text,text)') IS NOT NULL AS oracle_have_api
FROM oracle_raw \gset
\if :oracle_have_api
\else
  \echo 'oracle: twilio.compute_signature(text,text,jsonb) / twilio.validate_signature(text,text,text,text,text) not found (is byo_twilio installed in this database?)'
  SELECT format('oracle: 0 passed, %s failed', :oracle_n);
  \quit
\endif

CREATE TEMP TABLE oracle_vec AS
SELECT id,
       convert_from(decode(kind, 'base64'), 'UTF8')         AS kind,
       convert_from(decode(token, 'base64'), 'UTF8')        AS token,
       convert_from(decode(url, 'base64'), 'UTF8')          AS url,
       convert_from(decode(payload, 'base64'), 'UTF8')      AS payload,
       convert_from(decode(content_type, 'base64'), 'UTF8') AS content_type,
       convert_from(decode(signature, 'base64'), 'UTF8')    AS signature,
       convert_from(decode(expected, 'base64'), 'UTF8')     AS expected
FROM oracle_raw;

-- One row's result as text; an error in the function under test counts as a
-- failure of that row instead of aborting the run. The token is scrubbed from
-- error messages.
CREATE FUNCTION pg_temp.oracle_eval(k text, tok text, u text, payload text, ct text, sig text)
RETURNS text LANGUAGE plpgsql AS $fn$
BEGIN
    IF k = 'compute' THEN
        RETURN twilio.compute_signature(tok, u, payload::jsonb);
    ELSIF k = 'form' THEN
        RETURN twilio.validate_signature(tok, sig, u, payload, ct)::text;
    ELSIF k = 'json' THEN
        RETURN twilio.validate_signature(tok, sig, u, payload, coalesce(nullif(ct, ''), 'application/json'))::text;
    END IF;
    RETURN 'unknown kind ' || coalesce(k, 'NULL');
EXCEPTION WHEN OTHERS THEN
    RETURN 'ERROR: ' || CASE WHEN tok <> '' THEN replace(SQLERRM, tok, '<token>') ELSE SQLERRM END;
END
$fn$;

CREATE TEMP TABLE oracle_res AS
SELECT id, kind, url, expected, got,
       CASE WHEN kind = 'compute' THEN got IS NOT DISTINCT FROM expected
            ELSE got IS NOT DISTINCT FROM (CASE WHEN expected = 'true' THEN 'true' ELSE 'false' END)
       END AS ok
FROM (SELECT v.*, pg_temp.oracle_eval(v.kind, v.token, v.url, v.payload, v.content_type, v.signature) AS got
      FROM oracle_vec v) s;

SELECT format('MISMATCH vector %s kind=%s url=%s expected=%s got=%s',
              id, kind, url, expected, coalesce(got, 'NULL'))
FROM oracle_res
WHERE NOT ok
ORDER BY id;

SELECT format('oracle: %s passed, %s failed',
              count(*) FILTER (WHERE ok), count(*) FILTER (WHERE NOT ok))
FROM oracle_res;
