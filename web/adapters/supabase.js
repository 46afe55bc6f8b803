// The byo_twilio elements' adapter for Supabase (PostgREST) through a supabase-js v2 client. The `twilio` schema
// must be in the project's exposed schemas. Same interface as adapters/relay.js.
//
//   import { createClient } from '@supabase/supabase-js';
//   import { createSupabaseApi } from '<path>/web/adapters/supabase.js';
//   const api = createSupabaseApi({ client: createClient(url, anonKey) });
//
// The user's id (the owner a token is sealed for) comes from client.auth.getUser() unless `userId` is given.
import { ByoTwilioError } from '../internal/base.js';

export { ByoTwilioError };

// PostgREST's error → ByoTwilioError. A failed Twilio check says `failed check: <name>` in its details.
function toError(error, status) {
  const check = /failed check: ([a-z_]+)/.exec(error.details || '')?.[1] ?? null;
  return new ByoTwilioError({
    status: status || (check ? 422 : 400),
    code: error.code ?? null,
    message: error.message || 'Request failed',
    detail: error.details ?? null,
    hint: error.hint ?? null,
    check,
  });
}

export function createSupabaseApi({ client, userId } = {}) {
  if (!client || typeof client.schema !== 'function') throw new TypeError('createSupabaseApi: client must be a supabase-js v2 client');
  const db = () => client.schema('twilio');
  const unwrap = ({ data, error, status }) => {
    if (error) throw toError(error, status >= 400 ? status : 0);
    return data;
  };
  const rpc = async (fn, args) => unwrap(await db().rpc(fn, args));
  const first = (rows) => (Array.isArray(rows) ? rows[0] ?? null : rows ?? null);

  const self = {
    kind: 'supabase',
    async getUserId() {
      if (userId) return typeof userId === 'function' ? userId() : userId;
      const { data, error } = await client.auth.getUser();
      if (error || !data?.user) throw new ByoTwilioError({ status: 401, message: 'Not signed in' });
      return data.user.id;
    },
    getSealingKey: () => rpc('token_sealing_key'),
    getSettings: async () => first(await rpc('get_settings')),
    saveSettings: async (s) => rpc('save_settings', {
      account_sid: s.account_sid, auth_token: s.auth_token, conversations_service_sid: s.conversations_service_sid ?? null,
      messaging_service_sid: s.messaging_service_sid ?? null, sms_number: s.sms_number ?? null,
    }),
    disconnect: async () => Boolean(await rpc('disconnect')),
    getStatus: async () => first(await rpc('status')),
    verifyStatus: async () => first(await rpc('verify_settings')),
    listConversations: async () => unwrap(await db().from('conversations').select('*').order('created_at', { ascending: false }).limit(100)),
    createConversation: ({ lead_id, phone }) => rpc('get_or_create_conversation_for_lead', { lead_id, phone }),
    listConversationMessages: async (id) => unwrap(await db().from('messages').select('*').eq('conversation_id', id).order('created_at', { ascending: true }).limit(200)),
    sendConversationMessage: (id, body) => rpc('send_conversation_message', { conversation_id: id, body }),
    listMessages: async () => unwrap(await db().from('messages').select('*').order('created_at', { ascending: false }).limit(100)),
    sendSms: ({ to, body }) => rpc('send_sms', { to_number: to, body }),
    listCampaigns: async () => unwrap(await db().from('campaigns').select('id, name, status, channel').neq('status', 'archived').order('name')),
    analytics: ({ from, to, campaign = null }) => rpc('analytics', { from_day: from, to_day: to, campaign }),

    // The dialer: twilio.manual_actions, voice_calls and do_not_call under RLS, and the queue functions.
    listActions: async ({ status = null, limit = null } = {}) => {
      let q = db().from('manual_actions').select('*');
      if (status) q = q.in('status', String(status).split(','));
      q = q.order('priority', { ascending: false }).order('due_at').order('id').limit(Math.min(Number(limit) || 50, 200));
      const rows = unwrap(await q);
      const rank = (a) => (a.status === 'in_progress' ? 0 : a.status === 'open' ? 1 : 2);
      return rows.sort((a, b) => rank(a) - rank(b));
    },
    createAction: async (a) => first(await rpc('create_action', {
      kind: a.kind, title: a.title, phone: a.phone ?? null, lead_id: a.lead_id ?? null, due_at: a.due_at ?? new Date().toISOString(),
      priority: a.priority ?? 0, notes: a.notes ?? null, time_zone: a.time_zone ?? null,
    })),
    createActions: (actions) => rpc('create_actions', { actions }),
    currentAction: async () => first(await rpc('current_action')),
    nextAction: async () => first(await rpc('next_action')),
    completeAction: async (id, { outcome, notes = null }) => first(await rpc('complete_action', { action_id: id, outcome, notes })),
    skipAction: async (id, { notes = null } = {}) => first(await rpc('skip_action', { action_id: id, notes })),
    releaseAction: async (id) => first(await rpc('release_action', { action_id: id })),
    dial: async ({ action_id = null, lead_phone = null, agent_phone = null, time_zone = null } = {}) =>
      first(await rpc('dial', { action_id, lead_phone, agent_phone, time_zone })),
    // PostgREST commits every call (db-tx-end), so there is no check without a call: the element then learns why
    // a call cannot be placed from dial()'s own error.
    checkDial: null,
    getCall: async (id) => {
      const call = first(unwrap(await db().from('voice_calls').select('*').eq('id', id).limit(1)));
      if (!call) throw new ByoTwilioError({ status: 404, code: 'http_not_found', message: 'no call with this id' });
      const legs = call.call_sid
        ? unwrap(await db().from('voice_calls').select('*').eq('parent_call_sid', call.call_sid).order('created_at'))
        : [];
      const action = call.action_id
        ? first(unwrap(await db().from('manual_actions').select('*').eq('id', call.action_id).limit(1)))
        : null;
      return { call, legs, action };
    },
    getDialerSettings: async () => first(await rpc('get_dialer_settings')),
    saveDialerSettings: async (s) => first(await rpc('save_dialer_settings', {
      agent_phone: s.agent_phone ?? null, calling_hours_start: s.calling_hours_start ?? null, calling_hours_end: s.calling_hours_end ?? null,
      default_time_zone: s.default_time_zone ?? null, auto_advance: s.auto_advance ?? null,
    })),
    listDoNotCall: async ({ phone = null, limit = null } = {}) => {
      let q = db().from('do_not_call').select('*');
      if (phone) q = q.eq('phone', phone);
      return unwrap(await q.order('created_at', { ascending: false }).limit(Math.min(Number(limit) || 100, 1000)));
    },
    addDoNotCall: async ({ phone, reason = null }) => {
      const userId = await self.getUserId();
      unwrap(await db().from('do_not_call').upsert({ user_id: userId, phone, source: 'manual', reason }, { onConflict: 'user_id,phone', ignoreDuplicates: true }));
      return first(unwrap(await db().from('do_not_call').select('*').eq('phone', phone).limit(1)));
    },
    removeDoNotCall: async (phone) => {
      const rows = unwrap(await db().from('do_not_call').delete().eq('phone', phone).select('phone'));
      return rows.length > 0;
    },
  };
  return self;
}

export default createSupabaseApi;
