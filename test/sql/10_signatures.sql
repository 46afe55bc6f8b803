-- Signatures: Twilio's published vectors, form and JSON bodies, port variants, bad input.
\set url 'https://mycompany.com/myapp.php?foo=1&bar=2'
\set params '{"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234", "From": "+14158675309", "To": "+18005551212"}'
\set body 'CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212'
SELECT twilio.compute_signature('12345', :'url', :'params');
SELECT twilio.compute_signature('12345', 'https://mycompany.com:443/myapp.php?foo=1&bar=2', :'params');
SELECT twilio.compute_signature('12345', 'http://mycompany.com:1234/myapp.php?foo=1&bar=2', :'params');
SELECT twilio.compute_signature('12345', :'url',
       '{"Sid": "CA123", "SidAccount": "AC123", "Digits": ["5678", "1234", "1234"]}');
-- form bodies: as sent, with a port added or removed, tampered, wrong token
SELECT twilio.validate_signature('12345', 'RSOYDt4T1cUTdK1PDd93/VVr8B8=', :'url', :'body') AS as_sent,
       twilio.validate_signature('12345', 'RSOYDt4T1cUTdK1PDd93/VVr8B8=',
                                 'https://mycompany.com:443/myapp.php?foo=1&bar=2', :'body') AS port_added,
       twilio.validate_signature('12345', 'kvajT1Ptam85bY51eRf/AJRuM3w=', :'url', :'body') AS port_removed,
       twilio.validate_signature('12345', 'RSOYDt4T1cUTdK1PDd93/VVr8B8=', :'url', :'body' || '&Digits=9') AS tampered,
       twilio.validate_signature('54321', 'RSOYDt4T1cUTdK1PDd93/VVr8B8=', :'url', :'body') AS wrong_token,
       twilio.validate_signature('12345', '', :'url', :'body') AS empty_signature;
-- repeated keys and '+' as space
SELECT twilio.validate_signature('12345', twilio.compute_signature('12345', 'https://h.example/x',
                                 '{"Body": "hello world", "MediaUrl": ["b", "a"]}'),
                                 'https://h.example/x', 'MediaUrl=a&Body=hello+world&MediaUrl=b') AS repeated_keys;
-- JSON bodies are signed through bodySHA256
SELECT twilio.validate_signature('12345', 'a9nBmqA0ju/hNViExpshrM61xv4=',
       'https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620',
       '{"property": "value", "boolean": true}', 'application/json') AS json_ok,
       twilio.validate_signature('12345', 'a9nBmqA0ju/hNViExpshrM61xv4=',
       'https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620',
       '{"property": "value", "boolean": false}', 'application/json') AS json_body_changed;
-- errors
SELECT twilio.compute_signature('12345', :'url', '{"Digits": 1234}');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.compute_signature('12345', :'url', '["x"]');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SELECT twilio.validate_signature('12345', 'x', :'url', :'body', 'text/plain');
\echo sqlstate=:LAST_ERROR_SQLSTATE
-- STRICT: NULL in, NULL out
SELECT twilio.validate_signature(NULL, 'x', :'url', :'body') IS NULL AS null_in_null_out;
