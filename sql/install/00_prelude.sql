-- byo_twilio: Bring Your Own Twilio. Install script for schema `twilio` (assembled from sql/install/*.sql).
\echo Use "CREATE EXTENSION byo_twilio" to load this file. \quit

-- Supabase provides auth.users, auth.uid() and the client roles; plain PostgreSQL gets them from our compat
-- script. Refuse to install half-working without them.
DO $$
DECLARE
    missing text[] := '{}';
BEGIN
    IF to_regnamespace('auth') IS NULL THEN missing := array_append(missing, 'schema auth'); END IF;
    IF to_regclass('auth.users') IS NULL THEN missing := array_append(missing, 'table auth.users'); END IF;
    IF to_regprocedure('auth.uid()') IS NULL THEN missing := array_append(missing, 'function auth.uid()'); END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN missing := array_append(missing, 'role anon'); END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        missing := array_append(missing, 'role authenticated');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        missing := array_append(missing, 'role service_role');
    END IF;
    IF cardinality(missing) > 0 THEN
        RAISE EXCEPTION 'byo_twilio needs Supabase''s auth schema and roles; missing: %', array_to_string(missing, ', ')
            USING ERRCODE = 'undefined_object',
                  HINT = 'On plain PostgreSQL, first run: psql -f "$(pg_config --sharedir)/extension/byo_twilio_auth_compat.sql"';
    END IF;
END
$$;

GRANT USAGE ON SCHEMA twilio TO anon, authenticated, service_role;

