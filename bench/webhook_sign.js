// Pre-signs N distinct inbound-SMS webhooks for the webhook benchmark (bench/webhook_run.sh), the way Twilio would
// send them: a form-encoded body and X-Twilio-Signature computed by the official `twilio` npm library
// (getExpectedTwilioSignature over the public URL and the form parameters). Every request has its own MessageSid,
// so each one the relay forwards is a new event and a new message row, not a deduplicated retry.
//
// Writes one request per line, tab-separated: request path, signature, body (the body is form-encoded, so it holds
// no tab or newline). The auth token is read from the environment variable named by --token-env and never printed.
//
// Usage: node bench/webhook_sign.js --out FILE --n N --phase 0..255 --key WEBHOOK_KEY --public-url URL
//            --token-env ALICE_TOKEN --account-sid AC... --messaging-service-sid MG... --to +1...
//            [--kind sms|status]   (status: "delivered" callbacks for messages sent from --to)
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const twilio = require(path.join(__dirname, '..', 'test', 'node_modules', 'twilio'));

function parseArgs(argv) {
    const out = {};
    for (let i = 0; i < argv.length; i += 2) {
        if (!argv[i].startsWith('--') || argv[i + 1] === undefined) throw new Error(`bad argument ${argv[i]}`);
        out[argv[i].slice(2)] = argv[i + 1];
    }
    return out;
}

const a = parseArgs(process.argv.slice(2));
for (const k of ['out', 'n', 'phase', 'key', 'public-url', 'token-env', 'account-sid', 'messaging-service-sid', 'to']) {
    if (a[k] === undefined) throw new Error(`--${k} is required`);
}
const token = process.env[a['token-env']];
if (!token) throw new Error(`environment variable ${a['token-env']} is empty`);
const n = Number(a.n);
const phase = Number(a.phase);
if (!Number.isInteger(n) || n < 1 || !Number.isInteger(phase) || phase < 0 || phase > 255) {
    throw new Error('--n must be a positive integer and --phase 0..255');
}
const kind = a.kind || 'sms';
if (kind !== 'sms' && kind !== 'status') throw new Error('--kind must be sms or status');
const requestPath = `/twilio/${a.key}/${kind}`;
const signedUrl = a['public-url'].replace(/\/$/, '') + requestPath;

const bodies = [
    'Hi, is the 2 bed on Elm St still available?',
    'Can we move the viewing to Thursday at 5:30pm?',
    'Yes please send me the brochure + floor plan',
    'What is the monthly HOA fee (approx.)?',
    'Thanks! See you tomorrow',
];

const fd = fs.openSync(a.out, 'w');
let chunk = [];
for (let i = 0; i < n; i++) {
    // SM + 32 hex digits that look random, as Twilio's do (a hash of phase and sequence number: distinct, and
    // repeatable). Sequential SIDs would send every insert to the same leaf page of the unique indexes.
    const sid = 'SM' + crypto.createHash('md5').update(`${phase}:${i}`).digest('hex');
    const from = '+1415555' + String(i % 10000).padStart(4, '0');
    // The parameters Twilio posts for a delivery status callback, or for an inbound SMS (Messaging webhook), in
    // its usual order.
    const params = kind === 'status' ? {
        SmsSid: sid, SmsStatus: 'delivered', MessageStatus: 'delivered', To: from, MessagingServiceSid:
        a['messaging-service-sid'], MessageSid: sid, AccountSid: a['account-sid'], From: a.to, ApiVersion: '2010-04-01',
    } : {
        ToCountry: 'US', ToState: 'CA', SmsMessageSid: sid, NumMedia: '0', ToCity: '', FromZip: '', SmsSid: sid,
        FromState: 'CA', SmsStatus: 'received', FromCity: 'SAN FRANCISCO', Body: `${bodies[i % bodies.length]} #${i}`,
        FromCountry: 'US', To: a.to, MessagingServiceSid: a['messaging-service-sid'], ToZip: '', NumSegments: '1',
        ReferralNumMedia: '0', MessageSid: sid, AccountSid: a['account-sid'], From: from, ApiVersion: '2010-04-01',
    };
    const body = new URLSearchParams(params).toString();  // spaces as '+', '+' as %2B, like Twilio
    const signature = twilio.getExpectedTwilioSignature(token, signedUrl, params);
    chunk.push(`${requestPath}\t${signature}\t${body}\n`);
    if (chunk.length === 5000) {
        fs.writeSync(fd, chunk.join(''));
        chunk = [];
    }
}
if (chunk.length) fs.writeSync(fd, chunk.join(''));
fs.closeSync(fd);
