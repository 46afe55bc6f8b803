-- byo_twilio 0.5.0 -> 0.6.0: the power dialer (docs/dialer.md: manual actions, do-not-call, click-to-call through
-- the outbox) and faster drip ticks (docs/drips.md).
\echo Use "ALTER EXTENSION byo_twilio UPDATE TO '0.6.0'" to load this file. \quit

-- Calls: a row per leg, written before Twilio has the call (call_sid NULL until the dispatcher learns it).
ALTER TABLE twilio.voice_calls
    DROP CONSTRAINT voice_calls_pkey,
    ALTER COLUMN call_sid DROP NOT NULL,
    ADD COLUMN id uuid NOT NULL DEFAULT twilio._uuid_v7(),
    ADD COLUMN leg text NOT NULL DEFAULT 'other' CHECK (leg IN ('agent', 'lead', 'other')),
    ADD COLUMN parent_call_sid text CHECK (parent_call_sid ~ '^CA[0-9a-fA-F]{32}$'),
    ADD COLUMN action_id uuid,
    ADD COLUMN lead_phone text,
    ADD COLUMN account_sid text,
    ADD COLUMN answered_by text,
    ADD COLUMN sip_response_code integer,
    ADD COLUMN error_code integer,
    ADD COLUMN error_message text,
    ADD COLUMN created_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN answered_at timestamptz,
    ADD COLUMN ended_at timestamptz,
    ADD PRIMARY KEY (user_id, id),
    ADD UNIQUE (user_id, call_sid);
-- Calls go through the outbox like every other send.
ALTER TABLE twilio.outbox
    DROP CONSTRAINT outbox_kind_check,
    ADD CONSTRAINT outbox_kind_check
        CHECK (kind IN ('create_conversation', 'send_conversation_message', 'send_sms', 'create_call')),
    ADD COLUMN call_id uuid;
