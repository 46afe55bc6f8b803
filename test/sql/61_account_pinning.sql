-- Each job goes out with the account its conversation (or message) was created in, against the Twilio stand-in
-- (which, like Twilio, answers 20404 for a service of another account). dee starts on the platform account (bob's
-- here), connects her own (alice's), then switches to another of her own (bob's, as a user).
SET client_min_messages = warning;
\set SHOW_CONTEXT never
\getenv alice_sid ALICE_SID
\getenv alice_token ALICE_TOKEN
\getenv bob_sid BOB_SID
\getenv bob_token BOB_TOKEN
INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-00000000dd01', 'dee@example.com');
-- A refused send's SQLSTATE and message, the conversation's (random) id masked.
CREATE FUNCTION pg_temp.refusal(conv uuid) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM twilio.send_conversation_message(conv, 'after the switch');
    RETURN 'queued';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || replace(SQLERRM, conv::text, '<id>');
END
$$;
SET ROLE service_role;
SELECT twilio.set_platform_account(:'bob_sid', :'bob_token', 'ISb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0',
                                   'MGb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0', '+15005550008', true) IS NOT NULL AS platform_set;

-- on the platform account: a conversation and a first message in it
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-00000000dd01"}';
SELECT source FROM twilio.status();
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
SELECT twilio.get_or_create_conversation_for_lead('33333333-0000-0000-0000-000000000001', '+15005550501', 'Old lead')
    AS old_conv \gset
SELECT twilio.send_conversation_message(:'old_conv', 'on the platform') IS NOT NULL AS queued;
RESET ROLE;
SELECT wait_for_dispatcher();
\! node test/lib/standin_requests.js --method POST --fields Body

-- dee connects her own account. An SMS and a message in the old conversation, committed together with the
-- switch, and a message sent after it: all go out with the platform account they were created under.
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
SET ROLE authenticated;
BEGIN;
SELECT twilio.send_sms('+15005550502', 'sms queued on the platform') IS NOT NULL AS queued;
SELECT twilio.send_conversation_message(:'old_conv', 'queued on the platform') IS NOT NULL AS queued;
SELECT account_sid FROM twilio.save_settings(:'alice_sid', :'alice_token', 'ISa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1',
                                             'MGa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', '+15005550006');
COMMIT;
SELECT source FROM twilio.status();
SELECT twilio.send_conversation_message(:'old_conv', 'old conversation, after connecting') IS NOT NULL AS queued;
-- new work uses her own account
SELECT twilio.get_or_create_conversation_for_lead('33333333-0000-0000-0000-000000000002', '+15005550503', 'New lead')
    AS new_conv \gset
SELECT twilio.send_conversation_message(:'new_conv', 'new conversation') IS NOT NULL AS queued;
SELECT twilio.send_sms('+15005550504', 'new sms') IS NOT NULL AS queued;
RESET ROLE;
SELECT wait_for_dispatcher();
\! node test/lib/standin_requests.js --method POST --fields Body,MessagingBinding.Address --sort
SET ROLE authenticated;
SELECT body, status, account_sid, error_code FROM twilio.messages ORDER BY created_at;
SELECT friendly_name, status, account_sid, service_sid FROM twilio.conversations ORDER BY created_at;

-- dee switches to another account of her own. The old platform conversation is bob's account, now hers too: it
-- keeps working. The conversation in alice's account can no longer be reached: refused at enqueue, and a message
-- committed together with the switch fails with the reason instead of going out with another account.
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
BEGIN;
SELECT twilio.send_conversation_message(:'new_conv', 'queued before the switch') IS NOT NULL AS queued;
SELECT account_sid FROM twilio.save_settings(:'bob_sid', :'bob_token', 'ISb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0',
                                             'MGb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0', '+15005550008');
COMMIT;
SELECT pg_temp.refusal(:'new_conv');
SELECT twilio.send_conversation_message(:'old_conv', 'old conversation, own account now') IS NOT NULL AS queued;
RESET ROLE;
SELECT wait_for_dispatcher();
SET ROLE authenticated;
SELECT m.body, m.status, m.error_message, o.state, o.last_error
  FROM twilio.messages m JOIN twilio.outbox o ON o.user_id = m.user_id AND o.message_id = m.id
 WHERE m.body = 'queued before the switch';
-- asking for the lead's conversation again starts it afresh in the current account
SELECT twilio.get_or_create_conversation_for_lead('33333333-0000-0000-0000-000000000002', '+15005550503') = :'new_conv'
    AS same_conversation;
SELECT twilio.send_conversation_message(:'new_conv', 'restarted in the current account') IS NOT NULL AS queued;
RESET ROLE;
SELECT wait_for_dispatcher();
\! node test/lib/standin_requests.js --method POST --fields Body,MessagingBinding.Address --sort
SET ROLE authenticated;
SELECT friendly_name, status, account_sid, service_sid FROM twilio.conversations ORDER BY created_at;

-- the accounts dee may send with now: bob's (her own), not alice's
RESET ROLE;
SELECT source, account_sid FROM twilio._pinned_config('00000000-0000-0000-0000-00000000dd01', :'bob_sid');
SELECT count(*) AS alice_rows FROM twilio._pinned_config('00000000-0000-0000-0000-00000000dd01', :'alice_sid');

-- A job whose account lost the sender it needs after the job was queued (no Messaging Service and no number):
-- it fails with the reason, and the dispatcher goes on with the jobs behind it.
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
BEGIN;
SET LOCAL ROLE authenticated;
SELECT twilio.send_sms('+15005550505', 'sender gone before sending') IS NOT NULL AS queued;
RESET ROLE;
UPDATE twilio.user_settings SET messaging_service_sid = NULL, sms_number = NULL
 WHERE user_id = '00000000-0000-0000-0000-00000000dd01';
COMMIT;
SET ROLE authenticated;
SELECT twilio.send_conversation_message(:'new_conv', 'behind the one that cannot go') IS NOT NULL AS queued;
RESET ROLE;
SELECT wait_for_dispatcher();
SELECT m.body, m.status, o.state, o.last_error
  FROM twilio.messages m JOIN twilio.outbox o ON o.user_id = m.user_id AND o.message_id = m.id
 WHERE m.body IN ('sender gone before sending', 'behind the one that cannot go') ORDER BY m.body;
\! node test/lib/standin_requests.js --method POST --fields Body --sort

-- leave the platform account as 20_settings left it (fallback off, no Conversations service)
SET ROLE service_role;
SELECT twilio.set_platform_account(:'bob_sid', :'bob_token', NULL, 'MGb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0',
                                   '+15005550008') IS NOT NULL AS platform_restored;
RESET ROLE;
DELETE FROM auth.users WHERE id = '00000000-0000-0000-0000-00000000dd01';
RESET request.jwt.claims;
