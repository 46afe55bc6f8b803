-- Signature validation: twilio.validate_signature vs a bare pgcrypto hmac() and vs the PL/pgSQL + pgcrypto
-- validator a user would write without this extension. Needs bench/setup.sql first.
-- psql variables: reps (rounds per case), target_s (seconds per timed statement).
\set ON_ERROR_STOP on
SET client_min_messages = warning;

-- Form-decoding of one name or value: '+' is a space, %XX is a byte; the bytes are UTF-8.
-- Pieces are a %XX escape, a run without '%', or a lone '%' (kept as is).
CREATE FUNCTION bench.form_decode(s text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    decoded text;
BEGIN
    s := replace(s, '+', ' ');
    IF strpos(s, '%') = 0 THEN
        RETURN s;  -- the common case: nothing to decode
    END IF;
    SELECT convert_from(string_agg(CASE WHEN length(piece[1]) = 3 AND left(piece[1], 1) = '%'
                                        THEN decode(substr(piece[1], 2), 'hex')
                                        ELSE convert_to(piece[1], 'UTF8') END,
                                   ''::bytea ORDER BY pos),
                        'UTF8')
      INTO decoded
      FROM regexp_matches(s, '%[0-9A-Fa-f]{2}|[^%]+|%', 'g') WITH ORDINALITY AS m(piece, pos);
    RETURN coalesce(decoded, '');
END
$$;

-- Twilio request validation for form-encoded webhooks, the way one would write it in PL/pgSQL with pgcrypto:
-- split the body on '&' and '=', decode, sort by name (then value) bytewise, append name||value to the URL,
-- HMAC-SHA1 with the auth token, base64, compare with the X-Twilio-Signature header.
CREATE FUNCTION bench.plpgsql_validate_signature(auth_token text, signature text, url text, body text)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    joined text;
BEGIN
    SELECT string_agg(kv.name || kv.value, '' ORDER BY kv.name COLLATE "C", kv.value COLLATE "C")
      INTO joined
      FROM (SELECT bench.form_decode(split_part(pair, '=', 1)) AS name,
                   bench.form_decode(substr(pair, strpos(pair || '=', '=') + 1)) AS value
              FROM unnest(string_to_array(body, '&')) AS pair
             WHERE pair <> '') AS kv;
    RETURN encode(hmac(url || coalesce(joined, ''), auth_token, 'sha1'), 'base64') = signature;
END
$$;

-- The signed string and the signature, computed from the decoded parameter list (independently of the body).
UPDATE bench.inputs i
   SET signed_data = i.url || (SELECT string_agg(p.name || p.value, '' ORDER BY p.name COLLATE "C", p.value COLLATE "C")
                                 FROM bench.form_params p);
UPDATE bench.inputs i SET signature = encode(hmac(i.signed_data, i.token, 'sha1'), 'base64');

-- Preconditions: the three implementations agree on these inputs, and reject a forgery.
SELECT bench.check((SELECT count(*) FROM bench.form_params) = 15, '15 form parameters'),
       bench.check(length(i.body) BETWEEN 380 AND 460, 'body of about 400 bytes'),
       bench.check(twilio.compute_signature(i.token, i.url,
                       (SELECT jsonb_object_agg(p.name, p.value) FROM bench.form_params p)) = i.signature,
                   'twilio.compute_signature matches the pgcrypto signature'),
       bench.check(twilio.validate_signature(i.token, i.signature, i.url, i.body, i.content_type),
                   'twilio.validate_signature accepts the genuine signature'),
       bench.check(bench.plpgsql_validate_signature(i.token, i.signature, i.url, i.body),
                   'PL/pgSQL validator accepts the genuine signature'),
       bench.check(NOT twilio.validate_signature(i.token, i.signature, i.url, replace(i.body, 'Hi%21', 'Hi%3F'),
                                                 i.content_type),
                   'twilio.validate_signature rejects a tampered body'),
       bench.check(NOT bench.plpgsql_validate_signature(i.token, i.signature, i.url,
                                                        replace(i.body, 'Hi%21', 'Hi%3F')),
                   'PL/pgSQL validator rejects a tampered body')
  FROM bench.inputs i \gset check_

SELECT format('inputs: %s form parameters, %s-byte body, %s-byte URL with query string, %s-byte signed string',
              (SELECT count(*) FROM bench.form_params), length(body), length(url), length(signed_data)) AS info
  FROM bench.inputs \gset
\echo :info

INSERT INTO bench.cases (grp, ord, label, expr, kind) VALUES
    ('signature', 1, '`twilio.validate_signature` (ours)',
     'twilio.validate_signature(i.token, i.signature, i.url, i.body, i.content_type)', 'ours'),
    ('signature', 2, 'PL/pgSQL + pgcrypto validator (user alternative)',
     'bench.plpgsql_validate_signature(i.token, i.signature, i.url, i.body)', 'alternative'),
    ('signature', 3, 'bare pgcrypto `hmac(signed_string, token, ''sha1'')` (floor)',
     'hmac(i.signed_data, i.token, ''sha1'') IS NOT NULL', 'floor'),
    ('signature', 4, 'empty loop: harness overhead per row (reference)',
     'i.body IS NOT NULL', 'harness');

SELECT bench.run_group('signature', :reps, :target_s) \gset run_
