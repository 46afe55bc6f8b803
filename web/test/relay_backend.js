// The real backend: byo-twilio-relay's HTTP API (run.sh starts the relay against a throwaway cluster and the
// Twilio stand-ins). Users are rows in auth.users; their JWTs are signed with npm `jose` (HS256) with the secret
// the relay was given. Test setup that no API route offers (a user, disabled settings, drip results) is plain
// SQL through psql as the cluster's superuser; nothing is ever sealed by hand: the settings element does it.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { SignJWT } from 'jose';

// Twilio's own helper library signs the status callbacks, as Twilio would (test/node_modules, as test/lib/post_webhook.js).
const twilio = createRequire(new URL('../../test/package.json', import.meta.url))('twilio');

const secret = new TextEncoder().encode(process.env.WEB_JWT_SECRET || '');
const psql = (sql) => execFileSync('psql', ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-d', process.env.WEB_PGDATABASE || 'postgres', '-c', sql],
  { encoding: 'utf8' }).trim();
const uuid = (s) => { if (!/^[0-9a-f-]{36}$/.test(s)) throw new Error(`not a uuid: ${s}`); return s; };

export async function createRelayBackend({ origin }) {
  if (!origin) throw new Error('--relay needs the relay URL');
  if (!process.env.WEB_JWT_SECRET) throw new Error('WEB_JWT_SECRET is not set (the relay\'s HS256 secret)');
  const api = async (user, method, path, body) => {
    const headers = { Authorization: `Bearer ${user.jwt}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(`${origin}/api/twilio${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const answer = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${JSON.stringify(answer)}`);
    return answer;
  };
  return {
    name: 'relay',
    origin,
    async newUser() {
      const id = randomUUID();
      psql(`INSERT INTO auth.users (id) VALUES ('${uuid(id)}')`);
      const jwt = await new SignJWT({ role: 'authenticated' }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(id).setAudience('authenticated').setIssuedAt().setExpirationTime('1h').sign(secret);
      return { id, jwt };
    },
    async settingsOf(user) { return (await api(user, 'GET', '/settings')).settings; },
    async disable(user) { psql(`UPDATE twilio.user_settings SET status = 'disabled' WHERE user_id = '${uuid(user.id)}'`); },
    async seedAnalytics(user, days) {
      const u = uuid(user.id);
      const [campaign, step] = psql(`WITH c AS (INSERT INTO twilio.campaigns (user_id, name, status) VALUES ('${u}', 'Spring follow-up', 'active') RETURNING id),
        s AS (INSERT INTO twilio.campaign_steps (user_id, campaign_id, position, delay, body_template)
              SELECT '${u}', id, 1, interval '1 day', 'Hi {{first_name}}' FROM c RETURNING id, campaign_id)
        SELECT campaign_id || '|' || id FROM s`).split('|');
      days.forEach((d, i) => {
        if (!/^\d{4}-\d\d-\d\d$/.test(d)) throw new Error(`bad day ${d}`);
        psql(`INSERT INTO twilio.campaign_stats_daily (user_id, campaign_id, day, step_id, position, sent, delivered, failed, replies, opt_outs, segments)
              VALUES ('${u}', '${uuid(campaign)}', '${d}', '${uuid(step)}', 1, ${10 + i}, ${8 + i}, 1, ${i % 3}, 0, ${12 + i})`);
      });
      return { id: campaign, name: 'Spring follow-up' };
    },
    // The dialer's setup goes through the API as the user, like an app would.
    async createActions(user, actions) { return (await api(user, 'POST', '/actions', { actions })).actions; },
    async saveDialerSettings(user, settings) { return (await api(user, 'PUT', '/dialer/settings', settings)).settings; },
    async addDoNotCall(user, phone) { return api(user, 'POST', '/do-not-call', { phone }); },
    async call(user, id) { return JSON.parse(psql(`SELECT row_to_json(v) FROM twilio.voice_calls v WHERE id = '${uuid(id)}' AND user_id = '${uuid(user.id)}'`) || 'null'); },
    // A voice status callback for the user's calls, signed with their auth token, through the relay's webhook route.
    async postCallStatus(user, token, params) {
      const key = psql(`SELECT webhook_key FROM twilio.user_settings WHERE user_id = '${uuid(user.id)}'`);
      if (!/^[A-Za-z0-9_-]+$/.test(key)) throw new Error(`no webhook key for ${user.id}`);
      const url = `${origin}/twilio/${key}/voice_status`;
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded',
          'X-Twilio-Signature': twilio.getExpectedTwilioSignature(token, url, params) },
        body: new URLSearchParams(params).toString(),
      });
      return { status: res.status, body: await res.text() };
    },
    async actions(user) { return JSON.parse(psql(`SELECT coalesce(json_agg(a ORDER BY a.created_at), '[]') FROM twilio.manual_actions a WHERE user_id = '${uuid(user.id)}'`)); },
    async action(user, id) { return JSON.parse(psql(`SELECT row_to_json(a) FROM twilio.manual_actions a WHERE id = '${uuid(id)}' AND user_id = '${uuid(user.id)}'`) || 'null'); },
    async close() {},
  };
}
