#!/usr/bin/env node
'use strict';
// Oracle vector generator for byo_twilio.
//
// Produces random test vectors whose expected results come from Twilio's
// official Node helper library (test/node_modules/twilio), so the SQL
// functions twilio.compute_signature / twilio.validate_signature can be
// compared against it (see check_vectors.sql and run.sh).
//
// Usage:
//   node test/oracle/make_vectors.js [--count 600] [--seed 42]
//        [--core-only] [--no-utf16-order] [--ct-params] > vectors.tsv
//
// Output: one vector per line, 7 TAB-separated fields, each base64 (standard
// alphabet) of the UTF-8 text:
//   kind  token  url  body_or_params  content_type  signature  expected
// kind is compute | form | json.
//   compute: body_or_params = JSON.stringify(params); signature = expected =
//            official getExpectedTwilioSignature(token, url, params).
//   form:    url is the VALIDATING url; body is a raw x-www-form-urlencoded
//            body; expected = 'true'/'false' from official validateRequest over
//            the params parsed from the body with URLSearchParams.
//   json:    body is JSON text, url carries bodySHA256; expected = 'true'/'false'
//            from official validateRequestWithBody.
//
// Options:
//   --core-only       leave out the "edge" probe classes (malformed percent
//                     escapes, invalid UTF-8 escapes, bare keys / empty
//                     segments, empty arrays, uppercase or duplicated
//                     bodySHA256). All of them follow the official library +
//                     WHATWG urlencoded parsing; they are just less ordinary.
//   --no-utf16-order  leave out vectors whose result depends on the official
//                     library sorting by UTF-16 code units instead of bytes
//                     (see reference_check.js).
//   --ct-params       also emit content types with parameters / odd case
//                     ("application/json; charset=utf-8"). The official library
//                     never looks at the content type, so this is an
//                     assumption about OUR API, not an oracle fact. Off by default.
//   --labels          append an 8th base64 field with the vector's class label
//                     (NOT accepted by check_vectors.sql; for debugging only).
//
// The module also exports generate() for reference_check.js.

const path = require('path');
const crypto = require('crypto');

function loadTwilio() {
  try {
    return require(path.join(__dirname, '..', 'node_modules', 'twilio'));
  } catch (e) {
    try {
      return require('twilio');
    } catch (e2) {
      process.stderr.write('make_vectors: cannot load the twilio npm package (run npm ci in test/): ' + e.message + '\n');
      process.exit(2);
    }
  }
}
const twilio = loadTwilio();

// ---------------------------------------------------------------- PRNG
// Weyl sequence fed through a 32-bit avalanche mixer. Deterministic per seed.
function makeRng(seed) {
  let state = seed >>> 0;
  function u32() {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad) >>> 0;
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97) >>> 0;
    return (z ^ (z >>> 15)) >>> 0;
  }
  const rng = {
    u32,
    float() { return u32() / 4294967296; },
    int(n) { return Math.floor(rng.float() * n); },
    range(lo, hi) { return lo + rng.int(hi - lo + 1); },
    chance(p) { return rng.float() < p; },
    pick(arr) { return arr[rng.int(arr.length)]; },
    shuffle(arr) {
      const a = arr.slice();
      for (let i = a.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        const t = a[i]; a[i] = a[j]; a[j] = t;
      }
      return a;
    },
    // weighted choice: [[weight, value], ...]
    weighted(items) {
      let total = 0;
      for (const [w] of items) total += w;
      let r = rng.float() * total;
      for (const [w, v] of items) {
        if (r < w) return v;
        r -= w;
      }
      return items[items.length - 1][1];
    },
    hex(nBytes) {
      let s = '';
      for (let i = 0; i < nBytes; i++) s += (u32() & 0xff).toString(16).padStart(2, '0');
      return s;
    },
  };
  return rng;
}

function seedFromArg(s) {
  if (/^\d+$/.test(s)) return Number(BigInt(s) & 0xffffffffn);
  // non-numeric seed: hash it
  return crypto.createHash('sha256').update(String(s)).digest().readUInt32BE(0);
}

// ---------------------------------------------------------------- text pools
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'.split('');
const RESERVED = ['&', '=', '+', '%', '/', '?', '#', ' ', ' ', ';', ':', '@', '!', '$', "'",
  '(', ')', '*', ',', '[', ']', '~', '-', '.', '_', '"', '<', '>', '\\', '^', '`', '{', '|', '}'];
// No U+0000 (PostgreSQL text/jsonb cannot hold it), no lone surrogates, no U+FEFF.
const UNICODE_BMP_LOW = ['é', 'ü', 'ß', 'ñ', 'Å', 'ø', 'я', 'ж', 'Ω', 'ع', 'ש', '€', '™', '\u00a0',
  '\u0301', 'ก', '日', '本', '語', '한', '\u2028', '·'];
// BMP chars at or above U+E000: sort AFTER surrogate pairs in UTF-16 code unit
// order but BEFORE astral chars in byte/code point order.
const UNICODE_BMP_HIGH = ['\uE000', '\uF8FF', 'ﬁ', 'Ａ', 'ａ', '￥', '｡', '\uFFFD', '가'.normalize() /* U+AC00 (< D800) */];
const UNICODE_ASTRAL = ['😀', '🎉', '𝄞', '\u{20000}', '🇺🇸', '\u{1F9D1}\u200D\u{1F4BB}'];
const CONTROL = ['\t', '\n', '\r', '\u007f', '\u0001', '\u001f'];
const PCT_LITERAL = ['%20', '%2B', '%', '%zz', '%E9', '100%', '%%'];

