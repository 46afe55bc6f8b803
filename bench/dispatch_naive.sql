-- The naive alternative to byo_twilio's outbox: one synchronous HTTP call to Twilio per message, made inside the
-- caller's transaction (the transaction stays open, and the caller waits, until Twilio answers).
-- Run as a superuser in the benchmark's throwaway cluster by bench/dispatch_run.sh, with psql variables:
--   have_pgsql_http, have_c_model, have_plpython: true/false (which HTTP implementations are available)
--   c_model_so: absolute path of the built bench/dispatch_naive_http.c (when have_c_model)
-- The account's auth token is set afterwards by the run script from the fixture environment, never printed.
\set ON_ERROR_STOP on

CREATE SCHEMA dispatch_naive;

CREATE TABLE dispatch_naive.account (
    id integer PRIMARY KEY CHECK (id = 1),
    base_url text NOT NULL,
    account_sid text NOT NULL,
    auth_token text NOT NULL,          -- in plain text, as a user of this approach typically keeps it
    messaging_service_sid text NOT NULL
);

CREATE TABLE dispatch_naive.messages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    to_number text NOT NULL,
    body text NOT NULL,
    status text NOT NULL,
    twilio_sid text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- HTTP implementations, all with the same shape:
--   (url text, userpwd text, form text[] /* name, value, ... */, OUT status int, OUT content text)

\if :have_pgsql_http
-- The real pgsql-http extension (package postgresql-15-http, from apt.postgresql.org).
CREATE EXTENSION http;
CREATE FUNCTION dispatch_naive.http_post_form_pgsql_http(url text, userpwd text, form text[],
                                                        OUT status integer, OUT content text)
LANGUAGE sql VOLATILE AS $$
    SELECT r.status, r.content
      FROM http(ROW('POST', url,
                    ARRAY[http_header('Authorization',
                                      'Basic ' || translate(encode(convert_to(userpwd, 'UTF8'), 'base64'), E'\n', ''))],
                    'application/x-www-form-urlencoded',
                    urlencode(jsonb_object(form)))::http_request) AS r
$$;
\endif

\if :have_c_model
-- A model of pgsql-http's POST in C (bench/dispatch_naive_http.c): libcurl easy handle kept per session.
CREATE FUNCTION dispatch_naive.http_post_form_c_model(url text, userpwd text, form text[],
                                                     OUT status integer, OUT content text)
    AS :'c_model_so', 'dispatch_naive_http_post_form' LANGUAGE C VOLATILE STRICT;
\endif

\if :have_plpython
-- What a self-hosted user might write instead: PL/Python with the standard library (a new connection per call).
CREATE EXTENSION plpython3u;
CREATE FUNCTION dispatch_naive.http_post_form_plpython(url text, userpwd text, form text[],
                                                      OUT status integer, OUT content text)
LANGUAGE plpython3u VOLATILE STRICT AS $$
import base64
import urllib.error
import urllib.parse
import urllib.request
data = urllib.parse.urlencode(list(zip(form[0::2], form[1::2]))).encode()
request = urllib.request.Request(url, data=data, method='POST', headers={
    'Content-Type': 'application/x-www-form-urlencoded',
    'Authorization': 'Basic ' + base64.b64encode(userpwd.encode()).decode()})
try:
    with urllib.request.urlopen(request, timeout=5) as answer:
        return (answer.status, answer.read().decode())
except urllib.error.HTTPError as e:
    return (e.code, e.read().decode())
$$;
\endif

-- (Re)defines dispatch_naive.send_sms(to_number, body) on top of one of the HTTP implementations above. The body is
-- what a user would write: read the account, POST to Messages.json, fail the transaction on an error answer, keep
-- a row with Twilio's SID and status.
CREATE FUNCTION dispatch_naive.define_send_sms(http_fn regproc) RETURNS void
LANGUAGE plpgsql AS $define$
BEGIN
    EXECUTE format($f$
        CREATE OR REPLACE FUNCTION dispatch_naive.send_sms(to_number text, body text) RETURNS text
        LANGUAGE plpgsql VOLATILE AS $body$
        DECLARE
            a dispatch_naive.account;
            r record;
            answer jsonb;
        BEGIN
            SELECT * INTO STRICT a FROM dispatch_naive.account WHERE id = 1;
            SELECT * INTO r
              FROM %s(a.base_url || '/2010-04-01/Accounts/' || a.account_sid || '/Messages.json',
                      a.account_sid || ':' || a.auth_token,
                      ARRAY['To', to_number, 'MessagingServiceSid', a.messaging_service_sid, 'Body', body]);
            IF r.status <> 201 THEN
                RAISE EXCEPTION 'Twilio answered %%: %%', r.status, left(r.content, 200);
            END IF;
            answer := r.content::jsonb;
            INSERT INTO dispatch_naive.messages (to_number, body, status, twilio_sid)
            VALUES (to_number, body, answer ->> 'status', answer ->> 'sid');
            RETURN answer ->> 'sid';
        END
        $body$
    $f$, http_fn);
END
$define$;
