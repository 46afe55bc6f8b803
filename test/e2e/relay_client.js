#!/usr/bin/env node
// Client side of test/e2e/relay_test.sh: posts webhooks to byo-twilio-relay the way Twilio does (form body,
// X-Twilio-Signature computed by the official `twilio` helper library, our oracle), and scans the relay's log
// for anything it must never contain. Tokens are only ever read from environment variables named on the
// command line; nothing here prints a token or a signature.
//
//   node relay_client.js post --relay http://127.0.0.1:4031 --base https://relay.example.test \
//        --url https://relay.example.test/twilio/<key>/sms --token-env ALICE_TOKEN \
//        [--method get] [--sign-fragment] [--tamper Name=value] [--no-signature] [--record FILE] Name=value ...
//     Signs the params (in the order given) for --url with the token in $ALICE_TOKEN and posts them to the relay
//     at --url's path (the relay prepends its BYO_TWILIO_PUBLIC_URL, which must equal --base). --tamper changes
//     one param in the body after signing (a replay with changes). --record appends the signature and the Body
//     sent, as one JSON line, for the log scan. Prints one line: status TAB content-type TAB retry-after TAB
//     body (newlines as \n); status 000 if the relay could not be reached. --method get sends the params in the
//     query, signed over that full URL with no params (as Twilio signs a GET). A fragment of --url (connection
//     overrides) is never sent, and signed over only with --sign-fragment.
//
//   node relay_client.js burst --count N --sid-prefix SMx... (other flags and params as post)
//     Posts N copies of the webhook at once, each on its own connection, copy i with MessageSid, SmsSid and
//     SmsMessageSid set to the prefix followed by i (zero-padded to 34 characters). Prints "<status>:<count>" per
//     status seen, sorted, space-separated; a status answered with Retry-After is "<status>+retry".
//     --timeout-ms (post and burst): how long a request may wait for its answer (8000).
//
//   node relay_client.js smuggle --relay http://127.0.0.1:4031 --body-limit BYTES
//     Raw requests on kept-alive connections, each scenario's responses printed as "<name>=<status>,<status>...":
//     two GETs on one connection; a GET whose body is a request; a webhook whose chunked body goes over the
//     limit and is followed by a request. Only the first may see a second 200.
//
//   node relay_client.js edges --relay URL --body-limit BYTES --read-timeout-ms MS
//     HTTP edge cases, each on its own connection, printed as "<name>=<statuses>[,<observation>]": a
//     Content-Length over the limit; GET on a webhook path; an unknown path; two pipelined GETs; HEAD then GET;
//     Expect: 100-continue; a header that stalls past the read timeout (closed then, not before); a GET beside
//     200 idle connections.
//
//   node relay_client.js framing --relay URL
//     Requests whose Transfer-Encoding is not exactly "chunked" (xchunked, identity, gzip, "chunked, identity",
//     "gzip, chunked", two fields, with a Content-Length, in HTTP/1.0), each carrying a GET /metrics as its body,
//     each on its own connection read until the relay closes it (5 s at most). Prints
//     "<name>=<statuses>[,refused][,metrics]" per case: ",refused" if the relay refused the Transfer-Encoding itself,
//     ",metrics" if the smuggled request was answered.
//
//   node relay_client.js flood --relay URL --mb N
//     Two chunked POSTs at once: one whose chunk-size line never ends (a chunk extension), one whose trailer never
//     ends; each sends up to N MiB, stopping early once the relay answers or closes. Prints
//     "extension=<status|none>,<closed|open> trailer=... sent_mib=<total>".
//
//   node relay_client.js pipeline --relay URL --count N
//     N GET /healthz (each padded to about 1 KB) written at once on one connection; reads until the relay closes it
//     (10 s at most). Prints "answers=<200s received>,<ended|reset|open>".
//
//   node relay_client.js idle --relay URL --wait-ms MS
//     One GET /healthz on a kept connection, then nothing: prints "closed_at_ms=N" (Unix time in ms when the relay
//     closed it) or "open" after MS. Writes "idle: answered, now idle" to stderr once answered.
//
//   node relay_client.js scan --log FILE --record FILE --token-env ALICE_TOKEN,BOB_TOKEN \
//        [--secret-env NAME,...] [--fixtures FILE] [--literal VALUE ...]
//     Counts how many of the secrets (tokens from the environment and the fixtures file, the recorded
//     signatures and bodies, values of --secret-env variables, --literal values) appear in the log, in raw or
//     form/URL-encoded form. Prints counts per kind, never the values; exits 1 if anything leaked.
'use strict';
const fs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');
const { getExpectedTwilioSignature } = require('twilio');

