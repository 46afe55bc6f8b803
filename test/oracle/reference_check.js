#!/usr/bin/env node
'use strict';
// Pure-node reference of OUR signature semantics (no Twilio library code),
// run over oracle vectors to confirm every `expected` is reproducible by them.
// Any disagreement means the official library behaves differently from what
// byo_twilio is specified to do, i.e. a semantic we must implement (or a
// generator bug).
//
// Semantics implemented here (the byo_twilio spec):
//   signature = base64(HMAC-SHA1(token, utf8(url + concat(key + value ...))))
//     keys sorted bytewise (UTF-8); a key with several values contributes
//     key+value for each DISTINCT value, values sorted bytewise.
//   form bodies: split on '&', empty segments skipped, name/value split at the
//     first '=', '+' -> space, %XX -> byte (a '%' not followed by two hex
//     digits stays literal), then UTF-8 decode with U+FFFD replacement
//     (WHATWG application/x-www-form-urlencoded parsing).
//   URL variants accepted (as received, no normalization): the URL with its
//     port removed; the URL with the scheme's default port (:443 https, :80
//     otherwise) added when it has none (a URL with a port is tried as is).
//   application/json: the first bodySHA256 query parameter (form-decoded) must
//     equal lowercase hex sha256(utf8(body)) exactly, and the signature is over
//     the URL with no params.
//
// Usage:
//   node test/oracle/reference_check.js vectors.tsv       check a TSV file
//   node test/oracle/reference_check.js [--count N] [--seed S | --seeds A-B]
//        [generator flags]                                 generate in-process
//                                                          (classes labelled)
//   --order utf16   sort with JS's UTF-16 code unit order instead of bytes
//                   (to show which semantic the official library uses)
//   --examples N    print up to N example disagreements per class (default 2)
// Exit status: 0 when every vector agrees, 1 otherwise, 2 on bad input.

const fs = require('fs');
const crypto = require('crypto');

// ---------------------------------------------------------------- ordering
function cmpBytes(a, b) { return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')); }
function cmpUtf16(a, b) { return a < b ? -1 : a > b ? 1 : 0; }

// ---------------------------------------------------------------- signature
function signatureData(url, params, cmp) {
  let data = url;
  for (const key of Object.keys(params).sort(cmp)) {
    const v = params[key];
    if (Array.isArray(v)) {
      const distinct = [];
      for (const x of v) if (!distinct.includes(x)) distinct.push(x);
      for (const x of distinct.sort(cmp)) data += key + x;
    } else {
      data += key + v;
    }
  }
  return data;
}

function refSignature(token, url, params, cmp) {
  return crypto.createHmac('sha1', Buffer.from(token, 'utf8'))
    .update(Buffer.from(signatureData(url, params, cmp), 'utf8'))
    .digest('base64');
}

// ---------------------------------------------------------------- UTF-8 decode
// WHATWG-style decoder: each maximal invalid subpart becomes one U+FFFD.
function utf8DecodeReplace(bytes) {
  let out = '';
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i];
    if (b < 0x80) { out += String.fromCharCode(b); i++; continue; }
    let need;
    let lower = 0x80;
    let upper = 0xbf;
    let cp;
    if (b >= 0xc2 && b <= 0xdf) { need = 1; cp = b & 0x1f; }
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2; cp = b & 0x0f;
      if (b === 0xe0) lower = 0xa0;
      if (b === 0xed) upper = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3; cp = b & 0x07;
      if (b === 0xf0) lower = 0x90;
      if (b === 0xf4) upper = 0x8f;
    } else { out += '\uFFFD'; i++; continue; }
    let j = i + 1;
    let ok = true;
    for (let k = 0; k < need; k++, j++) {
      const c = bytes[j];
      const lo = k === 0 ? lower : 0x80;
      const hi = k === 0 ? upper : 0xbf;
      if (j >= n || c < lo || c > hi) { ok = false; break; }
      cp = (cp << 6) | (c & 0x3f);
    }
    if (!ok) { out += '\uFFFD'; i = j; continue; } // consumed bytes so far form the invalid subpart
    out += String.fromCodePoint(cp);
    i = j;
  }
  return out;
}

function isHex(c) { return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66); }

function formDecode(bytes) {
  const out = [];
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === 0x2b) out.push(0x20);
    else if (c === 0x25 && i + 2 < bytes.length + 0 && isHex(bytes[i + 1]) && isHex(bytes[i + 2])) {
      out.push(parseInt(String.fromCharCode(bytes[i + 1], bytes[i + 2]), 16));
      i += 2;
    } else out.push(c);
  }
  return utf8DecodeReplace(out);
}

