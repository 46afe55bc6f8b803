// Outbound routes of the Twilio stand-in: service-scoped Conversations (conversations,
// participants, messages) and Programmable Messaging (2010 Messages.json). Everything the
// callers create lives in memory, in maps keyed by SID / unique name / binding, so each
// request costs O(1)-ish however much has been created. Loaded by twilio_standin.js.
'use strict';
const crypto = require('crypto');

const newSid = (prefix) => prefix + crypto.randomBytes(16).toString('hex');
// Twilio's two date styles: ISO 8601 in the v1 APIs, RFC 2822 in the 2010 API.
const isoNow = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const rfcNow = () => new Date().toUTCString().replace(/GMT$/, '+0000');

const CONV_RE = /^\/v1\/Services\/(IS[0-9a-fA-F]{32})\/Conversations(?:\/([^/]+)(?:\/(Participants|Messages))?)?$/;
const SMS_RE = /^\/2010-04-01\/Accounts\/(AC[0-9a-fA-F]{32})\/Messages(?:\/((?:SM|MM)[0-9a-fA-F]{32}))?\.json$/;

// PageSize/Page from a query, clamped the way Twilio documents them (default 50, max 100).
function paging(query) {
  const size = Math.min(Math.max(parseInt(query.get('PageSize'), 10) || 50, 1), 100);
  const page = Math.max(parseInt(query.get('Page'), 10) || 0, 0);
  return { size, page, offset: size * page };
}

// One page of an append-only array, newest first when desc; O(offset + page size).
function pageOf(list, desc, offset, size, keep) {
  const out = [];
  let skipped = 0, more = false;
  for (let k = 0; k < list.length; k++) {
    const item = list[desc ? list.length - 1 - k : k];
    if (keep && !keep(item)) continue;
    if (skipped < offset) { skipped++; continue; }
    if (out.length === size) { more = true; break; }
    out.push(item);
  }
  return { items: out, more };
}

