// Voice routes of the Twilio stand-in: the 2010 Calls resource, as byo_twilio's click-to-call uses it (create
// with inline Twiml, list filtered by To/From to reconcile a create whose answer was lost, fetch one). Calls are
// only recorded, never rung: no status callback is ever made. Loaded by twilio_standin.js.
'use strict';
const { newSid, rfcNow, paging, pageOf } = require('./outbound_routes');

const CALLS_RE = /^\/2010-04-01\/Accounts\/(AC[0-9a-fA-F]{32})\/Calls(?:\/(CA[0-9a-fA-F]{32}))?\.json$/;
const EVENTS = ['initiated', 'ringing', 'answered', 'completed'];

module.exports = function makeCalls({ send, twilioError, notFound }) {
  // AC -> { all: [json], bySid: Map CA->json }
  const stores = new Map();
  const store = (ac) => {
    let s = stores.get(ac);
    if (!s) stores.set(ac, (s = { all: [], bySid: new Map() }));
    return s;
  };
  const badRequest = (res, code, message) => twilioError(res, 400, code, message);
  // The numbers an account may call from: its own and its Messaging services' numbers.
  const ownNumbers = (acct) => [].concat(acct.numbers || [], ...Object.values(acct.messaging_services || {}));

  function createCall(res, c, form) {
    const to = form.get('To'), from = form.get('From');
    if (!to) return badRequest(res, 21201, "No 'To' number is specified");
    if (!from) return badRequest(res, 21213, "No 'From' number is specified");
    if (!form.get('Url') && !form.get('Twiml') && !form.get('ApplicationSid')) {
      return badRequest(res, 21205, 'A Url, Twiml or ApplicationSid parameter is required.');
    }
    if (!ownNumbers(c.acct).includes(from)) {
      return badRequest(res, 21210,
        `The source phone number provided, ${from}, is not yet verified for your account.`);
    }
    const bad = form.getAll('StatusCallbackEvent').find((e) => !EVENTS.includes(e));
    if (bad !== undefined) return badRequest(res, 21626, `Invalid StatusCallbackEvent: ${bad}`);
    const sid = newSid('CA'), now = rfcNow();
    const uri = `/2010-04-01/Accounts/${c.acctSid}/Calls/${sid}.json`;
    const json = {
      sid, account_sid: c.acctSid, parent_call_sid: null, to, to_formatted: to, from, from_formatted: from,
      phone_number_sid: null, status: 'queued', start_time: null, end_time: null, duration: null, price: null,
      price_unit: 'USD', direction: 'outbound-api', answered_by: null, api_version: '2010-04-01',
      forwarded_from: null, group_sid: null, caller_name: null, queue_time: '0', trunk_sid: null,
      date_created: now, date_updated: now, uri,
      subresource_uris: {
        notifications: uri.replace(/\.json$/, '/Notifications.json'),
        recordings: uri.replace(/\.json$/, '/Recordings.json'),
      },
    };
    const s = store(c.acctSid);
    s.all.push(json);
    s.bySid.set(sid, json);
    return send(res, 201, json);
  }

  // Newest first; To, From, ParentCallSid and Status filter by exact match.
  function listCalls(res, c) {
    const q = c.query, filters = ['To', 'From', 'ParentCallSid', 'Status'];
    const field = { To: 'to', From: 'from', ParentCallSid: 'parent_call_sid', Status: 'status' };
    const s = stores.get(c.acctSid);
    const keep = (x) => filters.every((f) => q.get(f) === null || x[field[f]] === q.get(f));
    const { size, page, offset } = paging(q);
    const { items, more } = pageOf(s ? s.all : [], true, offset, size, keep);
    const shown = new URLSearchParams();
    for (const f of filters) if (q.get(f) !== null) shown.set(f, q.get(f));
    const base = `/2010-04-01/Accounts/${c.acctSid}/Calls.json?${shown.toString() ? shown + '&' : ''}`;
    const at = (p) => `${base}PageSize=${size}&Page=${p}`;
    send(res, 200, {
      calls: items, page, page_size: size, start: offset, end: Math.max(offset + items.length - 1, 0),
      uri: at(page), first_page_uri: at(0), previous_page_uri: page > 0 ? at(page - 1) : null,
      next_page_uri: more ? at(page + 1) : null,
    });
  }

  // Answers and returns true when the path is a Calls route (c as in outbound_routes.js).
  function route(req, res, c) {
    const m = CALLS_RE.exec(c.path);
    if (!m) return false;
    if (m[1] !== c.acctSid) notFound(res, c.path);
    else if (m[2]) {
      const s = stores.get(c.acctSid), json = s && s.bySid.get(m[2]);
      if (req.method === 'GET' && json) send(res, 200, json); else notFound(res, c.path);
    } else if (req.method === 'POST') createCall(res, c, new URLSearchParams(c.body));
    else if (req.method === 'GET') listCalls(res, c);
    else notFound(res, c.path);
    return true;
  }

  function reset() { stores.clear(); }

  return { route, reset };
};
