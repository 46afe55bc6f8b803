-- byo_twilio 0.4.0 -> 0.5.0: hardening (docs/security.md): tokens sealed in the browser or app, so no plaintext
-- token need ever sit in a statement, a parameter or a log; stricter settings and inputs.
\echo Use "ALTER EXTENSION byo_twilio UPDATE TO '0.5.0'" to load this file. \quit
