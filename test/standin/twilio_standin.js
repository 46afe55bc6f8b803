#!/usr/bin/env node
// Controllable stand-in for the parts of Twilio's REST API that byo_twilio calls.
// Loopback only, built-in modules only. One process serves the api, conversations
// and messaging hosts: the tests point all three base URLs here, and the routes
// do not overlap (2010-04-01/... vs v1/Services/IS... vs v1/Services/MG...). The outbound
// routes (conversations, messages) live in outbound_routes.js, the Calls routes in
// call_routes.js; /__requests, /__faults and /__state are the tests' unauthenticated
// control routes.
'use strict';
const http = require('http');
const https = require('https');
const fs = require('fs');
const crypto = require('crypto');
const makeOutbound = require('./outbound_routes');
const makeCalls = require('./call_routes');
const makeMedia = require('./media_routes');

// ---- command line ----------------------------------------------------------
function usage() {
  console.error('usage: twilio_standin.js --port N --fixtures FILE ' +
    '[--https-port N --cert FILE --key FILE] [--host ADDR] [--latency-ms N] [--no-record]' +
    '   (port 0 = pick a free one)');
  process.exit(2);
}
function parseArgs(argv) {
  const opts = { host: '127.0.0.1', record: true, latency: 0 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--no-record') { opts.record = false; continue; }
    const m = /^--(port|https-port|cert|key|fixtures|host|latency-ms)$/.exec(argv[i]);
    if (!m || i + 1 >= argv.length) usage();
    opts[m[1]] = argv[++i];
  }
  const badPort = (p) => p !== undefined && !/^\d{1,5}$/.test(p);
  if (opts.port === undefined || !opts.fixtures || badPort(opts.port) || badPort(opts['https-port'])) usage();
  if (opts['https-port'] !== undefined && !(opts.cert && opts.key)) usage();
  if (opts['latency-ms'] !== undefined) {
    if (!/^\d{1,7}$/.test(opts['latency-ms'])) usage();
    opts.latency = Number(opts['latency-ms']);
  }
  return opts;
}
const opts = parseArgs(process.argv.slice(2));
const accounts = JSON.parse(fs.readFileSync(opts.fixtures, 'utf8')).accounts || {};

// ---- helpers ---------------------------------------------------------------
const DATE = 'Thu, 01 Jan 2015 00:00:00 +0000'; // fixed, so responses are stable
const recorded = [];
const MAX_RECORDED = 10000; // a long-running demo must not grow without bound

function send(res, status, obj, extraHeaders) {
  const body = JSON.stringify(obj);
  res.writeHead(status, Object.assign({
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  }, extraHeaders || {}));
  res.end(body);
}

function twilioError(res, status, code, message, extraHeaders) {
  send(res, status, {
    code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status,
  }, extraHeaders);
}
const notFound = (res, path) =>
  twilioError(res, 404, 20404, `The requested resource ${path} was not found`);
const unauthorized = (res) =>
  twilioError(res, 401, 20003, 'Authenticate', { 'WWW-Authenticate': 'Basic realm="Twilio API"' });

const outbound = makeOutbound({ send, twilioError, notFound });
const calls = makeCalls({ send, twilioError, notFound });
const media = makeMedia({ send, notFound });

// Deterministic fake SIDs (e.g. PN for a number) so repeated runs agree.
function fakeSid(prefix, ...parts) {
  return prefix + crypto.createHash('md5').update(parts.join('|')).digest('hex');
}

function basicAuth(req) {
  const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization || '');
  if (!m) return null;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return null;
  return { user: text.slice(0, colon), pass: text.slice(colon + 1) };
}

