------------------------------------------------------------------------------------------------------------------
-- Who may call what: nothing by default; then exactly the public API.
------------------------------------------------------------------------------------------------------------------
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA twilio FROM PUBLIC;
GRANT EXECUTE ON FUNCTION twilio.compute_signature(text, text, jsonb),
                          twilio.validate_signature(text, text, text, text, text), twilio.token_sealing_key()
    TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION twilio.save_settings(text, text, text, text, text), twilio.get_settings(),
                          twilio.status(), twilio.verify_settings(), twilio.disconnect(),
                          twilio.get_or_create_conversation_for_lead(uuid, text, text),
                          twilio.send_conversation_message(uuid, text, text[]), twilio.send_sms(text, text, text[]),
                          twilio.media_link(uuid, integer)
    TO authenticated;
GRANT EXECUTE ON FUNCTION twilio.set_platform_account(text, text, text, text, text, boolean),
                          twilio.set_platform_fallback(boolean), twilio.get_platform_account(),
                          twilio.clear_platform_account(), twilio.rotate_encryption_keys(),
                          twilio.encryption_status(), twilio.dispatcher_pid()
    TO service_role;
-- The webhook entry points are for the relay's own role only (see relay/README.md):
--   CREATE ROLE byo_twilio_relay LOGIN PASSWORD '...';
--   GRANT USAGE ON SCHEMA twilio TO byo_twilio_relay;
--   GRANT EXECUTE ON FUNCTION twilio.handle_webhook(text, text, text, text),
--                             twilio.handle_webhooks(text[], text[], text[], text[]) TO byo_twilio_relay;