const TWILIO_KEYS = ['AccountSid', 'ApiVersion', 'Body', 'CallSid', 'CallStatus', 'Called', 'Caller',
  'Direction', 'From', 'FromCity', 'FromZip', 'MediaUrl0', 'MediaContentType0', 'MessageSid',
  'MessagingServiceSid', 'NumMedia', 'NumSegments', 'SmsSid', 'SmsStatus', 'To', 'ToCountry',
  'Digits', 'SpeechResult', 'Confidence', 'RecordingUrl', 'ErrorCode'];
// Keys chosen to stress ordering: case, prefixes, punctuation vs letters, digits.
const ORDER_KEYS = ['a', 'A', 'aa', 'aA', 'Aa', 'a a', 'a_b', 'a-b', 'a.b', 'a~', 'Z', 'z', '_', '~',
  '0', '1', '10', '9', '09', 'é', 'e\u0301', 'E', 'From', 'from', 'FROM', 'To', 'to', 'Tо' /* Cyrillic о */,
  'MediaUrl1', 'MediaUrl10', 'MediaUrl2', 'key[]', 'key[0]', 'key[1]', 'a+b', 'a%20b', 'a=b', 'a&b'];

function randomText(rng, maxLen, mix) {
  // mix: weights for [alnum, reserved, unicodeLow, unicodeHigh, astral, control, pctLiteral]
  const w = mix || [60, 15, 8, 4, 4, 2, 2];
  const pools = [ALNUM, RESERVED, UNICODE_BMP_LOW, UNICODE_BMP_HIGH, UNICODE_ASTRAL, CONTROL, PCT_LITERAL];
  const items = pools.map((p, i) => [w[i], p]);
  const len = rng.int(maxLen + 1);
  let s = '';
  for (let i = 0; i < len; i++) s += rng.pick(rng.weighted(items));
  return s;
}

function randomKey(rng) {
  return rng.weighted([
    [30, () => rng.pick(TWILIO_KEYS)],
    [20, () => rng.pick(ORDER_KEYS)],
    [45, () => {
      const s = rng.pick(ALNUM) + randomText(rng, 12);
      return s;
    }],
    [3, () => randomText(rng, 4, [10, 10, 20, 20, 20, 5, 5]) + 'k'],
    [2, () => ''],
  ])();
}

function randomValue(rng) {
  return rng.weighted([
    [8, () => ''],
    [10, () => '+1' + String(rng.range(2000000000, 9999999999))],
    [8, () => rng.pick(['SM', 'CA', 'AC', 'MG', 'RE']) + rng.hex(16)],
    [4, () => 'https://api.twilio.com/2010-04-01/Accounts/AC' + rng.hex(16) + '/Media/ME' + rng.hex(16)],
    [56, () => randomText(rng, 30)],
    [6, () => randomText(rng, 20, [5, 5, 30, 20, 30, 5, 5])],
    [4, () => randomText(rng, 300)],
    [4, () => rng.pick(['true', 'false', '0', '1', 'null', ' ', '  ', '+', '&', '='])],
  ])();
}

const FORBIDDEN_KEYS = new Set(['__proto__']);

// params: plain object, values are strings or arrays of strings (with dups).
function randomParams(rng, opts) {
  const n = rng.weighted([[3, 0], [10, 1], [30, rng.range(2, 6)], [20, rng.range(7, 14)]]);
  const params = {};
  let guard = 0;
  while (Object.keys(params).length < n && guard++ < 200) {
    const k = randomKey(rng);
    if (FORBIDDEN_KEYS.has(k) || Object.prototype.hasOwnProperty.call(params, k)) continue;
    if (rng.chance(0.22)) {
      // repeated key: small value set so duplicates are likely
      const pool = [];
      const distinct = rng.range(1, 4);
      for (let i = 0; i < distinct; i++) pool.push(randomValue(rng));
      const arr = [];
      const len = rng.range(1, 6);
      for (let i = 0; i < len; i++) arr.push(rng.pick(pool));
      params[k] = arr;
    } else if (opts.edge && rng.chance(0.01)) {
      params[k] = []; // contributes nothing to the signature
    } else {
      params[k] = randomValue(rng);
    }
  }
  if (opts.utf16 && rng.chance(0.07)) addUtf16OrderProbe(rng, params);
  return params;
}

// Keys (or repeated values) that share a prefix and then differ by a BMP char
// >= U+E000 versus an astral char: UTF-16 code unit order and byte order
// disagree on which comes first.
const UTF16_HIGH = ['\uE000', '\uF8FF', 'ﬁ', 'Ａ', 'ａ', '￥', '｡', '\uFFFD'];
function addUtf16OrderProbe(rng, params) {
  const prefix = rng.pick(['', 'k', 'Body', 'x_', 'é']);
  const hi = prefix + rng.pick(UTF16_HIGH) + randomText(rng, 3, [80, 0, 0, 0, 0, 0, 0]);
  const astral = prefix + rng.pick(UNICODE_ASTRAL) + randomText(rng, 3, [80, 0, 0, 0, 0, 0, 0]);
  if (rng.chance(0.5)) {
    if (!Object.prototype.hasOwnProperty.call(params, hi)) params[hi] = randomValue(rng);
    if (!Object.prototype.hasOwnProperty.call(params, astral)) params[astral] = randomValue(rng);
  } else {
    const k = rng.pick(['MediaUrl', 'Tag', 'Body']) + rng.int(10);
    params[k] = rng.shuffle([hi, astral, hi, 'plain']);
  }
}