// Constant-time compare: cheap, and keeps the stand-in from modelling a timing leak.
function tokenMatches(given, expected) {
  const a = Buffer.from(String(given)), b = Buffer.from(String(expected));
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

// ---- resource shapes -------------------------------------------------------
function accountJson(sid, acct) {
  return {
    sid, friendly_name: acct.friendly_name, status: acct.status, type: acct.type,
    owner_account_sid: sid, date_created: DATE, date_updated: DATE,
    auth_token: '[redacted]', // never echo the real token
    uri: `/2010-04-01/Accounts/${sid}.json`,
    subresource_uris: {
      incoming_phone_numbers: `/2010-04-01/Accounts/${sid}/IncomingPhoneNumbers.json`,
    },
  };
}

function incomingNumbersJson(sid, acct, query) {
  const uri = `/2010-04-01/Accounts/${sid}/IncomingPhoneNumbers.json`;
  // URLSearchParams decodes %2B to '+', and (like Twilio) a raw '+' to a space.
  const want = query.get('PhoneNumber');
  const list = (acct.numbers || [])
    .filter((n) => want === null || n === want)
    .map((n) => ({
      sid: fakeSid('PN', sid, n), account_sid: sid, phone_number: n, friendly_name: n,
      capabilities: { voice: true, sms: true, mms: true, fax: false },
      status: 'in-use', date_created: DATE, date_updated: DATE,
      uri: `/2010-04-01/Accounts/${sid}/IncomingPhoneNumbers/${fakeSid('PN', sid, n)}.json`,
    }));
  const qs = query.toString();
  return {
    incoming_phone_numbers: list, page: 0, page_size: 50, start: 0,
    end: Math.max(list.length - 1, 0),
    uri: uri + (qs ? `?${qs}` : ''), first_page_uri: `${uri}?${qs ? qs + '&' : ''}PageSize=50&Page=0`,
    next_page_uri: null, previous_page_uri: null,
  };
}

function serviceJson(kind, svc, acctSid, baseUrl) {
  return {
    sid: svc, account_sid: acctSid, friendly_name: `${kind} service ${svc.slice(0, 8)}`,
    date_created: DATE, date_updated: DATE, url: `${baseUrl}/v1/Services/${svc}`,
  };
}

function mgNumbersJson(svc, acctSid, numbers, baseUrl) {
  const url = `${baseUrl}/v1/Services/${svc}/PhoneNumbers`;
  return {
    phone_numbers: numbers.map((n) => ({
      sid: fakeSid('PN', acctSid, n), phone_number: n, service_sid: svc, account_sid: acctSid,
      country_code: 'US', capabilities: ['SMS', 'MMS'], date_created: DATE, date_updated: DATE,
      url: `${url}/${fakeSid('PN', acctSid, n)}`,
    })),
    meta: {
      page: 0, page_size: 50, first_page_url: `${url}?PageSize=50&Page=0`,
      previous_page_url: null, next_page_url: null, url: `${url}?PageSize=50&Page=0`, key: 'phone_numbers',
    },
  };
}

// ---- faults ----------------------------------------------------------------
// Holds back whatever the handlers answer on res and sends it ms later (dropped if the
// client gives up first). Stacks: latency plus delay_after waits for both.
function deferAnswer(res, ms) {
  const writeHead = res.writeHead, end = res.end;
  let head = null;
  res.writeHead = (...args) => { head = args; return res; };
  res.end = (...args) => {
    const t = setTimeout(() => {
      if (head) writeHead.apply(res, head);
      end.apply(res, args);
    }, ms);
    res.on('close', () => clearTimeout(t));
    return res;
  };
}

// Applies a fault (an account's, or a queued rule); returns true when the fault took
// over the response ('delay' hands it back later through proceed, the *_after kinds
// call proceed at once and intercept its answer).
function applyFault(fault, req, res, proceed) {
  switch (fault.kind) {
    case 'status': {
      const extra = fault.status === 429 ? { 'Retry-After': '1' } : undefined;
      const text = http.STATUS_CODES[fault.status] || 'Error';
      const code = fault.code || (fault.status === 429 ? 20429 : 20500);
      twilioError(res, fault.status, code, `${text} (simulated fault)`, extra);
      return true;
    }
    case 'garbage':
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html>not json');
      return true;
    case 'delay': {
      const t = setTimeout(proceed, fault.ms ?? 3000);
      res.on('close', () => clearTimeout(t)); // client gave up: nothing left to answer
      return true;
    }
    case 'close':
    case 'close_before': // Twilio never saw it
      req.socket.destroy();
      return true;
    case 'close_after': // Twilio acted, but the answer is lost: the ambiguous case
      res.writeHead = () => res;
      res.end = () => { req.socket.destroy(); return res; };
      proceed();
      return true;
    case 'delay_after': // acted at once, answers late (ambiguous for a client that times out)
      deferAnswer(res, fault.ms ?? 3000);
      proceed();
      return true;
    default:
      return false; // unknown fault kinds are ignored rather than crashing the tests
  }
}

// Rules queued through POST /__faults, applied in order to the next matching requests.
const FAULT_KINDS = ['status', 'garbage', 'delay', 'close', 'close_before', 'close_after', 'delay_after'];
const faultRules = []; // { rule (as listed by GET /__faults), re }

function addFaultRule(spec) {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) return 'a rule must be a JSON object';
  if (!FAULT_KINDS.includes(spec.kind)) return `kind must be one of ${FAULT_KINDS.join(', ')}`;
  const isInt = (v, min) => Number.isInteger(v) && v >= min;
  if (spec.count !== undefined && !isInt(spec.count, 1)) return 'count must be an integer >= 1';
  if (spec.kind === 'status' && !(isInt(spec.status, 100) && spec.status <= 599)) return 'status must be 100..599';
  if (spec.code !== undefined && !isInt(spec.code, 1)) return 'code must be a positive integer';
  if (spec.ms !== undefined && !isInt(spec.ms, 0)) return 'ms must be an integer >= 0';
  if (spec.method !== undefined && typeof spec.method !== 'string') return 'method must be a string';
  if (spec.path !== undefined && typeof spec.path !== 'string') return 'path must be a string (a regex)';
  let re;
  try { re = new RegExp(spec.path || ''); } catch (e) { return `bad path regex: ${e.message}`; }
  const rule = {
    method: spec.method ? spec.method.toUpperCase() : null, path: spec.path || '',
    count: spec.count || 1, kind: spec.kind,
  };
  for (const k of ['status', 'code', 'ms']) if (spec[k] !== undefined) rule[k] = spec[k];
  faultRules.push({ rule, re });
  return null;
}

