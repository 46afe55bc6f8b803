-- Benchmark scaffolding: schema `bench`, one row of realistic inputs, the timing harness and the results table.
-- Run by bench/run.sh as superuser in a throwaway database (after pgcrypto and byo_twilio are created).
-- Secrets (the auth token, the pgcrypto passphrase) are generated here and never selected back to the client.
\set ON_ERROR_STOP on
SET client_min_messages = warning;

DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;

-- Exactly one row: every timed statement cross-joins it with generate_series, so function arguments are column
-- references (the planner cannot fold an IMMUTABLE call with constant arguments into a single evaluation).
CREATE TABLE bench.inputs (
    token        text  NOT NULL,  -- a Twilio-style auth token: 32 lowercase hex characters, random per run
    url          text  NOT NULL,  -- the webhook URL Twilio called, with a query string
    body         text  NOT NULL,  -- the raw application/x-www-form-urlencoded body of an inbound SMS
    content_type text  NOT NULL,
    signed_data  text,            -- url followed by the sorted, decoded name/value pairs (what gets HMAC'd)
    signature    text,            -- the X-Twilio-Signature header for this request
    owner        text,            -- token-envelope context: the owning user id
    account_sid  text,            -- token-envelope context: the Twilio account SID
    envelope     bytea,           -- twilio._seal_token(owner, account_sid, token)
    pgp_key      text,            -- passphrase for the pgcrypto alternatives (random per run)
    pgp_default  bytea,           -- pgp_sym_encrypt(token, pgp_key, default options, s2k-count pinned)
    pgp_fast     bytea,           -- pgp_sym_encrypt(token, pgp_key, 'cipher-algo=aes256, s2k-mode=1')
    raw_key      bytea,           -- 32 random bytes: key for the raw AES-256-CBC floor
    raw_iv       bytea,           -- IV for the raw AES-256-CBC floor
    raw_cipher   bytea            -- encrypt_iv(token, raw_key, raw_iv, 'aes-cbc/pad:pkcs')
);

-- The decoded form parameters of the body below, in the order Twilio sends them (15 parameters).
CREATE TABLE bench.form_params (ord int PRIMARY KEY, name text NOT NULL, value text NOT NULL);
INSERT INTO bench.form_params VALUES
    (1,  'ToCountry',     'US'),
    (2,  'SmsMessageSid', 'SM3f1c0f6b9a2e4d7c8b5a1e0d9c8b7a6f'),
    (3,  'NumMedia',      '0'),
    (4,  'ToCity',        'SAN FRANCISCO'),
    (5,  'SmsSid',        'SM3f1c0f6b9a2e4d7c8b5a1e0d9c8b7a6f'),
    (6,  'FromState',     'CA'),
    (7,  'SmsStatus',     'received'),
    (8,  'FromCity',      'OAKLAND'),
    (9,  'Body',          'Hi! Is order #4521 ready for pickup today? Thanks :)'),
    (10, 'FromCountry',   'US'),
    (11, 'To',            '+14155550142'),
    (12, 'MessageSid',    'SM3f1c0f6b9a2e4d7c8b5a1e0d9c8b7a6f'),
    (13, 'AccountSid',    'AC0a1b2c3d4e5f60718293a4b5c6d7e8f9'),
    (14, 'From',          '+15105550178'),
    (15, 'ApiVersion',    '2010-04-01');

INSERT INTO bench.inputs (token, url, body, content_type)
VALUES (encode(gen_random_bytes(16), 'hex'),
        'https://hooks.example.com/twilio/sms/inbound?tenant=acme-co&region=us1',
        'ToCountry=US&SmsMessageSid=SM3f1c0f6b9a2e4d7c8b5a1e0d9c8b7a6f&NumMedia=0&ToCity=SAN+FRANCISCO'
        || '&SmsSid=SM3f1c0f6b9a2e4d7c8b5a1e0d9c8b7a6f&FromState=CA&SmsStatus=received&FromCity=OAKLAND'
        || '&Body=Hi%21+Is+order+%234521+ready+for+pickup+today%3F+Thanks+%3A%29&FromCountry=US'
        || '&To=%2B14155550142&MessageSid=SM3f1c0f6b9a2e4d7c8b5a1e0d9c8b7a6f'
        || '&AccountSid=AC0a1b2c3d4e5f60718293a4b5c6d7e8f9&From=%2B15105550178&ApiVersion=2010-04-01',
        'application/x-www-form-urlencoded');

-- Timed cases. `expr` is a boolean SQL expression over the alias `i` (bench.inputs) that must be true per row.
CREATE TABLE bench.cases (
    grp   text NOT NULL,
    ord   int  NOT NULL,
    label text NOT NULL,
    expr  text NOT NULL,
    kind  text NOT NULL CHECK (kind IN ('ours', 'alternative', 'floor', 'harness')),  -- ratios are vs 'ours'
    n     bigint,                          -- rows per run, from calibration
    PRIMARY KEY (grp, ord)
);

CREATE TABLE bench.results (
    grp     text   NOT NULL,
    ord     int    NOT NULL,
    rep     int    NOT NULL,
    n       bigint NOT NULL,
    seconds double precision NOT NULL
);

-- One timed statement: N calls of expr, wall-clock seconds. Fails loudly if any call was not true.
CREATE FUNCTION bench.time_once(expr text, n bigint) RETURNS double precision
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    t1 timestamptz;
    hits bigint;
BEGIN
    t0 := clock_timestamp();
    EXECUTE format('SELECT count(*) FILTER (WHERE %s) FROM generate_series(1, $1) AS g CROSS JOIN bench.inputs AS i',
                   expr)
        INTO hits USING n;
    t1 := clock_timestamp();
    IF hits IS DISTINCT FROM n THEN
        RAISE EXCEPTION 'benchmark case "%" was true for % of % rows', expr, hits, n;
    END IF;
    RETURN extract(epoch FROM t1 - t0);
END
$$;

-- Calibrates N for every case of the group (doubling from 64 calls until a run takes >= 0.1 s, then scaling to
-- target_s), then runs `reps` rounds; each round times every case once, in a rotated order so no case always
-- runs first or last. Returns nothing: results land in bench.results.
CREATE FUNCTION bench.run_group(group_name text, reps int, target_s double precision) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    c record;
    calls bigint;
    secs double precision;
    ncases int;
BEGIN
    FOR c IN SELECT * FROM bench.cases WHERE grp = group_name ORDER BY ord LOOP
        calls := 64;
        LOOP
            secs := bench.time_once(c.expr, calls);
            EXIT WHEN secs >= 0.1 OR calls >= 50000000;
            calls := calls * 2;
        END LOOP;
        calls := greatest(100, least(50000000, ceil(calls * target_s / greatest(secs, 1e-6))::bigint));
        UPDATE bench.cases SET n = calls WHERE grp = group_name AND ord = c.ord;
    END LOOP;

    SELECT count(*) INTO ncases FROM bench.cases WHERE grp = group_name;
    FOR r IN 1..reps LOOP
        FOR c IN SELECT * FROM bench.cases WHERE grp = group_name ORDER BY (ord + r) % ncases, ord LOOP
            secs := bench.time_once(c.expr, c.n);
            INSERT INTO bench.results VALUES (group_name, c.ord, r, c.n, secs);
        END LOOP;
    END LOOP;
END
$$;

-- Assertion helper for the correctness checks that precede timing.
CREATE FUNCTION bench.check(ok boolean, what text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF ok IS DISTINCT FROM true THEN
        RAISE EXCEPTION 'benchmark precondition failed: %', what;
    END IF;
END
$$;
