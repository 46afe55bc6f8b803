-- byo_twilio 0.3.0 -> 0.4.0: messages and conversations get time-ordered ids (UUID version 7, src/core/uuid_v7.hpp).
-- Existing rows keep their ids; new rows sort after them by time. A random id sent each insert to a random page of
-- the primary key; at scale that page had to be read and written back for that one insert (docs/benchmarks.md).
\echo Use "ALTER EXTENSION byo_twilio UPDATE TO '0.4.0'" to load this file. \quit

CREATE FUNCTION twilio._uuid_v7() RETURNS uuid
    AS 'MODULE_PATHNAME', 'byo_uuid_v7' LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION twilio._uuid_v7() IS
    'Time-ordered UUID (RFC 9562 version 7): the default id of messages and conversations, so inserts append to the primary key';
REVOKE ALL ON FUNCTION twilio._uuid_v7() FROM PUBLIC;

ALTER TABLE twilio.conversations ALTER COLUMN id SET DEFAULT twilio._uuid_v7();
ALTER TABLE twilio.messages ALTER COLUMN id SET DEFAULT twilio._uuid_v7();