// The first rule matching method and path (regex on the path, query excluded), used up once.
function takeFault(method, path) {
  for (let i = 0; i < faultRules.length; i++) {
    const { rule, re } = faultRules[i];
    if ((rule.method && rule.method !== method) || !re.test(path)) continue;
    if (--rule.count === 0) faultRules.splice(i, 1);
    return rule;
  }
  return null;
}

function faultsControl(req, res, body) {
  if (req.method === 'GET') return send(res, 200, faultRules.map((r) => r.rule));
  if (req.method === 'DELETE') { faultRules.length = 0; return send(res, 200, { cleared: true }); }
  if (req.method !== 'POST') return notFound(res, '/__faults');
  let specs;
  try { specs = JSON.parse(body); } catch (e) { return send(res, 400, { error: `body is not JSON: ${e.message}` }); }
  specs = Array.isArray(specs) ? specs : [specs];
  const kept = faultRules.length;
  for (const spec of specs) {
    const error = addFaultRule(spec);
    if (error) { faultRules.length = kept; return send(res, 400, { error }); } // all or nothing
  }
  return send(res, 201, faultRules.map((r) => r.rule));
}

// ---- request handling ------------------------------------------------------
function route(req, res, url, auth, body) {
  const path = url.pathname;
  const baseUrl = `${req.socket.encrypted ? 'https' : 'http'}://${req.headers.host || opts.host}`;

  // Which account is this about? REST 2010 puts it in the path; v1 only in the auth user.
  const acMatch = /^\/2010-04-01\/Accounts\/(AC[0-9a-fA-F]{32})(?=[./])/.exec(path);
  const acctSid = acMatch ? acMatch[1] : (auth && auth.user);
  const acct = acctSid && Object.prototype.hasOwnProperty.call(accounts, acctSid) ? accounts[acctSid] : null;

  const normal = () => {
    if (acMatch && !acct) return notFound(res, path);
    if (!acct) return /^\/v1\//.test(path) ? unauthorized(res) : notFound(res, path);
    if (!auth || auth.user !== acctSid || !tokenMatches(auth.pass, acct.token)) return unauthorized(res);
    const c = { path, query: url.searchParams, body, acctSid, acct, baseUrl };
    if (outbound.route(req, res, c) || calls.route(req, res, c) || media.route(req, res, c)) return;
    if (req.method !== 'GET') return notFound(res, path);

    let m;
    if (path === `/2010-04-01/Accounts/${acctSid}.json`) {
      return send(res, 200, accountJson(acctSid, acct));
    }
    if (path === `/2010-04-01/Accounts/${acctSid}/IncomingPhoneNumbers.json`) {
      return send(res, 200, incomingNumbersJson(acctSid, acct, url.searchParams));
    }
    if ((m = /^\/v1\/Services\/(IS[0-9a-fA-F]{32})$/.exec(path))) {
      if (!(acct.conversations_services || []).includes(m[1])) return notFound(res, path);
      return send(res, 200, serviceJson('Conversations', m[1], acctSid, baseUrl));
    }
    const mgs = acct.messaging_services || {};
    if ((m = /^\/v1\/Services\/(MG[0-9a-fA-F]{32})(\/PhoneNumbers)?$/.exec(path))) {
      if (!Object.prototype.hasOwnProperty.call(mgs, m[1])) return notFound(res, path);
      if (m[2]) return send(res, 200, mgNumbersJson(m[1], acctSid, mgs[m[1]], baseUrl));
      return send(res, 200, serviceJson('Messaging', m[1], acctSid, baseUrl));
    }
    return notFound(res, path);
  };

  // A fault account misbehaves before auth is checked, so tests need no valid token.
  if (acct && acct.fault && applyFault(acct.fault, req, res, normal)) return;
  normal();
}