function makeOutbound({ send, twilioError, notFound }) {
  // IS -> { bySid: Map CH->conv, byUnique: Map name->conv, bindings: Map 'address\0proxy'->CH }
  // conv = { json, participants: [], messages: [] }
  const services = new Map();
  // AC -> { all: [], bySid: Map SM->json, byTo: Map to->[json] }
  const smsStores = new Map();

  function serviceState(is) {
    let s = services.get(is);
    if (!s) services.set(is, (s = { bySid: new Map(), byUnique: new Map(), bindings: new Map() }));
    return s;
  }
  function smsState(ac) {
    let s = smsStores.get(ac);
    if (!s) smsStores.set(ac, (s = { all: [], bySid: new Map(), byTo: new Map() }));
    return s;
  }
  const badRequest = (res, code, message) => twilioError(res, 400, code, message);

  // ---- Conversations -------------------------------------------------------
  function createConversation(res, c, is, form) {
    const svc = serviceState(is);
    const unique = form.get('UniqueName');
    if (unique !== null && svc.byUnique.has(unique)) {
      return twilioError(res, 409, 50353, 'Conversation with provided unique name already exists');
    }
    const sid = newSid('CH'), now = isoNow();
    const url = `${c.baseUrl}/v1/Services/${is}/Conversations/${sid}`;
    const json = {
      sid, account_sid: c.acctSid, chat_service_sid: is,
      messaging_service_sid: form.get('MessagingServiceSid')
        || Object.keys(c.acct.messaging_services || {})[0] || null,
      friendly_name: form.get('FriendlyName'), unique_name: unique,
      attributes: form.get('Attributes') || '{}', state: 'active',
      date_created: now, date_updated: now, timers: {}, bindings: null, url,
      links: { participants: `${url}/Participants`, messages: `${url}/Messages` },
    };
    const conv = { json, participants: [], messages: [] };
    svc.bySid.set(sid, conv);
    if (unique !== null) svc.byUnique.set(unique, conv);
    return send(res, 201, json);
  }

  function createParticipant(res, is, conv, form) {
    const address = form.get('MessagingBinding.Address');
    const proxy = form.get('MessagingBinding.ProxyAddress');
    if (!address) return badRequest(res, 20001, 'Missing required parameter MessagingBinding.Address in the post body');
    const svc = serviceState(is), key = `${address}\0${proxy || ''}`;
    const bound = svc.bindings.get(key);
    if (bound) { // Twilio refuses a second binding even within the same conversation
      return twilioError(res, 409, 50416,
        `A binding for this participant and proxy address already exists in Conversation ${bound}`);
    }
    const sid = newSid('MB'), now = isoNow();
    const json = {
      account_sid: conv.json.account_sid, chat_service_sid: is, conversation_sid: conv.json.sid, sid,
      identity: form.get('Identity'), attributes: form.get('Attributes') || '{}',
      messaging_binding: {
        type: address.startsWith('whatsapp:') ? 'whatsapp' : 'sms', address, proxy_address: proxy,
      },
      role_sid: null, date_created: now, date_updated: now, url: `${conv.json.url}/Participants/${sid}`,
      last_read_message_index: null, last_read_timestamp: null,
    };
    svc.bindings.set(key, conv.json.sid);
    conv.participants.push(json);
    return send(res, 201, json);
  }

  function createConvMessage(res, is, conv, form) {
    const sid = newSid('IM'), now = isoNow(), url = `${conv.json.url}/Messages/${sid}`;
    const json = {
      sid, account_sid: conv.json.account_sid, chat_service_sid: is, conversation_sid: conv.json.sid,
      index: conv.messages.length, author: form.get('Author') || 'system', body: form.get('Body'),
      media: null, attributes: form.get('Attributes') || '{}', participant_sid: null,
      date_created: now, date_updated: now, delivery: null, content_sid: null, url,
      links: { delivery_receipts: `${url}/Receipts`, channel_metadata: `${url}/ChannelMetadata` },
    };
    conv.messages.push(json);
    return send(res, 201, json);
  }

  // v1 list shape: { <key>: [...], meta: {...} }
  function v1List(res, key, list, baseListUrl, query) {
    const { size, page, offset } = paging(query);
    const desc = query.get('Order') === 'desc';
    const { items, more } = pageOf(list, desc, offset, size);
    const order = desc ? 'Order=desc&' : '';
    const at = (p) => `${baseListUrl}?${order}PageSize=${size}&Page=${p}`;
    send(res, 200, {
      [key]: items,
      meta: {
        page, page_size: size, first_page_url: at(0), previous_page_url: page > 0 ? at(page - 1) : null,
        url: at(page), next_page_url: more ? at(page + 1) : null, key,
      },
    });
  }

  function conversations(req, res, c, m) {
    const [, is, id, sub] = m;
    if (!(c.acct.conversations_services || []).includes(is)) return notFound(res, c.path);
    const form = () => new URLSearchParams(c.body);
    if (!id) {
      return req.method === 'POST' ? createConversation(res, c, is, form()) : notFound(res, c.path);
    }
    let key;
    try { key = decodeURIComponent(id); } catch (e) { return notFound(res, c.path); }
    const svc = services.get(is);
    // Like Twilio, the conversation may be named by SID or by unique name.
    const conv = svc && (svc.bySid.get(key) || svc.byUnique.get(key));
    if (!conv) return notFound(res, c.path);
    const route = `${req.method} ${sub || ''}`;
    if (route === 'GET ') return send(res, 200, conv.json);
    if (route === 'POST Participants') return createParticipant(res, is, conv, form());
    if (route === 'GET Participants') {
      return v1List(res, 'participants', conv.participants, `${conv.json.url}/Participants`, c.query);
    }
    if (route === 'POST Messages') return createConvMessage(res, is, conv, form());
    if (route === 'GET Messages') return v1List(res, 'messages', conv.messages, `${conv.json.url}/Messages`, c.query);
    return notFound(res, c.path);
  }

  // ---- Programmable Messaging (2010) ----------------------------------------
  function createSms(res, c, form) {
    const to = form.get('To'), from = form.get('From'), mg = form.get('MessagingServiceSid');
    const body = form.get('Body'), media = form.getAll('MediaUrl');
    if (!to) return badRequest(res, 21604, "A 'To' phone number is required.");
    if (!from && !mg) return badRequest(res, 21603, "A 'From' phone number is required.");
    if (mg && !Object.prototype.hasOwnProperty.call(c.acct.messaging_services || {}, mg)) {
      return badRequest(res, 21705, `The Messaging Service Sid ${mg} is invalid.`);
    }
    if (!body && media.length === 0 && !form.get('ContentSid')) {
      return badRequest(res, 21602, 'Message body is required.');
    }
    if ((c.acct.opted_out || []).includes(to)) {
      return badRequest(res, 21610, 'Attempt to send to unsubscribed recipient');
    }
    const sid = newSid('SM'), now = rfcNow();
    const uri = `/2010-04-01/Accounts/${c.acctSid}/Messages/${sid}.json`;
    const json = {
      account_sid: c.acctSid, api_version: '2010-04-01', body, date_created: now, date_sent: null,
      date_updated: now, direction: 'outbound-api', error_code: null, error_message: null,
      from: from || null, messaging_service_sid: mg || null, num_media: String(media.length),
      num_segments: '1', price: null, price_unit: null, sid, status: mg ? 'accepted' : 'queued',
      subresource_uris: { media: uri.replace(/\.json$/, '/Media.json') }, to, uri,
    };
    const store = smsState(c.acctSid);
    store.all.push(json);
    store.bySid.set(sid, json);
    let forTo = store.byTo.get(to);
    if (!forTo) store.byTo.set(to, (forTo = []));
    forTo.push(json);
    return send(res, 201, json);
  }

  function listSms(res, c) {
    const q = c.query, to = q.get('To'), from = q.get('From');
    const store = smsStores.get(c.acctSid);
    const list = !store ? [] : to !== null ? store.byTo.get(to) || [] : store.all;
    const { size, page, offset } = paging(q);
    const { items, more } = pageOf(list, true, offset, size, from === null ? null : (x) => x.from === from);
    const filters = new URLSearchParams();
    if (to !== null) filters.set('To', to);
    if (from !== null) filters.set('From', from);
    const base = `/2010-04-01/Accounts/${c.acctSid}/Messages.json?${filters.toString() ? filters + '&' : ''}`;
    const at = (p) => `${base}PageSize=${size}&Page=${p}`;
    send(res, 200, {
      messages: items, page, page_size: size, start: offset, end: Math.max(offset + items.length - 1, 0),
      uri: at(page), first_page_uri: at(0), previous_page_uri: page > 0 ? at(page - 1) : null,
      next_page_uri: more ? at(page + 1) : null,
    });
  }

  function sms(req, res, c, m) {
    if (m[1] !== c.acctSid) return notFound(res, c.path);
    if (m[2]) {
      const store = smsStores.get(c.acctSid), json = store && store.bySid.get(m[2]);
      return req.method === 'GET' && json ? send(res, 200, json) : notFound(res, c.path);
    }
    if (req.method === 'POST') return createSms(res, c, new URLSearchParams(c.body));
    if (req.method === 'GET') return listSms(res, c);
    return notFound(res, c.path);
  }

  // Answers and returns true when the path is one of ours (the caller has already
  // authenticated c.acctSid); returns false to let the caller try its own routes.
  // c: { path, query (URLSearchParams), body (string), acctSid, acct, baseUrl }
  function route(req, res, c) {
    let m;
    if ((m = CONV_RE.exec(c.path))) { conversations(req, res, c, m); return true; }
    if ((m = SMS_RE.exec(c.path))) { sms(req, res, c, m); return true; }
    return false;
  }

  function reset() { services.clear(); smsStores.clear(); }

  return { route, reset };
}

module.exports = makeOutbound;
// Shared with call_routes.js.
Object.assign(module.exports, { newSid, rfcNow, paging, pageOf });
