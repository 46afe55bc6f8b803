// The byo_twilio elements' adapter for the relay's HTTP API (/api/twilio/...).
//
//   import { createRelayApi } from './adapters/relay.js';
//   const api = createRelayApi({ baseUrl: 'https://relay.example.com', getToken: () => session.access_token,
//                                userId: () => session.user.id });
//
// getToken: returns (or resolves to) the user's Supabase JWT, sent as `Authorization: Bearer`. userId: the
// user's id (a string, or a function returning one), used only as the owner when sealing the auth token; it
// must be the JWT's `sub`. Errors are thrown as ByoTwilioError {status, code, message, detail, hint, check}.
import { ByoTwilioError } from '../internal/base.js';

export { ByoTwilioError };

export function createRelayApi({ baseUrl = '', getToken, userId, fetch: fetchImpl = globalThis.fetch.bind(globalThis) } = {}) {
  if (typeof getToken !== 'function') throw new TypeError('createRelayApi: getToken must be a function');
  const root = `${String(baseUrl).replace(/\/+$/, '')}/api/twilio`;

  async function call(method, path, { body, query, headers: extra } = {}) {
    const url = new URL(`${root}${path}`, globalThis.location?.href);
    for (const [k, v] of Object.entries(query || {})) if (v !== null && v !== undefined && v !== '') url.searchParams.set(k, v);
    const headers = { Accept: 'application/json', Authorization: `Bearer ${await getToken()}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    Object.assign(headers, extra);
    let res;
    try {
      res = await fetchImpl(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      throw new ByoTwilioError({ status: 0, message: `The server cannot be reached (${err.message})` });
    }
    let data = null;
    const text = await res.text();
    if (text) {
      try { data = JSON.parse(text); } catch { data = null; }
    }
    if (!res.ok) {
      const e = data && typeof data.error === 'object' && data.error ? data.error : {};
      throw new ByoTwilioError({
        status: res.status,
        code: e.code ?? null,
        message: e.message || `HTTP ${res.status}${res.status === 503 ? ': the database is unavailable' : ''}`,
        detail: e.detail ?? null,
        hint: e.hint ?? null,
        check: e.check ?? null,
      });
    }
    return data;
  }

  const list = (data, key) => (Array.isArray(data) ? data : (data && data[key]) || []);

  return {
    kind: 'relay',
    async getUserId() { return typeof userId === 'function' ? userId() : userId; },
    getSealingKey: () => call('GET', '/sealing-key'),
    getSettings: async () => (await call('GET', '/settings')).settings ?? null,
    saveSettings: async (settings) => (await call('POST', '/settings', { body: settings })).settings,
    disconnect: async () => Boolean((await call('DELETE', '/settings')).disconnected),
    getStatus: () => call('GET', '/status'),
    verifyStatus: () => call('POST', '/status/verify'),
    listConversations: async () => list(await call('GET', '/conversations'), 'conversations'),
    createConversation: async ({ lead_id, phone }) => (await call('POST', '/conversations', { body: { lead_id, phone } })).id,
    listConversationMessages: async (id) => list(await call('GET', `/conversations/${encodeURIComponent(id)}/messages`), 'messages'),
    sendConversationMessage: async (id, body) => (await call('POST', `/conversations/${encodeURIComponent(id)}/messages`, { body: { body } })).id,
    listMessages: async () => list(await call('GET', '/messages'), 'messages'),
    sendSms: async ({ to, body }) => (await call('POST', '/sms', { body: { to, body } })).id,
    listCampaigns: async () => list(await call('GET', '/campaigns'), 'campaigns'),
    analytics: async ({ from, to, campaign = null }) => list(await call('GET', '/analytics', { query: { from, to, campaign } }), 'rows'),

    // The dialer. Actions are twilio.manual_actions rows, calls twilio.voice_calls rows.
    listActions: async ({ status = null, limit = null } = {}) => list(await call('GET', '/actions', { query: { status, limit } }), 'actions'),
    createAction: async (action) => (await call('POST', '/actions', { body: action })).action,
    createActions: async (actions) => list(await call('POST', '/actions', { body: { actions } }), 'actions'),
    currentAction: async () => (await call('GET', '/actions/current')).action ?? null,
    nextAction: async () => (await call('POST', '/actions/next')).action ?? null,
    completeAction: async (id, { outcome, notes = null }) => (await call('POST', `/actions/${encodeURIComponent(id)}/complete`, { body: { outcome, notes } })).next ?? null,
    skipAction: async (id, { notes = null } = {}) => (await call('POST', `/actions/${encodeURIComponent(id)}/skip`, { body: { notes } })).next ?? null,
    releaseAction: async (id) => (await call('POST', `/actions/${encodeURIComponent(id)}/release`)).action,
    dial: async (args) => (await call('POST', '/calls', { body: dialBody(args) })).call,
    // Runs dial()'s checks and writes nothing (Prefer: tx=rollback): resolves when a call would be placed, throws
    // the reason it would not (no Twilio, no agent phone, do-not-call, calling hours, a call already live).
    checkDial: async (args) => { await call('POST', '/calls', { body: dialBody(args), headers: { Prefer: 'tx=rollback' } }); return true; },
    getCall: (id) => call('GET', `/calls/${encodeURIComponent(id)}`),
    getDialerSettings: async () => (await call('GET', '/dialer/settings')).settings,
    saveDialerSettings: async (settings) => (await call('PUT', '/dialer/settings', { body: settings })).settings,
    listDoNotCall: async ({ phone = null, limit = null } = {}) => list(await call('GET', '/do-not-call', { query: { phone, limit } }), 'do_not_call'),
    addDoNotCall: async ({ phone, reason = null }) => (await call('POST', '/do-not-call', { body: { phone, reason } })).entry,
    removeDoNotCall: async (phone) => Boolean((await call('DELETE', '/do-not-call', { query: { phone } })).removed),
  };
}

function dialBody({ action_id = null, lead_phone = null, agent_phone = null, time_zone = null } = {}) {
  return { action_id, lead_phone, agent_phone, time_zone };
}

export default createRelayApi;
