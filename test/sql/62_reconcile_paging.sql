-- An SMS whose answer was lost is looked up at Twilio among the messages sent to its number since the job was
-- queued, page by page: here 120 other messages reached the same number after it, so it is on the third page of
-- 50. It is found there and recorded, never sent twice. The same for a call, on page two.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
\getenv alice_sid ALICE_SID
\getenv alice_token ALICE_TOKEN
INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-00000000ee01', 'eve@example.com');
-- Waits (up to 60 s) until the job of the SMS with this body is in `state` with a last_error starting with
-- `error_prefix` (NULL: any); says how it ended.
CREATE FUNCTION pg_temp.wait_for_job(sms_body text, want_state text, error_prefix text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + interval '60 seconds';
    job record;
BEGIN
    LOOP
        SELECT o.state, o.last_error INTO job FROM twilio.outbox o JOIN twilio.messages m ON m.id = o.message_id
         WHERE m.body = sms_body;
        IF job.state = want_state AND (error_prefix IS NULL OR job.last_error LIKE error_prefix || '%') THEN
            RETURN want_state;
        END IF;
        IF clock_timestamp() > deadline THEN
            RETURN 'still ' || coalesce(job.state, 'missing') || ': ' || coalesce(job.last_error, '');
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;

SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-00000000ee01"}';
SELECT account_sid FROM twilio.save_settings(:'alice_sid', :'alice_token', 'ISa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1',
                                             'MGa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', '+15005550006');

-- The send is processed but its answer lost; lookups are refused (503) until the other messages are there.
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
\! curl -s -o /dev/null -X POST "$STANDIN_URL/__faults" -H 'content-type: application/json' -d '[{"kind":"close_after","method":"POST","path":"Messages.json$","count":1},{"kind":"status","status":503,"method":"GET","path":"Messages.json$","count":100000}]'
SELECT twilio.send_sms('+15005550162', 'paged: ours') IS NOT NULL AS queued;
RESET ROLE;
SELECT pg_temp.wait_for_job('paged: ours', 'ambiguous', 'reconciliation failed: HTTP 503') AS lookup_refused;
\! node test/lib/standin_post_sms.js --account ALICE --to +15005550162 --count 120 --body 'paged: someone else'
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__faults"
SELECT pg_temp.wait_for_job('paged: ours', 'done', NULL) AS reconciled;

-- Found on the third page: recorded with the SID Twilio gave it, sent once. The lookup asked for what went to
-- the number since the job (less the clock slack), then followed Twilio's next-page links.
SELECT m.status, m.twilio_sid LIKE 'SM%' AS has_sid, o.state
  FROM twilio.messages m JOIN twilio.outbox o ON o.message_id = m.id WHERE m.body = 'paged: ours';
\! node test/lib/standin_requests.js --method POST --fields Body | grep -c 'Body=paged: ours$'
\! node test/lib/standin_requests.js --method GET --path 'Messages.json$' --query | sort -u

-- The same for a call whose answer was lost: 60 calls to the same agent from the same caller id came after it,
-- all the user's own (other rows hold their SIDs), so the lookup passes them by and finds ours on page two.
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__requests"
\! curl -s -o /dev/null -X POST "$STANDIN_URL/__faults" -H 'content-type: application/json' -d '[{"kind":"close_after","method":"POST","path":"Calls.json$","count":1},{"kind":"status","status":503,"method":"GET","path":"Calls.json$","count":100000}]'
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-0000-0000-00000000ee01"}';
SELECT 'Etc/GMT' || CASE WHEN n >= 0 THEN '+' || n ELSE n::text END AS noon_zone
  FROM (SELECT ((extract(hour FROM now() AT TIME ZONE 'UTC')::integer - 12 + 36) % 24) - 12 AS n) h \gset
SELECT id AS lost_call FROM twilio.dial(lead_phone => '+15005550163', agent_phone => '+15005550164',
                                        time_zone => :'noon_zone') \gset
RESET ROLE;
CREATE FUNCTION pg_temp.wait_for_call_job(call uuid, want_state text, error_prefix text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + interval '60 seconds';
    job record;
BEGIN
    LOOP
        SELECT o.state, o.last_error INTO job FROM twilio.outbox o WHERE o.call_id = call;
        IF job.state = want_state AND (error_prefix IS NULL OR job.last_error LIKE error_prefix || '%') THEN
            RETURN want_state;
        END IF;
        IF clock_timestamp() > deadline THEN
            RETURN 'still ' || coalesce(job.state, 'missing') || ': ' || coalesce(job.last_error, '');
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;
SELECT pg_temp.wait_for_call_job(:'lost_call', 'ambiguous', 'reconciliation failed: HTTP 503') AS lookup_refused;
\set others `node test/lib/standin_post_sms.js --account ALICE --to +15005550164 --count 60 --calls-from +15005550006`
INSERT INTO twilio.voice_calls (user_id, leg, status, to_number, from_number, lead_phone, account_sid, call_sid)
SELECT '00000000-0000-0000-0000-00000000ee01', 'agent', 'completed', '+15005550164', '+15005550006', '+15005550165',
       :'alice_sid', sid
  FROM unnest(string_to_array(:'others', ' ')) sid;
\! curl -s -o /dev/null -X DELETE "$STANDIN_URL/__faults"
SELECT pg_temp.wait_for_call_job(:'lost_call', 'done', NULL) AS reconciled;
-- The agent's phone rang once for our call (61 creates: ours and the 60 others); the lookup read two pages.
\! node test/lib/standin_requests.js --method POST --path 'Calls.json$' --fields To | sort | uniq -c
\! node test/lib/standin_requests.js --method GET --path 'Calls.json$' --query | sort -u
-- Our call is the oldest of the 61 to that agent.
\set made `curl -s -u "$ALICE_SID:$ALICE_TOKEN" "$STANDIN_URL/2010-04-01/Accounts/$ALICE_SID/Calls.json?To=%2B15005550164&PageSize=1&Page=60" | node -e 'let d = ""; process.stdin.on("data", c => d += c).on("end", () => console.log(JSON.parse(d).calls[0].sid))'`
SELECT v.status, v.call_sid = :'made' AS found_the_call_twilio_made, o.state
  FROM twilio.voice_calls v JOIN twilio.outbox o ON o.user_id = v.user_id AND o.call_id = v.id
 WHERE v.id = :'lost_call';

-- eve's rows go, so that later files see only their own
DELETE FROM twilio.outbox WHERE user_id = '00000000-0000-0000-0000-00000000ee01';
DELETE FROM twilio.voice_calls WHERE user_id = '00000000-0000-0000-0000-00000000ee01';
DELETE FROM twilio.messages WHERE user_id = '00000000-0000-0000-0000-00000000ee01';
