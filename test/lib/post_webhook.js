// Posts one webhook the way Twilio does: form-encoded params, signed with X-Twilio-Signature computed by Twilio's
// own helper library (npm `twilio`). Prints "<status> <body>".
//   node test/lib/post_webhook.js <relay base, e.g. http://127.0.0.1:4031> <public url Twilio called> \
//        <name of the env var holding the auth token> '<params as JSON>'
const path = require('path');
const twilio = require(path.join(__dirname, '..', 'node_modules', 'twilio'));
const http = require('http');
const [relay, publicUrl, tokenVar, paramsJson] = process.argv.slice(2);
const params = JSON.parse(paramsJson);
const token = process.env[tokenVar];
if (!token) { console.error(`environment variable ${tokenVar} is not set`); process.exit(2); }
const signature = twilio.getExpectedTwilioSignature(token, publicUrl, params);
const body = new URLSearchParams(params).toString();
const target = new URL(publicUrl);
const req = http.request(relay + target.pathname + target.search, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': signature,
               'Content-Length': Buffer.byteLength(body) },
}, res => {
    let data = '';
    res.on('data', d => (data += d)).on('end', () => console.log(`${res.statusCode} ${data}`));
});
req.on('error', e => { console.error(`relay unreachable: ${e.message}`); process.exit(1); });
req.end(body);
