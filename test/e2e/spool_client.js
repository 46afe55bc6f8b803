#!/usr/bin/env node
// Client side of test/e2e/spool_test.sh: a steady stream of inbound-SMS webhooks into byo-twilio-relay, each
// signed by the official `twilio` helper library (the oracle) and retried the way Twilio retries a URL carrying
// the connection overrides get_settings() hands out (#rc=5&rp=ct,rt,5xx&tt=15000): on a connection failure or a
// 5xx, up to 5 more times. Tokens come only from environment variables named on the command line; nothing here
// prints a token or a signature.
//
//   node spool_client.js stream --relay URL --base URL --url URL --token-env ALICE_TOKEN --sid-prefix SMxxxx \
//        --rate N --stop-file FILE [--retry-ms 1000] Name=value ...
//     Sends webhook 0, 1, 2, ... at N per second until FILE exists, then lets the retries finish. Webhook i has
//     MessageSid, SmsSid and SmsMessageSid set to the prefix followed by i (zero-padded to 34 characters) and its
//     Body suffixed with " #i". Prints one JSON line: {"sent":n,"ok":n,"first_answers":{"200":n,"503":n,...},
//     "lost":[i...],"retried":n}: "ok" counts webhooks finally answered 2xx, "lost" those never answered 2xx.
//
//   node spool_client.js one --relay URL --base URL --url URL --token-env NAME --sid SM... Name=value ...
//     One webhook, no retry; prints "<status> <retry-after or ->".
'use strict';
const fs = require('fs');
const http = require('http');
const { getExpectedTwilioSignature } = require('twilio');

function parseArgs(argv) {
    const opts = { params: [] };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a.startsWith('--')) {
            if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
            opts[a.slice(2)] = argv[++i];
        } else {
            const eq = a.indexOf('=');
            if (eq <= 0) throw new Error('expected Name=value');
            opts.params.push([a.slice(0, eq), a.slice(eq + 1)]);
        }
    }
    for (const k of ['relay', 'base', 'url', 'token-env'])
        if (!opts[k]) throw new Error(`--${k} is required`);
    if (!process.env[opts['token-env']]) throw new Error(`environment variable ${opts['token-env']} is not set`);
    return opts;
}

// One POST, as Twilio sends it: the form body signed over the URL without its fragment (never sent).
function send(opts, params) {
    const url = opts.url.split('#')[0];
    const target = url.slice(opts.base.length);
    const signed = {};
    for (const [k, v] of params) signed[k] = v;
    const signature = getExpectedTwilioSignature(process.env[opts['token-env']], url, signed);
    const body = new URLSearchParams(params).toString();
    const relay = new URL(opts.relay);
    return new Promise((resolve) => {
        const req = http.request({
            host: relay.hostname, port: relay.port, method: 'POST', path: target, agent: false, timeout: 15000,
            headers: {
                'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body),
                'X-Twilio-Signature': signature, 'User-Agent': 'TwilioProxy/1.1', 'Connection': 'close',
            },
        }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode, retryAfter: res.headers['retry-after'] || '-' }));
            res.on('error', () => resolve({ status: 0, retryAfter: '-' }));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', () => resolve({ status: 0, retryAfter: '-' }));
        req.end(body);
    });
}

function withSid(opts, sid, suffix) {
    const sidParams = new Set(['MessageSid', 'SmsSid', 'SmsMessageSid']);
    return opts.params.map(([k, v]) => [k, sidParams.has(k) ? sid : k === 'Body' ? v + suffix : v]);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function stream(opts) {
    const prefix = opts['sid-prefix'] || '';
    const rate = Number(opts.rate);
    if (!/^SM[0-9a-f]*$/.test(prefix) || prefix.length > 26 || !(rate > 0) || !opts['stop-file'])
        throw new Error('--sid-prefix SM<hex>, --rate N and --stop-file are required');
    const retryMs = Number(opts['retry-ms'] || 1000);
    const result = { sent: 0, ok: 0, first_answers: {}, lost: [], retried: 0 };
    const deliveries = [];
    const deliver = async (i) => {
        const sid = prefix + String(i).padStart(34 - prefix.length, '0');
        const params = withSid(opts, sid, ` #${i}`);
        for (let attempt = 0; attempt <= 5; attempt++) {  // rc=5: the first try and five more
            const { status } = await send(opts, params);
            if (attempt === 0) result.first_answers[status] = (result.first_answers[status] || 0) + 1;
            else result.retried++;
            if (status >= 200 && status < 300) { result.ok++; return; }
            if (status !== 0 && status < 500) break;  // Twilio does not retry a 4xx (rp=ct,rt,5xx)
            await sleep(retryMs);
        }
        result.lost.push(i);
    };
    const start = Date.now();
    for (let i = 0; !fs.existsSync(opts['stop-file']); i++) {
        deliveries.push(deliver(i));
        result.sent++;
        const due = start + ((i + 1) * 1000) / rate;
        await sleep(Math.max(0, due - Date.now()));
    }
    await Promise.all(deliveries);
    result.lost.sort((a, b) => a - b);
    return JSON.stringify(result);
}

async function one(opts) {
    if (!opts.sid) throw new Error('--sid is required');
    const { status, retryAfter } = await send(opts, withSid(opts, opts.sid, ''));
    return `${status} ${retryAfter}`;
}

(async () => {
    const [cmd, ...rest] = process.argv.slice(2);
    const opts = parseArgs(rest);
    if (cmd === 'stream') console.log(await stream(opts));
    else if (cmd === 'one') console.log(await one(opts));
    else throw new Error('usage: spool_client.js stream|one ...');
})().catch((e) => {
    console.error(`spool_client: ${e.message}`);
    process.exit(2);
});