function parseArgs(argv) {
    const opts = { params: [], literal: [] };
    const flags = new Set(['--no-signature', '--sign-fragment']);
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a.startsWith('--')) {
            const name = a.slice(2);
            if (flags.has(a)) {
                opts[name] = true;
            } else {
                if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
                if (name === 'literal') opts.literal.push(argv[++i]);
                else opts[name] = argv[++i];
            }
        } else {
            opts.params.push(splitPair(a));
        }
    }
    return opts;
}

function splitPair(s) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new Error(`expected Name=value, got an argument without "="`);
    return [s.slice(0, eq), s.slice(eq + 1)];
}

function tokenFrom(envName) {
    const t = process.env[envName];
    if (!t) throw new Error(`environment variable ${envName} is not set`);
    return t;
}

function post(opts) {
    for (const k of ['relay', 'base', 'url']) if (!opts[k]) throw new Error(`--${k} is required`);
    if (!opts.url.startsWith(opts.base + '/')) throw new Error('--url must start with --base');
    // A fragment (Twilio's connection overrides) is never sent; --sign-fragment signs over the URL with it.
    const hash = opts.url.indexOf('#');
    const bare = hash < 0 ? opts.url : opts.url.slice(0, hash);
    const fragment = hash < 0 ? '' : opts.url.slice(hash);
    const get = (opts.method || 'post').toLowerCase() === 'get';

    // The params Twilio would send: form-encoded, in the body, or for GET in the query (after any query the URL
    // has); --tamper changes one after signing.
    const encode = (pairs) => new URLSearchParams(pairs).toString();
    const signedQuery = get ? (bare.includes('?') ? '&' : '?') + encode(opts.params) : '';
    const sent = opts.params.map(([k, v]) => [k, v]);
    if (opts.tamper) {
        const [tk, tv] = splitPair(opts.tamper);
        const i = sent.findIndex(([k]) => k === tk);
        if (i < 0) sent.push([tk, tv]); else sent[i][1] = tv;
    }
    const sentQuery = get ? (bare.includes('?') ? '&' : '?') + encode(sent) : '';
    const target = bare.slice(opts.base.length) + sentQuery;

    // GET: signed over the full URL with its query and no params (validateRequest with empty params).
    const signed = {};
    if (!get) for (const [k, v] of opts.params) signed[k] = v;
    let signature = null;
    if (!opts['no-signature']) {
        if (!opts['token-env']) throw new Error('--token-env is required unless --no-signature');
        const signUrl = bare + signedQuery + (opts['sign-fragment'] ? fragment : '');
        signature = getExpectedTwilioSignature(tokenFrom(opts['token-env']), signUrl, signed);
    }
    const body = get ? '' : encode(sent);

    if (opts.record) {
        const bodyParam = sent.find(([k]) => k === 'Body');
        fs.appendFileSync(opts.record, JSON.stringify({ signature, body: bodyParam ? bodyParam[1] : null }) + '\n',
                          { mode: 0o600 });
    }

    const relay = new URL(opts.relay);
    const headers = get ? { 'User-Agent': 'TwilioProxy/1.1', 'Connection': 'close' } : {
        'Content-Type': 'application/x-www-form-urlencoded',
        'Content-Length': Buffer.byteLength(body),
        'User-Agent': 'TwilioProxy/1.1',
        'Connection': 'close',
    };
    if (signature !== null) headers['X-Twilio-Signature'] = signature;

    return new Promise((resolve) => {
        const req = http.request({
            host: relay.hostname, port: relay.port, method: get ? 'GET' : 'POST', path: target, headers, agent: false,
            timeout: Number(opts['timeout-ms'] || 8000),
        }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                const text = Buffer.concat(chunks).toString('utf8').replace(/\r/g, '').replace(/\n/g, '\\n');
                resolve([String(res.statusCode), res.headers['content-type'] || '-',
                         res.headers['retry-after'] || '-', text].join('\t'));
            });
            res.on('error', () => resolve('000\t-\t-\tresponse error'));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', (e) => resolve(`000\t-\t-\t${e.code || e.message}`));
        req.end(body);
    });
}