// Returns [[name, value], ...] in body order.
function parseForm(text) {
  const bytes = Buffer.from(text, 'utf8');
  const pairs = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x26) {
      const seg = bytes.subarray(start, i);
      start = i + 1;
      if (seg.length === 0) continue;
      const eq = seg.indexOf(0x3d);
      const name = eq === -1 ? seg : seg.subarray(0, eq);
      const value = eq === -1 ? Buffer.alloc(0) : seg.subarray(eq + 1);
      pairs.push([formDecode(name), formDecode(value)]);
    }
  }
  return pairs;
}

function pairsToParams(pairs) {
  const params = Object.create(null);
  for (const [k, v] of pairs) {
    if (!(k in params)) params[k] = [];
    params[k].push(v);
  }
  return params;
}

// ---------------------------------------------------------------- URL variants
function urlVariants(url) {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s.exec(url);
  if (!m) return [url];
  const [, scheme, authority, rest] = m;
  const at = authority.lastIndexOf('@');
  const userinfo = authority.slice(0, at + 1);
  const hostport = authority.slice(at + 1);
  const colon = hostport.indexOf(':', hostport.lastIndexOf(']') + 1);
  const host = colon === -1 ? hostport : hostport.slice(0, colon);
  const withoutPort = scheme + '://' + userinfo + host + rest;
  const def = scheme.toLowerCase() === 'https' ? '443' : '80';
  const withPort = colon === -1 ? scheme + '://' + userinfo + host + ':' + def + rest : url;
  return [withoutPort, withPort];
}

function firstQueryParam(url, name) {
  const q = url.indexOf('?');
  if (q === -1) return null;
  let query = url.slice(q + 1);
  const hash = query.indexOf('#');
  if (hash !== -1) query = query.slice(0, hash);
  for (const [k, v] of parseForm(query)) if (k === name) return v;
  return null;
}

function sha256hex(s) { return crypto.createHash('sha256').update(Buffer.from(s, 'utf8')).digest('hex'); }

function mediaType(ct) { return ct.split(';')[0].trim().toLowerCase(); }

function refValidate(token, signature, url, body, contentType, cmp) {
  let params;
  if (mediaType(contentType) === 'application/json') {
    const h = firstQueryParam(url, 'bodySHA256');
    if (h === null || h !== sha256hex(body)) return false;
    params = {};
  } else {
    params = pairsToParams(parseForm(body));
  }
  return urlVariants(url).some((u) => refSignature(token, u, params, cmp) === signature);
}

// ---------------------------------------------------------------- driver
function decodeTsv(text) {
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const b64re = /^[A-Za-z0-9+/]*={0,2}$/;
  return lines.map((line, i) => {
    const f = line.split('\t');
    if (f.length !== 7 && f.length !== 8) throw new Error(`line ${i + 1}: ${f.length} fields`);
    for (const x of f) if (!b64re.test(x) || x.length % 4 !== 0) throw new Error(`line ${i + 1}: bad base64`);
    const d = f.map((x) => Buffer.from(x, 'base64').toString('utf8'));
    const v = { line: i + 1, kind: d[0], token: d[1], url: d[2], payload: d[3], contentType: d[4], signature: d[5], expected: d[6], label: d[7] || d[0] };
    if (!['compute', 'form', 'json'].includes(v.kind)) throw new Error(`line ${i + 1}: kind ${v.kind}`);
    if (v.kind !== 'compute' && !['true', 'false'].includes(v.expected)) throw new Error(`line ${i + 1}: expected ${v.expected}`);
    return v;
  });
}

function check(vectors, cmp) {
  const classes = new Map();
  let agree = 0;
  let disagree = 0;
  for (const v of vectors) {
    let got;
    if (v.kind === 'compute') got = refSignature(v.token, v.url, JSON.parse(v.payload), cmp);
    else got = refValidate(v.token, v.signature, v.url, v.payload, v.contentType || '', cmp) ? 'true' : 'false';
    const c = classes.get(v.label) || { n: 0, bad: 0, examples: [] };
    c.n++;
    if (got === v.expected) agree++;
    else {
      disagree++;
      c.bad++;
      c.examples.push({ v, got });
    }
    classes.set(v.label, c);
  }
  return { agree, disagree, classes };
}

