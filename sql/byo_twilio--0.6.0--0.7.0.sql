-- byo_twilio 0.6.0 -> 0.7.0: messages as Twilio has them (media, sends from a number, webhook fields) and a
-- dispatcher that keeps each job on the account it belongs to.
\echo Use "ALTER EXTENSION byo_twilio UPDATE TO '0.7.0'" to load this file. \quit
