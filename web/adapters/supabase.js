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

  return {
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
  };
}

export default createSupabaseApi;
