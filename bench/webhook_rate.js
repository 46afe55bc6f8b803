// Fixed-rate (open-loop) client for the webhook benchmark (bench/webhook_run.sh): sends the pre-signed requests of
// a bench/webhook_sign.js file at --rate requests per second for --seconds, each on a new connection (the relay
// serves one request per connection unless told otherwise), or with --keep-alive N over at most N reused
// connections, as a proxy with upstream keep-alive does (a request finding them all busy waits for one, and that
// wait counts in its latency); prints latency percentiles as one JSON line.
//
// Request i is due at start + i/rate whatever happened to the earlier ones, so a slow answer does not delay the
// next request (no coordinated omission). Two latencies per request:
//   - from_due: from the moment it was due to the last byte of the answer; includes any lag of this client's own
//     timer (about 1 ms granularity) and is the one to judge against a target;
//   - from_send: from http.request() (connect included) to the last byte of the answer.
//
// A request not answered within --timeout-ms (default 5000) is an error, and counts as an infinitely slow answer
// in the from_due percentiles (printed as ">TIMEOUT"), so timeouts cannot make a percentile look better. When the
// machine is too busy for this client to keep the schedule, requests still unsent half a second after the window
// closed are not sent at all and count the same way ("unsent"), so an overloaded run ends on time.
//
// Usage: node bench/webhook_rate.js --file FILE --rate R --seconds S [--host 127.0.0.1] [--port 4051]
//            [--offset K] [--warmup-seconds W] [--timeout-ms MS] [--keep-alive N]
// --offset skips the first K lines of FILE (so phases sharing a file never send the same MessageSid);
// requests in the first W seconds are sent but not counted.
'use strict';
const fs = require('fs');
const http = require('http');

function parseArgs(argv) {
    const out = {};
    for (let i = 0; i < argv.length; i += 2) {
        if (!argv[i].startsWith('--') || argv[i + 1] === undefined) throw new Error(`bad argument ${argv[i]}`);
        out[argv[i].slice(2)] = argv[i + 1];
    }
    return out;
}

const a = parseArgs(process.argv.slice(2));
const rate = Number(a.rate);
const seconds = Number(a.seconds);
const warmup = Number(a['warmup-seconds'] || 0);
const offset = Number(a.offset || 0);
const host = a.host || '127.0.0.1';
const port = Number(a.port || 4051);
const timeoutMs = Number(a['timeout-ms'] || 5000);
if (!(rate > 0) || !(seconds > 0) || !a.file) throw new Error('--file, --rate and --seconds are required');
const keepAlive = Number(a['keep-alive'] || 0);
const agent = keepAlive > 0 ? new http.Agent({ keepAlive: true, maxSockets: keepAlive }) : false;

const lines = fs.readFileSync(a.file, 'utf8').split('\n').filter(Boolean).slice(offset);
const total = Math.round(rate * (seconds + warmup));
if (lines.length < total) throw new Error(`need ${total} requests in ${a.file} after offset ${offset}, have ${lines.length}`);
const reqs = lines.slice(0, total).map((l) => {
    const [p, signature, body] = l.split('\t');
    return { path: p, signature, body: Buffer.from(body) };
});

const fromDue = [];
const fromSend = [];
const statuses = {};
let errors = 0;
let done = 0;
let maxInFlight = 0;
let inFlight = 0;
const intervalNs = 1e9 / rate;
const warmupCount = Math.round(rate * warmup);
let start;
let sendDeadline;
let next = 0;
let unsent = 0;

function fire(i) {
    const due = start + BigInt(Math.round(i * intervalNs));
    const sent = process.hrtime.bigint();
    const r = reqs[i];
    inFlight++;
    if (inFlight > maxInFlight) maxInFlight = inFlight;
    const req = http.request({
        host, port, method: 'POST', path: r.path, agent, timeout: timeoutMs,
        headers: {
            'Content-Type': 'application/x-www-form-urlencoded',
            'Content-Length': r.body.length,
            'X-Twilio-Signature': r.signature,
            'User-Agent': 'TwilioProxy/1.1',
            ...(agent ? {} : { Connection: 'close' }),
        },
    });
    req.setNoDelay(true);
    let finished = false;
    const finish = (status) => {
        if (finished) return;
        finished = true;
        inFlight--;
        done++;
        if (i >= warmupCount) {
            const end = process.hrtime.bigint();
            if (status === null) {
                errors++;
                fromDue.push(Infinity);
            } else {
                statuses[status] = (statuses[status] || 0) + 1;
                fromDue.push(Number(end - due) / 1e6);
                fromSend.push(Number(end - sent) / 1e6);
            }
        }
        if (done === total) report();
    };
    req.on('response', (res) => {
        res.resume();
        res.on('end', () => finish(res.statusCode));
        res.on('error', () => finish(null));
        res.on('aborted', () => finish(null));
    });
    // The socket timeout is an idle timeout; the overall deadline is this timer.
    const timer = setTimeout(() => req.destroy(new Error('timeout')), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => finish(null));
    req.end(r.body);
}

function tick() {
    const now = process.hrtime.bigint();
    if (now > sendDeadline && next < total) {
        for (let k = next; k < total; k++) {
            if (k >= warmupCount) {
                errors++;
                unsent++;
                fromDue.push(Infinity);
            }
        }
        done += total - next;
        next = total;
        if (done === total) report();
        return;
    }
    while (next < total && start + BigInt(Math.round(next * intervalNs)) <= now) fire(next++);
    if (next < total) {
        const waitMs = Number(start + BigInt(Math.round(next * intervalNs)) - process.hrtime.bigint()) / 1e6;
        setTimeout(tick, Math.max(0, Math.floor(waitMs)));
    }
}

function pct(sorted, p) {
    if (!sorted.length) return null;
    const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return Number.isFinite(sorted[idx]) ? Math.round(sorted[idx] * 100) / 100 : `>${timeoutMs}`;
}

function report() {
    // Anything still unanswered by the safety deadline (should not happen: every request has its own timer) is
    // an error too.
    const missing = total - done;
    for (let k = 0; k < missing; k++) {
        errors++;
        fromDue.push(Infinity);
    }
    const d = fromDue.sort((x, y) => x - y);
    const s = fromSend.sort((x, y) => x - y);
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    console.log(JSON.stringify({
        rate, seconds, timeout_ms: timeoutMs, due: total - warmupCount, unsent, counted: d.length, errors, statuses, max_in_flight: maxInFlight,
        achieved_rps: Math.round((total / elapsed) * 10) / 10,
        from_due_ms: { p50: pct(d, 50), p90: pct(d, 90), p99: pct(d, 99), max: pct(d, 100) },
        from_send_ms: { p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), max: pct(s, 100) },
    }));
    process.exit(0);
}

start = process.hrtime.bigint() + 50000000n;  // 50 ms from now
sendDeadline = start + BigInt(Math.round((seconds + warmup) * 1e9)) + 500000000n;
setTimeout(tick, 50);
setTimeout(report, (seconds + warmup) * 1000 + timeoutMs + 5000).unref();
