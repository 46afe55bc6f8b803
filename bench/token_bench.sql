-- Token decrypt: opening our AES-256-GCM envelope (twilio._token_mask decrypts, then masks) vs pgcrypto's
-- pgp_sym_decrypt, and raw AES-256-CBC decrypt_iv as a floor. Everything is encrypted once, up front; only
-- decryption is timed. Needs bench/setup.sql first. psql variables: reps, target_s.
\set ON_ERROR_STOP on
SET client_min_messages = warning;

UPDATE bench.inputs
   SET owner = gen_random_uuid()::text,
       account_sid = 'AC0a1b2c3d4e5f60718293a4b5c6d7e8f9',
       pgp_key = encode(gen_random_bytes(32), 'hex'),
       raw_key = gen_random_bytes(32),
       raw_iv = gen_random_bytes(16);
-- pgp_sym_encrypt defaults (aes128, iterated+salted S2K with SHA-1, MDC), except that the S2K count, random
-- between 65536 and 253952 by default, is pinned to 65536 (the cheapest default) so runs are comparable.
UPDATE bench.inputs
   SET envelope = twilio._seal_token(owner, account_sid, token),
       pgp_default = pgp_sym_encrypt(token, pgp_key, 's2k-count=65536'),
       pgp_fast = pgp_sym_encrypt(token, pgp_key, 'cipher-algo=aes256, s2k-mode=1'),
       raw_cipher = encrypt_iv(convert_to(token, 'UTF8'), raw_key, raw_iv, 'aes-cbc/pad:pkcs');

-- Preconditions: every variant gives the token back (ours: masked, showing its last 4 characters).
SELECT bench.check(twilio._token_mask(i.owner, i.account_sid, i.envelope)
                       = repeat('*', length(i.token) - 4) || right(i.token, 4),
                   'twilio._token_mask opens the envelope'),
       bench.check(pgp_sym_decrypt(i.pgp_default, i.pgp_key) = i.token, 'pgp_sym_decrypt (default options)'),
       bench.check(pgp_sym_decrypt(i.pgp_fast, i.pgp_key) = i.token, 'pgp_sym_decrypt (s2k-mode=1)'),
       bench.check(convert_from(decrypt_iv(i.raw_cipher, i.raw_key, i.raw_iv, 'aes-cbc/pad:pkcs'), 'UTF8') = i.token,
                   'decrypt_iv')
  FROM bench.inputs i \gset check_

INSERT INTO bench.cases (grp, ord, label, expr, kind) VALUES
    ('token', 1, '`twilio._token_mask`: AES-256-GCM envelope open + mask (ours)',
     'twilio._token_mask(i.owner, i.account_sid, i.envelope) IS NOT NULL', 'ours'),
    ('token', 2, '`pgp_sym_decrypt`, default options (aes128, S2K mode 3, count 65536)',
     'pgp_sym_decrypt(i.pgp_default, i.pgp_key) IS NOT NULL', 'alternative'),
    ('token', 3, '`pgp_sym_decrypt`, `cipher-algo=aes256, s2k-mode=1` (no key stretching)',
     'pgp_sym_decrypt(i.pgp_fast, i.pgp_key) IS NOT NULL', 'alternative'),
    ('token', 4, 'raw `decrypt_iv(..., ''aes-cbc/pad:pkcs'')`, AES-256-CBC, no integrity (floor)',
     'decrypt_iv(i.raw_cipher, i.raw_key, i.raw_iv, ''aes-cbc/pad:pkcs'') IS NOT NULL', 'floor');

SELECT bench.run_group('token', :reps, :target_s) \gset run_