function parseArgs(argv) {
  const o = { file: null, order: 'bytes', examples: 2, gen: { count: 600, edge: true, utf16: true, ctParams: false }, seeds: [42] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => argv[++i];
    if (a === '--order') o.order = val();
    else if (a === '--examples') o.examples = parseInt(val(), 10);
    else if (a === '--count') o.gen.count = parseInt(val(), 10);
    else if (a === '--seed') o.seeds = [val()];
    else if (a === '--seeds') {
      const [lo, hi] = val().split('-').map(Number);
      o.seeds = [];
      for (let s = lo; s <= hi; s++) o.seeds.push(s);
    } else if (a === '--core-only') o.gen.edge = false;
    else if (a === '--no-utf16-order') o.gen.utf16 = false;
    else if (a === '--ct-params') o.gen.ctParams = true;
    else if (a.startsWith('--')) throw new Error('unknown option ' + a);
    else o.file = a;
  }
  if (!['bytes', 'utf16'].includes(o.order)) throw new Error('--order must be bytes or utf16');
  return o;
}

function selfTest(cmp) {
  const params = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675309', Digits: '1234', From: '+14158675309', To: '+18005551212' };
  const sig = refSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', params, cmp);
  if (sig !== 'RSOYDt4T1cUTdK1PDd93/VVr8B8=') throw new Error('reference fails the published Twilio vector: ' + sig);
  const p = parseForm('a=1&&b=%zz+x&c&a=%C3%A9&d=%FF%C3');
  const want = [['a', '1'], ['b', '%zz x'], ['c', ''], ['a', 'é'], ['d', '\uFFFD\uFFFD']];
  if (JSON.stringify(p) !== JSON.stringify(want)) throw new Error('form parser self-test failed: ' + JSON.stringify(p));
  // own parser agrees with URLSearchParams on some nasty inputs
  for (const s of ['%', '%%41', '%E2%82', '%ED%A0%80', '%F0%9F%98', '%C0%AF', '=x=y&==', '%F4%90%80%80', 'a+b%2Bc']) {
    const mine = JSON.stringify(parseForm(s));
    const theirs = JSON.stringify(Array.from(new URLSearchParams(s)));
    if (mine !== theirs) throw new Error(`form parser differs from URLSearchParams on ${s}: ${mine} vs ${theirs}`);
  }
}

function main() {
  let o;
  try { o = parseArgs(process.argv.slice(2)); } catch (e) {
    process.stderr.write('reference_check: ' + e.message + '\n');
    process.exit(2);
  }
  const cmp = o.order === 'utf16' ? cmpUtf16 : cmpBytes;
  selfTest(cmp);

  let vectors;
  let source;
  if (o.file) {
    try { vectors = decodeTsv(fs.readFileSync(o.file, 'utf8')); } catch (e) {
      process.stderr.write('reference_check: ' + e.message + '\n');
      process.exit(2);
    }
    source = o.file;
  } else {
    const { generate } = require('./make_vectors.js');
    vectors = [];
    for (const seed of o.seeds) {
      for (const v of generate(Object.assign({}, o.gen, { seed: typeof seed === 'number' ? seed : Number(seed) }))) vectors.push(v);
    }
    source = `generated seeds ${o.seeds[0]}${o.seeds.length > 1 ? '..' + o.seeds[o.seeds.length - 1] : ''} x ${o.gen.count}`;
  }

  const { agree, disagree, classes } = check(vectors, cmp);
  console.log(`reference (${o.order} order) vs official over ${source}: ${vectors.length} vectors, ${agree} agree, ${disagree} disagree`);
  // aggregate disagreements by class tag, ignoring incidental tags
  const byTag = new Map();
  for (const [label, c] of classes) {
    if (!c.bad) continue;
    console.log(`  DISAGREE ${label}: ${c.bad} of ${c.n}`);
    for (const { v, got } of c.examples.slice(0, o.examples)) {
      const body = v.payload.length > 160 ? v.payload.slice(0, 160) + '...' : v.payload;
      console.log(`    ${v.line ? 'line ' + v.line + ' ' : ''}url=${JSON.stringify(v.url)} payload=${JSON.stringify(body)} expected=${v.expected} reference=${got}`);
    }
    for (const tag of label.split(':')) byTag.set(tag, (byTag.get(tag) || 0) + c.bad);
  }
  if (disagree) {
    const tags = Array.from(byTag).filter(([t, n]) => n === disagree).map(([t]) => t);
    if (tags.length) console.log(`  every disagreeing vector carries tag(s): ${tags.join(', ')}`);
  }
  process.exit(disagree ? 1 : 0);
}

module.exports = { refSignature, refValidate, parseForm, urlVariants, cmpBytes, cmpUtf16, decodeTsv };

if (require.main === module) main();
