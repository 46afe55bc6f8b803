// INTERIM, for developing the elements before the relay's API exists: answers /api/twilio/... inside the browser
// (Playwright routes) with the shapes of the API contract, and serves web/ at /ui/. It opens no sealed token, so
// it cannot judge a token: `rejectNextSave` makes the next save fail the way the relay answers a wrong token.
// The final suite runs against the real relay (relay_backend.js); run.sh uses this only with --contract.
import { readFile } from 'node:fs/promises';
import { generateKeyPairSync } from 'node:crypto';
import { extname, join, normalize } from 'node:path';

const TYPES = { '.js': 'text/javascript', '.html': 'text/html', '.css': 'text/css', '.json': 'application/json' };

export async function createContractBackend({ webRoot }) {
  const origin = 'http://localhost:4799'; // never listened on: Playwright answers; localhost is a secure context
  const jwk = generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' });
  const publicKey = Buffer.from(jwk.x, 'base64url').toString('base64');
  const users = new Map();
  const user = (id) => {
    if (!users.has(id)) users.set(id, { settings: null, disabled: false, rows: [], campaigns: [], reject: null });
    return users.get(id);
  };
  const holds = [];
  const json = (route, status, body) => route.fulfill({ status, contentType: 'application/json', body: JSON.stringify(body) });

  async function handleApi(route, request) {
    const url = new URL(request.url());
    const auth = request.headers().authorization || '';
    const sub = auth.startsWith('Bearer ') ? JSON.parse(Buffer.from(auth.slice(7).split('.')[1] || '', 'base64url').toString() || 'null')?.sub : null;
    if (!sub) return json(route, 401, { error: { code: '28000', message: 'missing token' } });
    const u = user(sub);
    for (const h of holds) if (url.pathname.endsWith(h.path) && !h.done) { await h.promise; }
    const path = url.pathname.replace('/api/twilio', '');
    const method = request.method();
    if (path === '/sealing-key') return json(route, 200, { format: 'bt1', key_id: 'k1', public_key: publicKey });
    if (path === '/status') {
      if (!u.settings) return json(route, 200, { state: 'not_connected', reason: 'no Twilio account connected', verified_at: null, source: null, can_send: false });
      if (u.disabled) return json(route, 200, { state: 'disabled', reason: 'Twilio settings are disabled', verified_at: null, source: 'user', can_send: false });
      return json(route, 200, { state: 'connected', reason: 'verified with Twilio', verified_at: u.settings.verified_at, source: 'user', can_send: true });
    }
    if (path === '/settings' && method === 'GET') return json(route, 200, { settings: u.settings });
    if (path === '/settings' && method === 'DELETE') { const had = Boolean(u.settings); u.settings = null; return json(route, 200, { disconnected: had }); }
    if (path === '/settings' && method === 'POST') {
      const body = request.postDataJSON();
      if (!/^bt1:k1:/.test(body.auth_token)) return json(route, 400, { error: { code: '22023', message: 'auth_token is not sealed' } });
      if (u.reject) { const e = u.reject; u.reject = null; return json(route, 422, { error: e }); }
      const now = new Date().toISOString();
      u.settings = { account_sid: body.account_sid, conversations_service_sid: body.conversations_service_sid, messaging_service_sid: body.messaging_service_sid,
        sms_number: body.sms_number, status: 'active', auth_token_masked: '****************************a1ce', verified_at: now, last_error: null,
        created_at: now, updated_at: now, webhook_urls: null };
      u.disabled = false;
      return json(route, 200, { settings: u.settings });
    }
    if (path === '/messages') return json(route, 200, { messages: [] });
    if (path === '/sms') return json(route, 200, { id: '00000000-0000-0000-0000-000000000001' });
    if (path === '/campaigns') return json(route, 200, { campaigns: u.campaigns });
    if (path === '/analytics') {
      const from = url.searchParams.get('from'); const to = url.searchParams.get('to'); const c = url.searchParams.get('campaign');
      return json(route, 200, { rows: u.rows.filter((r) => r.day >= from && r.day <= to && (!c || r.campaign_id === c)) });
    }
    return json(route, 404, { error: { code: '42883', message: 'no such route' } });
  }

  return {
    name: 'contract',
    origin,
    async attach(context) {
      await context.route(`${origin}/ui/**`, async (route) => {
        const rel = normalize(new URL(route.request().url()).pathname.replace(/^\/ui\//, '')).replace(/^(\.\.[/\\])+/, '');
        try {
          const body = await readFile(join(webRoot, rel.endsWith('/') || rel === '.' ? join(rel, 'index.html') : rel));
          await route.fulfill({ status: 200, contentType: TYPES[extname(rel) || '.html'] || 'application/octet-stream', body });
        } catch { await route.fulfill({ status: 404, body: 'not found' }); }
      });
      await context.route(`${origin}/api/twilio/**`, (route, request) => handleApi(route, request));
    },
    async newUser() { const id = crypto.randomUUID(); user(id); return { id, jwt: `e30.${Buffer.from(JSON.stringify({ sub: id })).toString('base64url')}.unsigned` }; },
    async settingsOf(u) { return user(u.id).settings; },
    async disable(u) { user(u.id).disabled = true; },
    async wrongToken(u) {
      user(u.id).reject = { code: '28000', message: 'credentials check failed: Twilio rejected the Account SID and auth token (HTTP 401, Twilio error 20003: Authenticate)',
        detail: 'failed check: credentials', hint: 'Nothing was saved.', check: 'credentials' };
    },
    async seedAnalytics(u, days) {
      const c = { id: crypto.randomUUID(), name: 'Spring follow-up', status: 'active' };
      user(u.id).campaigns.push(c);
      user(u.id).rows = days.map((d, i) => ({ day: d, campaign_id: c.id, campaign_name: c.name, step_position: 1, step_id: c.id,
        sent: 10 + i, delivered: 8 + i, failed: 1, replies: i % 3, opt_outs: 0, segments: 12 + i, delivery_rate: (8 + i) / (10 + i), reply_rate: (i % 3) / (10 + i) }));
      return c;
    },
    hold(path) { let release; const h = { path, done: false }; h.promise = new Promise((r) => { release = r; }); h.release = () => { h.done = true; release(); }; holds.push(h); return h; },
    async close() {},
  };
}
