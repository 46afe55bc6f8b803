-- byo_twilio 0.5.0 -> 0.6.0: the power dialer (docs/dialer.md: manual actions, do-not-call, click-to-call through
-- the outbox) and faster drip ticks (docs/drips.md).
\echo Use "ALTER EXTENSION byo_twilio UPDATE TO '0.6.0'" to load this file. \quit