// Does the official UTF-16 code unit sort differ from byte order anywhere?
function cmpBytes(a, b) { return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')); }
function sortDiffers(list) {
  const u16 = list.slice().sort();
  const by = list.slice().sort(cmpBytes);
  for (let i = 0; i < u16.length; i++) if (u16[i] !== by[i]) return true;
  return false;
}
function utf16OrderMatters(params) {
  if (sortDiffers(Object.keys(params))) return true;
  for (const v of Object.values(params)) {
    if (Array.isArray(v) && sortDiffers(Array.from(new Set(v)))) return true;
  }
  return false;
}

// ---------------------------------------------------------------- URLs
// Restricted to characters for which the official validator's as-received
// check decides (no WHATWG/legacy-querystring fallback can change the result):
// unreserved chars + well-formed percent escapes; lowercase hosts; paths always
// start with '/'; no dot segments, no '%2e'; no fragments; no trailing bare '?'.
const URL_UNRESERVED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~'.split('');
const URL_PCT = ['%20', '%2B', '%2b', '%2F', '%3D', '%26', '%25', '%C3%A9', '%c3%a9', '%E2%82%AC', '%3F', '%23', '%F0%9F%98%80'];
const TLDS = ['com', 'net', 'org', 'io', 'dev', 'app', 'example', 'test'];
const NONDEFAULT_PORTS = ['8080', '8443', '3000', '5000', '4430', '1', '65535', '8000'];

function urlToken(rng, maxLen, pctRate) {
  const len = rng.range(1, maxLen);
  let s = '';
  for (let i = 0; i < len; i++) s += rng.chance(pctRate) ? rng.pick(URL_PCT) : rng.pick(URL_UNRESERVED);
  return s;
}

function hostLabel(rng) {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const inner = 'abcdefghijklmnopqrstuvwxyz0123456789-';
  const len = rng.range(1, 12);
  let s = rng.pick(letters.split(''));
  for (let i = 1; i < len; i++) s += rng.pick(inner.split(''));
  if (s.endsWith('-')) s += 'x';
  if (s.startsWith('xn')) s = 'h' + s;
  return s;
}

function randomHost(rng) {
  return rng.weighted([
    [70, () => {
      const n = rng.range(1, 3);
      const labels = [];
      for (let i = 0; i < n; i++) labels.push(hostLabel(rng));
      return labels.join('.') + '.' + rng.pick(TLDS);
    }],
    [10, () => rng.pick(['mycompany.com', 'example.ngrok.io', 'hooks.example.com', 'api.acme.test'])],
    [10, () => 'localhost'],
    [10, () => rng.pick(['127.0.0.1', '198.51.100.7', '192.0.2.10'])],
  ])();
}

function defaultPort(scheme) { return scheme === 'https' ? '443' : '80'; }
function otherNondefaultPort(rng, scheme, avoid) {
  let p;
  do {
    p = rng.pick(NONDEFAULT_PORTS.concat([scheme === 'https' ? '80' : '443']));
  } while (p === avoid || p === defaultPort(scheme));
  return p;
}

function randomPath(rng) {
  return rng.weighted([
    [10, () => '/'],
    [60, () => {
      const n = rng.range(1, 4);
      const segs = [];
      for (let i = 0; i < n; i++) {
        let seg;
        do { seg = urlToken(rng, 10, 0.08); } while (/^\.+$/.test(seg));
        segs.push(seg);
      }
      let p = '/' + segs.join('/');
      if (rng.chance(0.15)) p += '/';
      if (rng.chance(0.1)) p += rng.pick(['.php', '.json', '.xml']);
      return p;
    }],
    [15, () => rng.pick(['/myapp.php', '/twilio/sms', '/webhooks/voice', '/api/v1/twilio/status-callback', '/sms/'])],
    [15, () => '/hooks/' + rng.hex(4) + '/' + urlToken(rng, 6, 0)],
  ])();
}

function randomQueryPairs(rng) {
  const n = rng.weighted([[35, 0], [25, 1], [30, rng.range(2, 4)], [10, rng.range(5, 8)]]);
  const pairs = [];
  if (n > 0 && rng.chance(0.3)) pairs.push(['tenant', rng.pick(['abc', 'acme', 't-' + rng.hex(3)])]);
  while (pairs.length < n) {
    const k = rng.chance(0.3) ? rng.pick(['x', 'foo', 'bar', 'id', 'sig', 'a', 'tenant', 'route']) : urlToken(rng, 8, 0.1);
    const v = rng.weighted([[10, ''], [70, urlToken(rng, 12, 0.12)], [20, String(rng.int(1000))]]);
    pairs.push([k, v, rng.chance(0.05) /* bare key, no '=' */ && v === '']);
  }
  return pairs;
}

function queryString(pairs) {
  if (!pairs.length) return '';
  return '?' + pairs.map(([k, v, bare]) => (bare ? k : k + '=' + v)).join('&');
}

function randomUrlParts(rng) {
  const scheme = rng.chance(0.75) ? 'https' : 'http';
  const portMode = rng.weighted([[55, 'none'], [25, 'default'], [20, 'nondefault']]);
  const port = portMode === 'none' ? '' : portMode === 'default' ? defaultPort(scheme) : otherNondefaultPort(rng, scheme, '');
  return { scheme, host: randomHost(rng), port, path: randomPath(rng), query: randomQueryPairs(rng) };
}

function buildUrl(p) {
  return p.scheme + '://' + p.host + (p.port ? ':' + p.port : '') + p.path + queryString(p.query);
}

// The URLs the official validator checks before any normalization fallback:
// port removed, and default port added when there is none.
function receivedVariants(url) {
  const m = /^([a-z]+):\/\/([^/?#:]*)(:\d+)?(.*)$/s.exec(url);
  if (!m) throw new Error('unexpected url ' + url);
  const [, scheme, host, port, rest] = m;
  const bare = scheme + '://' + host + rest;
  return [bare, port ? url : scheme + '://' + host + ':' + defaultPort(scheme) + rest];
}

function withPort(parts, port) { return Object.assign({}, parts, { port }); }

function changeQuery(rng, parts) {
  const q = parts.query.map((x) => x.slice());
  const mode = q.length === 0 ? 'add' : rng.pick(['add', 'drop', 'value', 'value', 'swap']);
  if (mode === 'add') q.push(['x', String(rng.range(1, 99))]);
  else if (mode === 'drop') q.splice(rng.int(q.length), 1);
  else if (mode === 'value') { const i = rng.int(q.length); q[i] = [q[i][0], q[i][1] + 'z']; }
  else if (q.length >= 2 && q[0].join('=') !== q[1].join('=')) { const t = q[0]; q[0] = q[1]; q[1] = t; }
  else q.push(['y', '1']);
  return Object.assign({}, parts, { query: q });
}

// ---------------------------------------------------------------- form bodies
function flattenParams(params) {
  const pairs = [];
  for (const k of Object.keys(params)) {
    const v = params[k];
    if (Array.isArray(v)) for (const x of v) pairs.push([k, x]);
    else pairs.push([k, v]);
  }
  return pairs;
}

const FORM_SAFE = /^[A-Za-z0-9*\-._]$/;
// '?' is never left raw: URLSearchParams(string) would strip a leading one.
const FORM_RAW_OK = new Set(['~', '/', ':', '@', '!', '$', "'", '(', ')', ',', ';', '[', ']', '#', '|', '^', '{', '}', '`', '"', '<', '>', '\\']);

function pctByte(b, lower) {
  const h = b.toString(16).toUpperCase().padStart(2, '0');
  return '%' + (lower ? h.toLowerCase() : h);
}

// Own encoder with variations that any urlencoded parser must accept.
function encodeComponent(rng, s, style) {
  let out = '';
  for (const ch of s) {
    if (ch === ' ') { out += style.spaceAs; continue; }
    if (FORM_SAFE.test(ch)) {
      if (style.overEncode && rng.chance(0.1)) out += pctByte(ch.charCodeAt(0), style.lowerHex);
      else out += ch;
      continue;
    }
    const cp = ch.codePointAt(0);
    if (style.rawUnicode && cp > 0x7f) { out += ch; continue; }
    if (style.rawSafe && FORM_RAW_OK.has(ch)) { out += ch; continue; }
    for (const b of Buffer.from(ch, 'utf8')) out += pctByte(b, style.lowerHex);
  }
  return out;
}

function randomFormStyle(rng) {
  if (rng.chance(0.45)) return { native: true, spaceAs: '+' };
  return {
    native: false,
    spaceAs: rng.chance(0.5) ? '%20' : '+',
    lowerHex: rng.chance(0.3),
    rawUnicode: rng.chance(0.25),
    rawSafe: rng.chance(0.25),
    overEncode: rng.chance(0.2),
  };
}

function encodeBody(rng, pairs, style) {
  if (style.native) {
    let body = new URLSearchParams(pairs).toString();
    if (style.spaceAs === '%20') body = body.replace(/\+/g, '%20');
    return body;
  }
  return pairs.map(([k, v]) => encodeComponent(rng, k, style) + '=' + encodeComponent(rng, v, style)).join('&');
}

function parsePairs(body) {
  return Array.from(new URLSearchParams(body));
}

// Params as a framework would hand them to validateRequest: repeated keys as
// arrays, single occurrences as strings.
function paramsFromBody(body) {
  if (body.startsWith('?')) throw new Error('body starts with ?: URLSearchParams would drop it');
  const out = {};
  for (const [k, v] of new URLSearchParams(body)) {
    if (FORBIDDEN_KEYS.has(k)) throw new Error('generated forbidden key');
    if (!Object.prototype.hasOwnProperty.call(out, k)) out[k] = v;
    else if (Array.isArray(out[k])) out[k].push(v);
    else out[k] = [out[k], v];
  }
  return out;
}

function samePairs(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i][0] !== b[i][0] || a[i][1] !== b[i][1]) return false;
  return true;
}

// drop the last code point (never split a surrogate pair)
function dropLast(s) { return Array.from(s).slice(0, -1).join(''); }

// ---------------------------------------------------------------- signatures
function sign(token, url, params) { return twilio.getExpectedTwilioSignature(token, url, params); }

function badSignature(rng, sig) {
  return rng.weighted([
    [3, () => ['sig-truncated', sig.slice(0, rng.int(sig.length))]],
    [1, () => ['sig-empty', '']],
    [2, () => {
      const idx = [...sig].map((c, i) => (/[A-Za-z]/.test(c) ? i : -1)).filter((i) => i >= 0);
      const i = rng.pick(idx);
      const c = sig[i];
      return ['sig-case-flipped', sig.slice(0, i) + (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) + sig.slice(i + 1)];
    }],
    [2, () => {
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
      const i = rng.int(sig.length - 1);
      let c;
      do { c = rng.pick(alphabet.split('')); } while (c === sig[i]);
      return ['sig-char-changed', sig.slice(0, i) + c + sig.slice(i + 1)];
    }],
    [1, () => ['sig-extra-char', sig + 'A']],
  ])();
}

function wrongToken(rng, token) {
  let t;
  do {
    t = rng.chance(0.5) ? rng.hex(16) : token.slice(0, 31) + rng.pick('0123456789abcdef'.split(''));
  } while (t === token);
  return t;
}

// Port scenarios: [label, signing port, validating port]. The official validator
// tries the received URL with its port removed, and with the default port added
// when it has none.
function portScenario(rng, scheme, wantValid) {
  const def = defaultPort(scheme);
  const nd = otherNondefaultPort(rng, scheme, '');
  if (wantValid) {
    return rng.pick([
      ['port:sign-none/validate-default', '', def],
      ['port:sign-default/validate-none', def, ''],
      ['port:sign-none/validate-nondefault', '', nd],
      ['port:sign-default/validate-default', def, def],
      ['port:sign-nondefault/validate-same', nd, nd],
    ]);
  }
  return rng.pick([
    ['port:sign-nondefault/validate-none', nd, ''],
    ['port:sign-nondefault/validate-other', nd, otherNondefaultPort(rng, scheme, nd)],
    ['port:sign-default/validate-nondefault', def, nd],
    ['port:sign-nondefault/validate-default', nd, def],
  ]);
}

// ---------------------------------------------------------------- generators
function genCompute(rng, opts) {
  const token = rng.hex(16);
  let params;
  do { params = randomParams(rng, opts); } while (!opts.utf16 && utf16OrderMatters(params));
  const parts = randomUrlParts(rng);
  let url = buildUrl(parts);
  let label = 'compute';
  if (rng.chance(0.08)) {
    // compute_signature only concatenates: raw unicode/reserved chars are fine here
    url = url + (parts.query.length ? '&' : '?') + 'q=' + randomText(rng, 10, [50, 20, 15, 5, 10, 0, 0]).replace(/[\t\n\r]/g, '');
    label = 'compute:raw-url';
  }
  if (Array.isArray(Object.values(params).find((v) => Array.isArray(v) && v.length === 0))) label += ':empty-array';
  if (utf16OrderMatters(params)) label += ':utf16-order';
  const sig = sign(token, url, params);
  return { kind: 'compute', label, token, url, payload: JSON.stringify(params), contentType: '', signature: sig, expected: sig };
}

const FORM_CT = 'application/x-www-form-urlencoded';
const JSON_CT = 'application/json';

function formContentType(rng, opts) {
  if (!opts.ctParams || rng.chance(0.7)) return FORM_CT;
  return rng.pick(['application/x-www-form-urlencoded; charset=utf-8', 'application/x-www-form-urlencoded; charset=UTF-8', 'Application/X-WWW-Form-Urlencoded']);
}
function jsonContentType(rng, opts) {
  if (!opts.ctParams || rng.chance(0.7)) return JSON_CT;
  return rng.pick(['application/json; charset=utf-8', 'application/json;charset=UTF-8', 'Application/JSON']);
}

function genForm(rng, opts) {
  const token = rng.hex(16);
  let params;
  do { params = randomParams(rng, opts); } while (!opts.utf16 && utf16OrderMatters(params));
  let pairs = flattenParams(params);
  if (rng.chance(0.5)) pairs = rng.shuffle(pairs);
  const style = randomFormStyle(rng);
  const base = randomUrlParts(rng);

  const wantValid = rng.chance(0.5);
  let scenario;
  if (wantValid) {
    scenario = rng.weighted([[40, 'same'], [30, 'port'], [12, 'dup-pair-added'], [8, 'dup-value-changed'], [10, 'reordered']]);
  } else {
    scenario = rng.weighted([[12, 'wrong-token'], [14, 'value-changed'], [10, 'param-added'], [8, 'param-removed'],
      [14, 'bad-signature'], [12, 'query-changed'], [10, 'port'], [6, 'scheme-changed'], [4, 'path-changed']]);
  }
  const edgeScenario = opts.edge && rng.chance(0.12)
    ? rng.pick(['malformed-percent', 'bare-key', 'empty-segments'].concat(opts.invalidUtf8 ? ['invalid-utf8'] : []))
    : null;

  let signParts = base;
  let validateParts = base;
  let signToken = token;
  let label = 'form:' + (wantValid ? 'valid:' : 'invalid:') + scenario;
  let bodyPairs = pairs; // pairs that end up in the body
  let signParams = params;
  let rawBody = null;

  if (scenario === 'port') {
    const [plabel, sp, vp] = portScenario(rng, base.scheme, wantValid);
    signParts = withPort(base, sp);
    validateParts = withPort(base, vp);
    label = 'form:' + (wantValid ? 'valid:' : 'invalid:') + plabel;
  } else if (scenario === 'dup-pair-added') {
    if (pairs.length === 0) { bodyPairs = []; label = 'form:valid:same'; }
    else {
      const p = rng.pick(pairs);
      bodyPairs = pairs.slice();
      bodyPairs.splice(rng.int(bodyPairs.length + 1), 0, p.slice());
    }
  } else if (scenario === 'dup-value-changed') {
    // change one occurrence of a repeated key to another value that key already has
    const rep = Object.keys(params).filter((k) => Array.isArray(params[k]) && new Set(params[k]).size >= 2);
    if (!rep.length) label = 'form:valid:same';
    else {
      const k = rng.pick(rep);
      const vals = Array.from(new Set(params[k]));
      // every distinct value must survive: only change an occurrence whose value occurs more than once
      const counts = new Map();
      for (const v of params[k]) counts.set(v, (counts.get(v) || 0) + 1);
      const idxs = [];
      bodyPairs.forEach(([bk, bv], i) => { if (bk === k && counts.get(bv) > 1) idxs.push(i); });
      if (!idxs.length) label = 'form:valid:same';
      else {
        const i = rng.pick(idxs);
        const others = vals.filter((v) => v !== bodyPairs[i][1]);
        bodyPairs = bodyPairs.slice();
        bodyPairs[i] = [k, rng.pick(others)];
      }
    }
  } else if (scenario === 'reordered') {
    bodyPairs = rng.shuffle(pairs);
  } else if (scenario === 'wrong-token') {
    signToken = wrongToken(rng, token);
  } else if (scenario === 'value-changed') {
    if (!pairs.length) { bodyPairs = [['Body', 'x']]; label = 'form:invalid:param-added'; }
    else {
      const i = rng.int(pairs.length);
      bodyPairs = pairs.slice();
      const [k, v] = pairs[i];
      const nv = rng.weighted([[3, v + rng.pick(['x', ' ', '1', 'é', '+'])], [1, dropLast(v) + (v.endsWith('y') ? 'z' : 'y')], [1, v.toUpperCase() === v ? v.toLowerCase() + 'q' : v.toUpperCase()]]);
      bodyPairs[i] = [k, nv];
    }
  } else if (scenario === 'param-added') {
    bodyPairs = pairs.slice();
    let k;
    do { k = rng.chance(0.7) ? randomKey(rng) : 'Extra' + rng.hex(2); } while (FORBIDDEN_KEYS.has(k));
    bodyPairs.splice(rng.int(bodyPairs.length + 1), 0, [k, randomValue(rng) + 'n']);
  } else if (scenario === 'param-removed') {
    if (!pairs.length) { bodyPairs = [['To', '+15005550006']]; label = 'form:invalid:param-added'; }
    else {
      // remove an occurrence whose (key, value) is unique, so the distinct
      // value set really changes; otherwise it is the valid dup-pair-removed
      const uniq = [];
      pairs.forEach(([k, v], i) => { if (pairs.filter(([k2, v2]) => k2 === k && v2 === v).length === 1) uniq.push(i); });
      bodyPairs = pairs.slice();
      if (uniq.length) bodyPairs.splice(rng.pick(uniq), 1);
      else { bodyPairs.splice(rng.int(pairs.length), 1); label = 'form:valid:dup-pair-removed'; }
    }
  } else if (scenario === 'query-changed') {
    signParts = changeQuery(rng, base);
  } else if (scenario === 'scheme-changed') {
    const other = base.scheme === 'https' ? 'http' : 'https';
    // keep ports that are non-default for both schemes, drop default ones
    const port = base.port === defaultPort(base.scheme) ? '' : base.port === defaultPort(other) ? '' : base.port;
    signParts = withPort(base, port);
    validateParts = Object.assign({}, withPort(base, rng.chance(0.5) ? port : (port ? port : defaultPort(other))), { scheme: other });
  } else if (scenario === 'path-changed') {
    signParts = Object.assign({}, base, { path: base.path.endsWith('/') && base.path.length > 1 ? base.path.slice(0, -1) : base.path + (base.path.endsWith('/') ? 'x' : '/') });
  }

  rawBody = encodeBody(rng, bodyPairs, style);
  if (!samePairs(parsePairs(rawBody), bodyPairs)) {
    throw new Error('form encoder round-trip failed: ' + JSON.stringify({ bodyPairs, rawBody }));
  }

  if (edgeScenario) {
    // Edge probes: the body is altered after encoding in ways a WHATWG
    // urlencoded parser handles specially. The signer "sees" the parsed result.
    label += ':edge-' + edgeScenario;
    const insertAt = (body, seg) => {
      const segs = body === '' ? [] : body.split('&');
      segs.splice(rng.int(segs.length + 1), 0, seg);
      return segs.join('&');
    };
    if (edgeScenario === 'malformed-percent') {
      rawBody = insertAt(rawBody, 'Pct=' + rng.pick(['100%', '%zz', '%4', '%%41', '50%25off%', '%G0', 'a%2']));
    } else if (edgeScenario === 'invalid-utf8') {
      rawBody = insertAt(rawBody, 'Bytes=' + rng.pick(['%FF', '%C3', '%C3%28', 'ok%E2%82', '%ED%A0%80', '%F8%88%80%80%80', '%C0%AF']));
    } else if (edgeScenario === 'bare-key') {
      rawBody = insertAt(rawBody, rng.pick(['Flag', 'Opt+In', 'x%3Dy', 'Empty=']));
    } else if (edgeScenario === 'empty-segments') {
      rawBody = rng.pick(['&', '&&']) + rawBody.replace(/&/g, () => (rng.chance(0.5) ? '&&' : '&')) + rng.pick(['', '&', '&&']);
    }
    // For valid scenarios the "Twilio-signed" params are what the parser
    // yields from the final body (for the dup-* scenarios that is the same
    // signature anyway); invalid scenarios stay invalid.
    if (wantValid) signParams = paramsFromBody(rawBody);
  }

  const signUrl = buildUrl(signParts);
  const validateUrl = buildUrl(validateParts);
  let signature = sign(signToken, signUrl, signParams);
  if (scenario === 'bad-signature') {
    const [l, s] = badSignature(rng, signature);
    signature = s;
    label = 'form:invalid:' + l;
  }
  const parsed = paramsFromBody(rawBody);
  if (!opts.utf16 && utf16OrderMatters(parsed)) return null; // retry
  if (utf16OrderMatters(parsed)) label += ':utf16-order';
  if (style.spaceAs === '%20') label += ':sp20';
  const expected = twilio.validateRequest(token, signature, validateUrl, parsed);
  if (expected && !receivedVariants(validateUrl).includes(signUrl)) return null; // fallback-dependent: retry
  return {
    kind: 'form', label, token, url: validateUrl, payload: rawBody, contentType: formContentType(rng, opts),
    signature, expected: expected ? 'true' : 'false',
  };
}

function randomJsonValue(rng, depth) {
  const choices = [
    [20, () => randomText(rng, 25, [55, 15, 12, 5, 8, 5, 0])],
    [10, () => rng.int(100000) - 50000],
    [5, () => Math.round(rng.float() * 1e6) / 1000],
    [5, () => rng.chance(0.5)],
    [3, () => null],
  ];
  if (depth < 3) {
    choices.push([8, () => {
      const a = [];
      const n = rng.int(5);
      for (let i = 0; i < n; i++) a.push(randomJsonValue(rng, depth + 1));
      return a;
    }]);
    choices.push([10, () => randomJsonObject(rng, depth + 1)]);
  }
  return rng.weighted(choices)();
}

function randomJsonObject(rng, depth) {
  const o = {};
  const n = rng.int(7);
  for (let i = 0; i < n; i++) {
    const k = rng.chance(0.5) ? rng.pick(TWILIO_KEYS.concat(['event', 'data', 'id', 'timestamp'])) : randomText(rng, 10, [60, 10, 12, 6, 8, 4, 0]);
    if (FORBIDDEN_KEYS.has(k)) continue;
    o[k] = randomJsonValue(rng, depth);
  }
  return o;
}

function randomJsonBody(rng) {
  return rng.weighted([
    [4, () => '{}'],
    [1, () => ''],
    [70, () => {
      const v = randomJsonObject(rng, 0);
      const indent = rng.pick([undefined, undefined, 2, '\t', 1]);
      let s = JSON.stringify(v, null, indent);
      if (rng.chance(0.2)) s = s.replace(/[\u0080-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
      if (rng.chance(0.1)) s += '\n';
      return s;
    }],
    [10, () => JSON.stringify([{ event: 'com.twilio.messaging.inbound-message.received', data: { body: randomText(rng, 40), from: '+1' + rng.range(2000000000, 9999999999) } }])],
    [5, () => JSON.stringify(randomText(rng, 50))],
  ])();
}

function sha256hex(s) { return crypto.createHash('sha256').update(Buffer.from(s, 'utf8')).digest('hex'); }

function genJson(rng, opts) {
  const token = rng.hex(16);
  const body = randomJsonBody(rng);
  const base = randomUrlParts(rng);
  const q = base.query.filter((p) => p[0] !== 'bodySHA256');
  const pos = rng.int(q.length + 1);
  const withHash = (hash) => {
    const qq = q.slice();
    qq.splice(pos, 0, ['bodySHA256', hash]);
    return Object.assign({}, base, { query: qq });
  };
  const hash = sha256hex(body);
  const wantValid = rng.chance(0.5);
  let scenario = wantValid
    ? rng.weighted([[55, 'same'], [30, 'port'], [15, 'hash-first-or-last']])
    : rng.weighted([[18, 'body-changed'], [16, 'hash-of-other-body'], [14, 'wrong-token'], [14, 'bad-signature'],
      [10, 'port'], [8, 'hash-missing'], [8, 'query-changed'], [6, 'signed-without-hash'], [6, 'hash-truncated']]);
  if (opts.edge && rng.chance(0.1)) scenario = rng.pick(['edge-hash-uppercase', 'edge-dup-hash-first-good', 'edge-dup-hash-second-good']);

  let label = 'json:' + (wantValid ? 'valid:' : 'invalid:') + scenario;
  let signToken = token;
  let signParts = withHash(hash);
  let validateParts = signParts;
  let sendBody = body;

  if (scenario === 'hash-first-or-last') {
    const qq = q.slice();
    if (rng.chance(0.5)) qq.unshift(['bodySHA256', hash]); else qq.push(['bodySHA256', hash]);
    signParts = validateParts = Object.assign({}, base, { query: qq });
  } else if (scenario === 'port') {
    const [plabel, sp, vp] = portScenario(rng, base.scheme, wantValid);
    signParts = withPort(withHash(hash), sp);
    validateParts = withPort(withHash(hash), vp);
    label = 'json:' + (wantValid ? 'valid:' : 'invalid:') + plabel;
  } else if (scenario === 'body-changed') {
    sendBody = rng.weighted([[2, () => body + ' '], [2, () => (body.length ? dropLast(body) : 'x')], [1, () => body.replace(/"/, "'")], [1, () => body.toUpperCase()]])();
    if (sendBody === body) sendBody = body + '1';
  } else if (scenario === 'hash-of-other-body') {
    signParts = validateParts = withHash(sha256hex(body + rng.pick([' ', '\n', 'x'])));
  } else if (scenario === 'wrong-token') {
    signToken = wrongToken(rng, token);
  } else if (scenario === 'hash-missing') {
    signParts = validateParts = Object.assign({}, base, { query: q });
  } else if (scenario === 'query-changed') {
    signParts = changeQuery(rng, withHash(hash));
  } else if (scenario === 'signed-without-hash') {
    signParts = Object.assign({}, base, { query: q });
  } else if (scenario === 'hash-truncated') {
    signParts = validateParts = withHash(hash.slice(0, 63));
  } else if (scenario === 'edge-hash-uppercase') {
    signParts = validateParts = withHash(hash.toUpperCase());
  } else if (scenario === 'edge-dup-hash-first-good') {
    signParts = validateParts = Object.assign({}, base, { query: q.concat([['bodySHA256', hash], ['bodySHA256', sha256hex(body + 'x')]]) });
  } else if (scenario === 'edge-dup-hash-second-good') {
    signParts = validateParts = Object.assign({}, base, { query: q.concat([['bodySHA256', sha256hex(body + 'x')], ['bodySHA256', hash]]) });
  }
  if (scenario.startsWith('edge-')) label = 'json:' + scenario;

  const signUrl = buildUrl(signParts);
  const validateUrl = buildUrl(validateParts);
  let signature = sign(signToken, signUrl, {});
  if (scenario === 'bad-signature') {
    const [l, s] = badSignature(rng, signature);
    signature = s;
    label = 'json:invalid:' + l;
  }
  const expected = twilio.validateRequestWithBody(token, signature, validateUrl, sendBody);
  if (expected && !receivedVariants(validateUrl).includes(signUrl)) return null; // fallback-dependent: retry
  return {
    kind: 'json', label, token, url: validateUrl, payload: sendBody, contentType: jsonContentType(rng, opts),
    signature, expected: expected ? 'true' : 'false',
  };
}

// ---------------------------------------------------------------- driver
function generate(options) {
  const opts = Object.assign({ count: 600, seed: 42, edge: true, utf16: true, ctParams: false, invalidUtf8: true }, options || {});
  const rng = makeRng(typeof opts.seed === 'number' ? opts.seed : seedFromArg(String(opts.seed)));
  const vectors = [];
  // The first vector is always Twilio's published example.
  if (opts.count > 0) {
    const params = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675309', Digits: '1234', From: '+14158675309', To: '+18005551212' };
    const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
    const sig = sign('12345', url, params);
    if (sig !== 'RSOYDt4T1cUTdK1PDd93/VVr8B8=') throw new Error('official library does not reproduce the published vector: ' + sig);
    vectors.push({ kind: 'compute', label: 'compute:published-example', token: '12345', url, payload: JSON.stringify(params), contentType: '', signature: sig, expected: sig });
    if (opts.count > 1) {
      const body = new URLSearchParams(params).toString();
      const ok = twilio.validateRequest('12345', sig, url, paramsFromBody(body));
      vectors.push({ kind: 'form', label: 'form:valid:published-example', token: '12345', url, payload: body, contentType: FORM_CT, signature: sig, expected: ok ? 'true' : 'false' });
    }
  }
  while (vectors.length < opts.count) {
    const kind = rng.weighted([[30, 'compute'], [45, 'form'], [25, 'json']]);
    const v = kind === 'compute' ? genCompute(rng, opts) : kind === 'form' ? genForm(rng, opts) : genJson(rng, opts);
    if (v) vectors.push(v);
  }
  return vectors;
}

function b64(s) { return Buffer.from(s, 'utf8').toString('base64'); }

function toTsvLine(v, withLabel) {
  const fields = [v.kind, v.token, v.url, v.payload, v.contentType, v.signature, v.expected];
  if (withLabel) fields.push(v.label);
  for (const f of fields) {
    if (typeof f !== 'string') throw new Error('non-string field in vector ' + JSON.stringify(v));
    if (f.includes('\u0000')) throw new Error('NUL in vector field');
    if (!f.isWellFormed()) throw new Error('lone surrogate in vector field ' + JSON.stringify(v));
  }
  return fields.map(b64).join('\t');
}

function stats(vectors) {
  const byKind = {};
  const byLabel = {};
  for (const v of vectors) {
    const k = (byKind[v.kind] = byKind[v.kind] || { total: 0, true: 0, false: 0 });
    k.total++;
    if (v.kind !== 'compute') k[v.expected]++;
    const l = (byLabel[v.label] = byLabel[v.label] || { true: 0, false: 0, n: 0 });
    l.n++;
    if (v.kind !== 'compute') l[v.expected]++;
  }
  return { byKind, byLabel };
}

function parseArgs(argv) {
  const o = { count: 600, seed: 42, edge: true, utf16: true, ctParams: false, invalidUtf8: true, labels: false, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(a + ' needs a value');
      return argv[++i];
    };
    if (a === '--count') o.count = parseInt(val(), 10);
    else if (a.startsWith('--count=')) o.count = parseInt(a.slice(8), 10);
    else if (a === '--seed') o.seed = seedFromArg(val());
    else if (a.startsWith('--seed=')) o.seed = seedFromArg(a.slice(7));
    else if (a === '--core-only') o.edge = false;
    else if (a === '--no-utf16-order') o.utf16 = false;
    // byo_twilio signs undecodable bytes as they are; the Node helper turns them into U+FFFD first, which
    // would let two different bodies share one signature. Twilio never sends such bodies.
    else if (a === '--no-invalid-utf8') o.invalidUtf8 = false;
    else if (a === '--ct-params') o.ctParams = true;
    else if (a === '--labels') o.labels = true;
    else if (a === '--verbose' || a === '-v') o.verbose = true;
    else if (/^\d+$/.test(a)) o.seed = seedFromArg(a); // bare seed
    else throw new Error('unknown argument: ' + a);
  }
  if (!Number.isInteger(o.count) || o.count < 0) throw new Error('bad --count');
  return o;
}

function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write('make_vectors: ' + e.message + '\n');
    process.exit(2);
  }
  const vectors = generate(o);
  const out = vectors.map((v) => toTsvLine(v, o.labels)).join('\n') + (vectors.length ? '\n' : '');
  process.stdout.write(out);

  const { byKind, byLabel } = stats(vectors);
  let t = 0;
  let f = 0;
  for (const k of ['form', 'json']) {
    if (byKind[k]) { t += byKind[k].true; f += byKind[k].false; }
  }
  const parts = Object.keys(byKind).sort().map((k) => {
    const s = byKind[k];
    return k === 'compute' ? `compute=${s.total}` : `${k}=${s.total} (true ${s.true}, false ${s.false})`;
  });
  process.stderr.write(`make_vectors: seed=${o.seed} count=${vectors.length}: ${parts.join(', ')}\n`);
  if (o.verbose) {
    for (const l of Object.keys(byLabel).sort()) {
      const s = byLabel[l];
      process.stderr.write(`  ${l}: ${s.n}${l.startsWith('compute') ? '' : ` (true ${s.true}, false ${s.false})`}\n`);
    }
  }
  const n = t + f;
  if (n >= 20 && (t / n < 0.3 || f / n < 0.3)) {
    process.stderr.write(`make_vectors: unhealthy mix for form+json: ${t} true, ${f} false\n`);
    process.exit(1);
  }
}

module.exports = { generate, makeRng, toTsvLine, paramsFromBody, stats };

if (require.main === module) main();