function handler(req, res) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url, 'http://standin.invalid');
    const auth = basicAuth(req);
    const body = Buffer.concat(chunks).toString('utf8');

    // Control routes: no auth, not recorded, never faulted or delayed.
    if (url.pathname === '/__requests') {
      if (req.method === 'GET') return send(res, 200, recorded);
      if (req.method === 'DELETE') { recorded.length = 0; return send(res, 200, { cleared: true }); }
      return notFound(res, url.pathname);
    }
    if (url.pathname === '/__faults') return faultsControl(req, res, body);
    if (url.pathname === '/__state') {
      if (req.method !== 'DELETE') return notFound(res, url.pathname);
      outbound.reset();
      calls.reset();
      return send(res, 200, { cleared: true });
    }

    // Record first, so even faulted and rejected requests are visible to the tests.
    if (recorded.length >= MAX_RECORDED) recorded.shift();
    recorded.push({
      method: req.method, path: url.pathname, query: url.search.replace(/^\?/, ''),
      user: auth ? auth.user : null, // never the password
      content_type: req.headers['content-type'] || null,
      body: opts.record ? body : null, time: new Date().toISOString(),
    });
    if (opts.latency > 0) deferAnswer(res, opts.latency);
    const proceed = () => route(req, res, url, auth, body);
    const rule = faultRules.length ? takeFault(req.method, url.pathname) : null;
    if (rule && applyFault(rule, req, res, proceed)) return;
    proceed();
  });
}

// ---- start / stop ----------------------------------------------------------
function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(port), opts.host, () => resolve(server.address().port));
  });
}

async function main() {
  const servers = [http.createServer(handler)];
  const httpPort = await listen(servers[0], opts.port);
  let httpsPort = 'none';
  if (opts['https-port'] !== undefined) {
    const s = https.createServer({
      cert: fs.readFileSync(opts.cert), key: fs.readFileSync(opts.key),
    }, handler);
    servers.push(s);
    httpsPort = await listen(s, opts['https-port']);
  }
  const stop = (signal) => {
    console.error(`standin: ${signal}, stopping`); // says who ended it when reading logs
    // Delayed requests would keep the event loop alive; drop them and leave.
    for (const s of servers) { s.close(); s.closeAllConnections(); }
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(`standin listening http=${httpPort} https=${httpsPort}\n`);
}

main().catch((err) => { console.error(`standin: ${err.message}`); process.exit(1); });