async function burst(opts) {
    const count = Number(opts.count);
    const prefix = opts['sid-prefix'] || '';
    if (!(count > 0) || !/^SM[0-9a-f]*$/.test(prefix) || prefix.length > 30) throw new Error('--count and --sid-prefix SM<hex>');
    const sidParams = new Set(['MessageSid', 'SmsSid', 'SmsMessageSid']);
    const posts = [];
    for (let i = 0; i < count; i++) {
        const sid = prefix + String(i).padStart(34 - prefix.length, '0');
        const params = opts.params.map(([k, v]) => [k, sidParams.has(k) ? sid : v]);
        posts.push(post({ ...opts, params }));
    }
    const seen = {};
    for (const line of await Promise.all(posts)) {
        const [code, , retryAfter] = line.split('\t');
        const status = retryAfter !== '-' ? `${code}+retry` : code;
        seen[status] = (seen[status] || 0) + 1;
    }
    return Object.keys(seen).sort().map((s) => `${s}:${seen[s]}`).join(' ');
}

async function smuggle(opts) {
    const relay = new URL(opts.relay);
    const limit = Number(opts['body-limit']);
    const inner = 'GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n';
    const results = [];
    results.push(`keepalive=${(await exchange(relay, [inner, inner])).statuses}`);
    results.push(`get_body=${(await exchange(relay, [
        `GET /healthz HTTP/1.1\r\nHost: relay\r\nContent-Length: ${inner.length}\r\n\r\n`, inner])).statuses}`);
    const size = limit + 500;
    results.push(`chunked=${(await exchange(relay, [
        `POST /twilio/0123456789abcdef0123456789abcdef/sms HTTP/1.1\r\nHost: relay\r\n` +
        `Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `${size.toString(16)}\r\n${'y'.repeat(limit + 100)}`,
        `${'y'.repeat(400)}\r\n0\r\n\r\n`, inner])).statuses}`);
    return results.join(' ');
}

// Sends `parts` on one connection, `pause` ms apart, reads for `settle` ms after the last; resolves the raw text
// received, the statuses in it, and whether the relay closed the connection.
function exchange(relay, parts, { pause = 300, settle = 300 } = {}) {
    return new Promise((resolve) => {
        const socket = net.connect({ host: relay.hostname, port: Number(relay.port) });
        let raw = '';
        let closed = false;
        let closedAfter = null;  // ms from connecting to the relay's close
        let t0 = Date.now();
        const onClose = () => {
            if (!closed) closedAfter = Date.now() - t0;
            closed = true;
        };
        socket.on('data', (d) => { raw += d.toString('latin1'); });
        socket.on('error', () => {});
        socket.on('end', onClose);
        socket.on('close', onClose);
        socket.on('connect', async () => {
            t0 = Date.now();
            for (const [i, p] of parts.entries()) {
                if (i > 0) await new Promise((r) => setTimeout(r, pause));
                if (!socket.destroyed) socket.write(p);
            }
            setTimeout(() => {
                // Read before destroying the socket, whose own 'close' must not count as the relay's.
                const statuses = (raw.match(/HTTP\/1\.1 (\d{3})/g) || []).map((s) => s.slice(9)).join(',') || 'none';
                const result = { raw, statuses, closed, closedAfter };
                socket.destroy();
                resolve(result);
            }, settle);
        });
    });
}

async function edges(opts) {
    const relay = new URL(opts.relay);
    const limit = Number(opts['body-limit']);
    const readTimeout = Number(opts['read-timeout-ms']);
    const hook = '/twilio/0123456789abcdef0123456789abcdef/sms';
    const get = (path) => `GET ${path} HTTP/1.1\r\nHost: relay\r\n\r\n`;
    const out = [];
    let r = await exchange(relay, [`POST ${hook} HTTP/1.1\r\nHost: relay\r\nContent-Length: ${limit + 1}\r\n\r\n`]);
    out.push(`content_length_over=${r.statuses}${r.closed ? ',closed' : ''}`);
    r = await exchange(relay, [`PUT ${hook} HTTP/1.1\r\nHost: relay\r\nContent-Length: 0\r\n\r\n`]);
    out.push(`put_webhook=${r.statuses}${/\r\nAllow: GET, POST\r\n/i.test(r.raw) ? ',allow_get_post' : ''}`);
    r = await exchange(relay, [get('/nowhere')]);
    out.push(`unknown_path=${r.statuses}`);
    r = await exchange(relay, [get('/healthz') + get('/healthz')]);
    out.push(`pipelined=${r.statuses}`);
    r = await exchange(relay, [`HEAD /healthz HTTP/1.1\r\nHost: relay\r\n\r\n` + get('/healthz')]);
    out.push(`head_then_get=${r.statuses},bodies:${(r.raw.match(/\r\n\r\nok/g) || []).length}`);
    const body = 'Body=hi';
    r = await exchange(relay, [`POST ${hook} HTTP/1.1\r\nHost: relay\r\nExpect: 100-continue\r\n` +
        `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n`, body]);
    out.push(`expect_continue=${r.statuses}`);
    r = await exchange(relay, ['GET /healthz HTTP/1.1\r\nHost: re'], { settle: readTimeout + 1000 });
    const early = r.closedAfter !== null && r.closedAfter < readTimeout - 200;
    out.push(`stalled_header=${r.statuses}${r.closed ? (early ? ',closed_early' : ',closed_at_timeout') : ',open'}`);
    // Connections that hold nothing in flight must not keep anyone else waiting.
    const idle = [];
    for (let i = 0; i < 200; i++) idle.push(net.connect({ host: relay.hostname, port: Number(relay.port) }));
    await Promise.all(idle.map((s) => new Promise((res) => { s.on('connect', res); s.on('error', res); })));
    const t0 = Date.now();
    r = await exchange(relay, [get('/healthz')], { settle: 1000 });
    out.push(`beside_200_idle=${r.statuses},${Date.now() - t0 - 1000 < 500 ? 'prompt' : 'slow'}`);
    idle.forEach((s) => s.destroy());
    return out.join(' ');
}

// Writes `data` on one connection and reads until the relay closes it, or `maxMs` passed: resolves the raw text
// received, the statuses in it, and how it ended ("ended": the relay's FIN; "reset"; "open": still open at maxMs).
function untilClosed(relay, data, maxMs) {
    return new Promise((resolve) => {
        const socket = net.connect({ host: relay.hostname, port: Number(relay.port) });
        let raw = '';
        let how = null;
        const done = (h) => {
            if (how !== null) return;
            how = h;
            clearTimeout(timer);
            socket.destroy();
            const statuses = (raw.match(/HTTP\/1\.[01] (\d{3})/g) || []).map((x) => x.slice(9));
            resolve({ raw, statuses, how });
        };
        const timer = setTimeout(() => done('open'), maxMs);
        socket.on('data', (d) => { raw += d.toString('latin1'); });
        socket.on('end', () => done('ended'));
        socket.on('error', (e) => done(e.code === 'ECONNRESET' ? 'reset' : `error:${e.code}`));
        socket.on('close', () => done('ended'));
        socket.on('connect', () => socket.write(data));
    });
}

async function framing(opts) {
    const relay = new URL(opts.relay);
    const hook = 'POST /twilio/0123456789abcdef0123456789abcdef/sms';
    const smuggled = 'GET /metrics HTTP/1.1\r\nHost: relay\r\n\r\n';
    // The smuggled request as a chunked body, for the codings that end in chunked.
    const asChunk = `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`;
    const cases = {
        xchunked: [`${hook} HTTP/1.1`, 'Transfer-Encoding: xchunked'],
        identity: [`${hook} HTTP/1.1`, 'Transfer-Encoding: identity'],
        gzip: [`${hook} HTTP/1.1`, 'Transfer-Encoding: gzip'],
        chunked_identity: [`${hook} HTTP/1.1`, 'Transfer-Encoding: chunked, identity'],
        gzip_chunked: [`${hook} HTTP/1.1`, 'Transfer-Encoding: gzip, chunked'],
        two_fields: [`${hook} HTTP/1.1`, 'Transfer-Encoding: gzip', 'Transfer-Encoding: chunked'],
        with_length: [`${hook} HTTP/1.1`, 'Transfer-Encoding: gzip', 'Content-Length: 0'],
        http10: [`${hook} HTTP/1.0`, 'Transfer-Encoding: chunked'],
    };
    const out = [];
    for (const [name, lines] of Object.entries(cases)) {
        const endsChunked = /chunked$/.test(lines[lines.length - 1]);
        const head = [...lines, 'Host: relay', 'Content-Type: application/x-www-form-urlencoded',
                      'X-Twilio-Signature: x'].join('\r\n');
        const r = await untilClosed(relay, `${head}\r\n\r\n${endsChunked ? asChunk : smuggled}`, 5000);
        const answered = /byo_twilio_relay_/.test(r.raw);
        // The relay's own refusal, not a 400 from the database for a webhook it let through.
        const refused = /\r\n\r\nbad request: [^\n]*Transfer-Encoding/.test(r.raw);
        out.push(`${name}=${r.statuses.join(',') || 'none'}${refused ? ',refused' : ''}${answered ? ',metrics' : ''}`);
    }
    return out.join(' ');
}

// One chunked POST whose framing never ends: writes 64 KiB pieces of `filler` after `head` until `mib` MiB went
// out, the relay answered, or it closed. Resolves the status seen, how it ended and the bytes written.
function floodOne(relay, head, filler, mib) {
    return new Promise((resolve) => {
        const socket = net.connect({ host: relay.hostname, port: Number(relay.port) });
        const piece = Buffer.alloc(64 * 1024, filler);
        let raw = '', sent = 0, ended = false, finished = false;
        const finish = () => {
            if (finished) return;
            finished = true;
            const m = raw.match(/^HTTP\/1\.1 (\d{3})/);
            socket.destroy();
            resolve({ status: m ? m[1] : 'none', closed: ended, sent });
        };
        socket.on('data', (d) => { raw += d.toString('latin1'); });
        socket.on('end', () => { ended = true; });
        socket.on('error', () => { ended = true; finish(); });
        socket.on('close', () => { ended = true; finish(); });
        const pump = () => {
            // Stop at the budget, or once the relay has answered or closed: a client would.
            while (sent < mib * 1024 * 1024 && raw === '' && !ended) {
                sent += piece.length;
                if (!socket.write(piece)) return socket.once('drain', pump);
            }
            // Give the relay the last write's answer, if any: it comes at once or not at all, as it closes or not.
            socket.end();
            setTimeout(finish, 2000);
        };
        socket.on('connect', () => { socket.write(head); pump(); });
    });
}

async function flood(opts) {
    const relay = new URL(opts.relay);
    const mib = Number(opts.mb);
    const post = 'POST /twilio/0123456789abcdef0123456789abcdef/sms HTTP/1.1\r\nHost: relay\r\n' +
        'Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n';
    const [ext, trailer] = await Promise.all([
        floodOne(relay, `${post}5;ext=`, 'e', mib),                  // 5;ext=eeee... never reaches its CRLF
        floodOne(relay, `${post}5\r\nhello\r\n0\r\nX-Trailer: `, 't', mib),  // a trailer field that never ends
    ]);
    const show = (r) => `${r.status},${r.closed ? 'closed' : 'open'}`;
    return `extension=${show(ext)} trailer=${show(trailer)} sent_mib=${Math.round((ext.sent + trailer.sent) / 1048576)}`;
}

async function pipeline(opts) {
    const relay = new URL(opts.relay);
    const count = Number(opts.count);
    // Padded so that what is left unread at the limit is more than the relay's read buffer holds.
    const one = `GET /healthz HTTP/1.1\r\nHost: relay\r\nX-Pad: ${'p'.repeat(1000)}\r\n\r\n`;
    const r = await untilClosed(relay, one.repeat(count), 10000);
    return `answers=${r.statuses.filter((x) => x === '200').length},${r.how}`;
}

// Opens a connection, sends one GET /healthz on it and keeps it open without a further request; prints when the
// relay closed it ("closed_at_ms=N", Unix time in ms) or "open" after --wait-ms.
async function idle(opts) {
    const relay = new URL(opts.relay);
    const wait = Number(opts['wait-ms']);
    return new Promise((resolve) => {
        const socket = net.connect({ host: relay.hostname, port: Number(relay.port) });
        let answered = null;
        let result = null;
        const done = (r) => { if (result === null) { result = r; socket.destroy(); resolve(r); } };
        socket.on('data', (d) => {
            if (answered === null && /^HTTP\/1\.1 200/.test(d.toString('latin1'))) {
                answered = Date.now();
                console.error('idle: answered, now idle');  // the caller waits for this line before SIGTERM
            }
        });
        socket.on('error', () => {});
        socket.on('close', () => done(answered === null ? 'no_answer' : `closed_at_ms=${Date.now()}`));
        socket.on('connect', () => socket.write('GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n'));
        setTimeout(() => done('open'), wait);
    });
}

// The forms a value could take in a log line: raw, form-encoded, URL-encoded, JSON-escaped.
function variants(v) {
    const out = new Set([v, new URLSearchParams([['x', v]]).toString().slice(2), encodeURIComponent(v),
                         JSON.stringify(v).slice(1, -1)]);
    return [...out];
}

function scan(opts) {
    if (!opts.log) throw new Error('--log is required');
    const log = fs.readFileSync(opts.log, 'utf8');
    const kinds = { tokens: new Set(), signatures: new Set(), bodies: new Set(), secrets: new Set() };
    for (const name of (opts['token-env'] || '').split(',').filter(Boolean)) kinds.tokens.add(tokenFrom(name));
    if (opts.fixtures) {
        const f = JSON.parse(fs.readFileSync(path.resolve(opts.fixtures), 'utf8'));
        for (const a of Object.values(f.accounts || {})) if (a.token) kinds.tokens.add(a.token);
    }
    for (const name of (opts['secret-env'] || '').split(',').filter(Boolean)) kinds.secrets.add(tokenFrom(name));
    for (const v of opts.literal) kinds.secrets.add(v);
    if (opts.record && fs.existsSync(opts.record)) {
        for (const line of fs.readFileSync(opts.record, 'utf8').split('\n').filter(Boolean)) {
            const r = JSON.parse(line);
            if (r.signature) kinds.signatures.add(r.signature);
            // Very short bodies ("STOP") could match log vocabulary by chance; every other body is unique.
            if (r.body && r.body.length >= 8) kinds.bodies.add(r.body);
        }
    }
    let leaked = 0;
    const report = [];
    for (const [kind, values] of Object.entries(kinds)) {
        let hits = 0;
        for (const v of values) if (v && variants(v).some((form) => log.includes(form))) hits++;
        leaked += hits;
        report.push(`${kind}=${values.size} leaked_${kind}=${hits}`);
    }
    console.log(report.join(' '));
    return leaked === 0 ? 0 : 1;
}

async function main() {
    const [cmd, ...rest] = process.argv.slice(2);
    const opts = parseArgs(rest);
    const printed = { post, burst, idle, edges, smuggle, framing, flood, pipeline };  // commands that print one result line
    if (printed[cmd]) {
        console.log(await printed[cmd](opts));
        return 0;
    }
    if (cmd === 'scan') return scan(opts);
    throw new Error('usage: relay_client.js post|burst|smuggle|edges|framing|flood|pipeline|idle|scan ... (see the header of this file)');
}

main().then((code) => process.exit(code), (e) => {
    console.error(`relay_client: ${e.message}`);
    process.exit(2);
});
