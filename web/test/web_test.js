// Browser tests of byo_twilio's web components and demo app in headless chromium: the indicator's three states,
// a wrong token (Twilio's reason shown, nothing saved), a good save (indicator green, composer enabled), the
// disabled composer's link to settings, live validation, analytics (chart, table, empty and error states), the
// dialer (loading, empty and error states; Call disabled with the database's reason; keyboard-only Call and
// outcome with auto-advance; a whole call placed by the dispatcher and reported through the relay, then its
// outcome amended), axe-core on every page and Tab reaching every control. Screenshots: screenshots/.
//
//   node web_test.js --relay URL   (run.sh starts the cluster, the stand-in and the relay, and passes these)
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from './browser.js';
import { assert, equal, run, test } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const shots = join(here, 'screenshots');
const require = createRequire(import.meta.url);
const axeSource = await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
const args = process.argv.slice(2);
const TIMEOUT = Number(process.env.WEB_TEST_TIMEOUT_MS || 30000);

let backend;
if (args[0] === '--relay') {
  backend = await (await import('./relay_backend.js')).createRelayBackend({ origin: args[1] });
} else {
  console.log('usage: node web_test.js --relay URL');
  process.exit(2);
}
const ACCOUNT = { sid: 'ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', token: 'a1cea1cea1cea1cea1cea1cea1cea1ce',
  is: 'ISa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', mg: 'MGa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', number: '+15005550006' };
const WRONG_TOKEN = '0123456789abcdef0123456789abcdef';

// A page of the demo, signed in as `user`.
async function open(ctx, user, hash) {
  const page = await ctx.browser.context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on('pageerror', (err) => ctx.errors.push(String(err)));
  if (process.env.WEB_TEST_DEBUG) { page.on('console', (m) => console.log(`# console: ${m.text()}`)); page.on('crash', () => console.log('# page crashed')); }
  await page.addInitScript((jwt) => localStorage.setItem('byo-twilio-demo-jwt', jwt), user.jwt);
  await page.goto(`${backend.origin}/ui/demo/index.html${hash}`);
  return page;
}

const statusText = (page) => page.locator('#indicator').evaluate((el) => ({
  state: el.getAttribute('state'), text: el.shadowRoot.querySelector('[part="base"]').textContent.replace(/\s+/g, ' ').trim(),
  title: el.shadowRoot.querySelector('[part="base"]').getAttribute('title'),
  role: el.shadowRoot.querySelector('[part="base"]').getAttribute('role'),
  live: el.shadowRoot.querySelector('[part="base"]').getAttribute('aria-live'),
  dot: getComputedStyle(el.shadowRoot.querySelector('[part="dot"]')).backgroundColor }));
const waitState = (page, sel, state) => page.waitForFunction(([s, st]) => document.querySelector(s)?.getAttribute('state') === st, [sel, state]);
const field = (page, name) => page.locator(`#settings >> input[name="${name}"]`);
const fieldError = (page, name) => page.locator('#settings').evaluate((el, n) => el.shadowRoot.getElementById(`${n}-error`).textContent, name);

async function axe(page, label) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert(bad.length === 0, `${label}: axe found ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('; ')}`);
}

// Presses Tab until focus comes back around; returns a description of each focused control (through shadow roots).
async function tabStops(page, max = 60) {
  await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  const seen = [];
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press('Tab');
    const d = await page.evaluate(() => {
      let el = document.activeElement;
      while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
      if (!el || el === document.body) return null;
      return `${el.localName}${el.id ? `#${el.id}` : ''}${el.name ? `[name=${el.name}]` : ''}${el.getAttribute('part') ? `[part=${el.getAttribute('part')}]` : ''}`;
    });
    if (!d || d === seen[seen.length - 1]) continue; // a date input has a Tab stop per part
    if (seen.includes(d)) break; // round the page once
    seen.push(d);
  }
  return seen;
}

// Every visible, enabled control in the light DOM and in shadow roots.
const controls = (page) => page.evaluate(() => {
  const out = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) walk(el.shadowRoot);
      if (!el.matches('a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])')) continue;
      // checkVisibility: not rendered, hidden, or inside a closed <details> (whose content Chromium lays out anyway).
      if (el.disabled || el.closest('[inert]') || !el.checkVisibility({ visibilityProperty: true })) continue;
      if (el.classList.contains('skip')) continue;
      out.push(`${el.localName}${el.id ? `#${el.id}` : ''}${el.name ? `[name=${el.name}]` : ''}${el.getAttribute('part') ? `[part=${el.getAttribute('part')}]` : ''}`);
    }
  };
  walk(document);
  return out;
});

async function allReachable(page, label) {
  const want = await controls(page);
  const got = await tabStops(page);
  const missing = want.filter((c) => !got.includes(c));
  assert(want.length > 0, `${label}: no controls found`);
  assert(missing.length === 0, `${label}: not reachable by Tab: ${missing.join(', ')} (reached ${got.join(', ')})`);
}

test('indicator: gray "Checking Twilio..." while the API has not answered, then red "Twilio Not Connected"', async (ctx) => {
  const user = await backend.newUser();
  const page = await ctx.browser.context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  let release;
  const held = new Promise((r) => { release = r; });
  let seen = 0;
  await page.route('**/api/twilio/status', async (route) => { seen += 1; await held; await route.fallback(); });
  await page.addInitScript((jwt) => localStorage.setItem('byo-twilio-demo-jwt', jwt), user.jwt);
  await page.goto(`${backend.origin}/ui/demo/index.html#conversations`);
  await page.waitForFunction(() => document.querySelector('#indicator')?.shadowRoot);
  await page.waitForFunction(() => true);
  const s = await statusText(page);
  equal(s.state, 'loading', 'state while held');
  equal(s.text, 'Checking Twilio...', 'text while held');
  equal(s.role, 'status', 'role');
  equal(s.live, 'polite', 'aria-live');
  equal(s.dot, 'rgb(110, 119, 129)', 'gray dot');
  const gate = await page.locator('#gate').getAttribute('state');
  equal(gate, 'loading', 'composer gate while checking');
  equal(await page.locator('#composer').evaluate((f) => f.inert), true, 'composer inert while checking');
  await page.screenshot({ path: join(shots, 'conversations-checking.png') });
  assert(seen >= 1, 'the status request was held');
  release();
  await waitState(page, '#indicator', 'not_connected');
  const r = await statusText(page);
  equal(r.text, 'Twilio Not Connected: no Twilio account connected', 'text when not connected');
  equal(r.title, 'no Twilio account connected', 'reason as title');
  equal(r.dot, 'rgb(194, 29, 42)', 'red dot');
  await page.close();
});

test('disabled composer: inert, aria-disabled, and its link leads to the settings page', async (ctx) => {
  const user = await backend.newUser();
  const page = await open(ctx, user, '#conversations');
  await waitState(page, '#gate', 'not_connected');
  const form = page.locator('#composer');
  equal(await form.evaluate((f) => f.inert), true, 'composer inert');
  equal(await form.getAttribute('aria-disabled'), 'true', 'composer aria-disabled');
  await page.locator('#sms-to').click({ timeout: 1000, trial: false }).then(() => { throw new Error('the inert composer took a click'); }, () => {});
  await page.screenshot({ path: join(shots, 'conversations-not-connected.png'), fullPage: true });
  const link = page.locator('#gate >> [part="link"]');
  equal(await link.textContent(), 'Connect Twilio in Settings', 'link text');
  await link.focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => location.hash === '#settings' && !document.querySelector('#page-settings').hidden);
  assert(await page.locator('#settings').isVisible(), 'settings form visible after the link');
  await page.close();
});

test('settings: formats checked as the user types, messages tied to the fields', async (ctx) => {
  const user = await backend.newUser();
  const page = await open(ctx, user, '#settings');
  await page.waitForFunction(() => document.querySelector('#settings')?.shadowRoot?.querySelector('[part~="save-button"]')?.getAttribute('aria-disabled') === 'false');
  await field(page, 'account_sid').pressSequentially('AC12');
  equal(await field(page, 'account_sid').getAttribute('aria-invalid'), null, 'a valid prefix is not flagged while typing');
  await field(page, 'account_sid').pressSequentially('x');
  equal(await field(page, 'account_sid').getAttribute('aria-invalid'), 'true', 'a non-hex character is flagged at once');
  assert((await fieldError(page, 'account_sid')).includes('AC followed by 32 hexadecimal'), 'account SID message');
  const described = await field(page, 'account_sid').getAttribute('aria-describedby');
  assert(described.split(' ').includes('account_sid-error'), 'aria-describedby names the error');
  await field(page, 'sms_number').fill('5551234');
  equal(await field(page, 'sms_number').getAttribute('aria-invalid'), 'true', 'E.164 without + flagged');
  await field(page, 'sms_number').fill('+15005550006');
  equal(await field(page, 'sms_number').getAttribute('aria-invalid'), null, 'E.164 accepted');
  await field(page, 'messaging_service_sid').fill('IS' + 'a'.repeat(32));
  equal(await field(page, 'messaging_service_sid').getAttribute('aria-invalid'), 'true', 'wrong prefix for MG');
  await field(page, 'messaging_service_sid').fill('');
  await field(page, 'account_sid').fill('');
  await page.locator('#settings >> [part~="save-button"]').click();
  assert((await fieldError(page, 'account_sid')).includes('required'), 'a blank required field is flagged on save');
  assert((await fieldError(page, 'auth_token')).includes('required'), 'a blank token is flagged on save');
  const focused = await page.evaluate(() => document.querySelector('#settings').shadowRoot.activeElement?.name);
  equal(focused, 'account_sid', 'focus moves to the first invalid field');
  await page.screenshot({ path: join(shots, 'settings-validation.png'), fullPage: true });
  await page.close();
});

async function fillSettings(page, token) {
  await page.waitForFunction(() => document.querySelector('#settings')?.shadowRoot?.querySelector('[part~="save-button"]')?.getAttribute('aria-disabled') === 'false');
  await field(page, 'account_sid').fill(ACCOUNT.sid);
  await field(page, 'auth_token').fill(token);
  await field(page, 'conversations_service_sid').fill(ACCOUNT.is);
  await field(page, 'messaging_service_sid').fill(ACCOUNT.mg);
  await field(page, 'sms_number').fill(ACCOUNT.number);
}

test('a wrong token shows Twilio\'s reason next to the Auth Token and saves nothing', async (ctx) => {
  const user = await backend.newUser();
  const page = await open(ctx, user, '#settings');
  const sent = [];
  page.on('request', (r) => { if (r.url().endsWith('/api/twilio/settings') && r.method() === 'POST') sent.push(r.postData()); });
  await fillSettings(page, WRONG_TOKEN);
  await page.locator('#settings >> [part~="save-button"]').click();
  await page.waitForFunction(() => document.querySelector('#settings').shadowRoot.getElementById('auth_token-error').textContent !== '', null, { timeout: 5000 }).catch(async (e) => { throw new Error(`no error at the token; form says: ${await page.locator('#settings >> [part="message"]').textContent()}`); });
  const err = await fieldError(page, 'auth_token');
  assert(/credentials check failed/.test(err) && /20003/.test(err), `Twilio's reason shown at the token: ${err}`);
  equal(await field(page, 'auth_token').getAttribute('aria-invalid'), 'true', 'token field invalid');
  equal(sent.length, 1, 'one save request');
  assert(!sent[0].includes(WRONG_TOKEN) && /"auth_token":"bt1:/.test(sent[0]), 'the token left the page sealed only');
  equal(await backend.settingsOf(user), null, 'nothing saved');
  equal(await page.locator('#indicator').getAttribute('state'), 'not_connected', 'indicator still red');
  await page.screenshot({ path: join(shots, 'settings-wrong-token.png'), fullPage: true });
  await page.close();
});

test('a good save turns the indicator green, enables the composer (which then sends) and shows only the masked token', async (ctx) => {
  const user = await backend.newUser();
  const page = await open(ctx, user, '#settings');
  await waitState(page, '#indicator', 'not_connected');
  await fillSettings(page, ACCOUNT.token);
  const saved = page.evaluate(() => new Promise((r) => document.addEventListener('byo-twilio-settings-saved', (e) => r(e.detail.settings.account_sid), { once: true })));
  await page.locator('#settings >> [part~="save-button"]').click();
  equal(await saved, ACCOUNT.sid, 'byo-twilio-settings-saved reached document');
  await waitState(page, '#indicator', 'connected');
  const s = await statusText(page);
  equal(s.text, 'Twilio Connected', 'green text');
  equal(s.dot, 'rgb(26, 127, 55)', 'green dot');
  equal(await field(page, 'auth_token').inputValue(), '', 'token field emptied');
  const shadowText = await page.locator('#settings').evaluate((el) => el.shadowRoot.textContent);
  assert(!shadowText.includes(ACCOUNT.token) && /\*{4,}a1ce/.test(shadowText), 'masked token shown, never the token');
  const row = await backend.settingsOf(user);
  equal(row?.account_sid, ACCOUNT.sid, 'saved');
  await page.screenshot({ path: join(shots, 'settings-saved.png'), fullPage: true });
  await page.locator('nav a[data-page="conversations"]').click();
  await waitState(page, '#gate', 'connected');
  const form = page.locator('#composer');
  equal(await form.evaluate((f) => f.inert), false, 'composer enabled');
  equal(await form.getAttribute('aria-disabled'), null, 'aria-disabled removed');
  await page.locator('#sms-to').fill('+15005550100');
  await page.locator('#sms-body').fill('Hello from the gated composer');
  await page.locator('#composer button[type="submit"]').click();
  await page.waitForFunction(() => document.querySelector('#composer-state').textContent === 'Queued for sending.', null, { timeout: 10000 })
    .catch(async () => { throw new Error(`send: ${await page.locator('#composer-state').textContent()}`); });
  await page.waitForFunction(() => document.querySelector('#messages').textContent.includes('Hello from the gated composer'));
  await page.screenshot({ path: join(shots, 'conversations-connected.png'), fullPage: true });
  await axe(page, 'conversations (connected)');
  await allReachable(page, 'conversations (connected)');
  // Call from the conversation: queued at the top of the manual actions, shown by the dialer.
  await page.locator('#messages button[aria-label="Call +15005550100"]').first().click();
  await page.waitForFunction(() => location.hash === '#actions' && !document.querySelector('#page-actions').hidden);
  await page.waitForFunction(() => document.querySelector('#dialer').shadowRoot.textContent.includes('Call +15005550100'));
  const queued = (await backend.actions(user)).map((a) => `${a.kind} ${a.phone} ${a.priority}`).join(', ');
  equal(queued, 'call +15005550100 100', 'the call is queued first');
  ctx.connectedUser = user;
  await page.close();
});

test('indicator: red with the reason for disabled settings', async (ctx) => {
  const user = ctx.connectedUser;
  assert(user, 'needs the connected user of the previous test');
  await backend.disable(user);
  const page = await open(ctx, user, '#conversations');
  await waitState(page, '#indicator', 'disabled');
  const s = await statusText(page);
  equal(s.text, 'Twilio Not Connected: Twilio settings are disabled', 'text');
  equal(s.title, 'Twilio settings are disabled', 'reason as title');
  equal(await page.locator('#gate').getAttribute('state'), 'disabled', 'composer gated');
  await page.close();
});

test('settings page: axe and keyboard', async (ctx) => {
  const user = await backend.newUser();
  const page = await open(ctx, user, '#settings');
  await page.waitForFunction(() => document.querySelector('#settings')?.shadowRoot?.querySelector('[part~="save-button"]')?.getAttribute('aria-disabled') === 'false');
  await page.screenshot({ path: join(shots, 'settings.png'), fullPage: true });
  await axe(page, 'settings');
  await allReachable(page, 'settings');
  await page.close();
});

test('conversations page (not connected): axe and keyboard', async (ctx) => {
  const user = await backend.newUser();
  const page = await open(ctx, user, '#conversations');
  await waitState(page, '#gate', 'not_connected');
  await axe(page, 'conversations');
  await allReachable(page, 'conversations');
  const stops = await tabStops(page);
  assert(!stops.some((s) => s.startsWith('input#sms-to') || s.startsWith('textarea#sms-body')), 'Tab skips the disabled composer');
  await page.close();
});

test('analytics: empty state, then chart and table of seeded results; axe and keyboard', async (ctx) => {
  const user = await backend.newUser();
  let page = await open(ctx, user, '#analytics');
  await page.waitForFunction(() => ['empty', 'error', 'ready'].includes(document.querySelector('#analytics')?.getAttribute('state')));
  equal(await page.locator('#analytics').getAttribute('state'), 'empty', 'no campaigns: empty state');
  assert((await page.locator('#analytics >> [part="message"]').textContent()).includes('No messages'), 'empty message');
  await page.screenshot({ path: join(shots, 'analytics-empty.png'), fullPage: true });
  await page.close();
  const today = new Date();
  const days = [5, 3, 1].map((n) => new Date(today - n * 86400000).toISOString().slice(0, 10));
  const campaign = await backend.seedAnalytics(user, days);
  page = await open(ctx, user, '#analytics');
  await waitState(page, '#analytics', 'ready');
  const rows = await page.locator('#analytics >> tbody tr').count();
  equal(rows, 3, 'one table row per seeded day');
  const bars = await page.locator('#analytics >> svg rect').count();
  assert(bars >= 6, `bars drawn (${bars})`);
  const options = await page.locator('#analytics >> select#campaign option').allTextContents();
  assert(options.includes('All campaigns') && options.some((o) => o.startsWith(campaign.name)), `campaign picker: ${options}`);
  await page.locator('#analytics >> select#campaign').selectOption(campaign.id);
  await waitState(page, '#analytics', 'ready');
  await page.screenshot({ path: join(shots, 'analytics.png'), fullPage: true });
  await axe(page, 'analytics');
  await allReachable(page, 'analytics');
  // Error state: the relay unreachable for the next request.
  await page.route('**/api/twilio/analytics*', (route) => route.abort('connectionrefused'));
  await page.locator('#analytics >> button[type="submit"]').click();
  await waitState(page, '#analytics', 'error');
  assert((await page.locator('#analytics >> [part="message"]').textContent()).startsWith('Could not load analytics'), 'error message');
  equal(await page.locator('#analytics >> [part="message"]').getAttribute('role'), 'alert', 'error announced');
  await page.close();
});

// ---- the dialer (<byo-twilio-dialer> on the demo's Manual actions page) ----

// A zone where it is now about `hour` o'clock (Etc/GMT-N is UTC+N), so calling hours hold or fail at any hour.
function zoneAt(hour) {
  let off = hour - new Date().getUTCHours();
  if (off < -12) off += 24;
  if (off > 14) off -= 24;
  return off === 0 ? 'Etc/GMT' : off > 0 ? `Etc/GMT-${off}` : `Etc/GMT+${-off}`;
}
const AGENT = '+15005550199';
const dialer = (page) => page.locator('#dialer');
const part = (page, name) => page.locator(`#dialer >> [part~="${name}"]`);
const dialerState = (page) => page.locator('#dialer').evaluate((el) => ({
  state: el.getAttribute('state'), call: el.getAttribute('call-status'),
  title: el.shadowRoot.querySelector('[part="card"]').hidden ? null : el.shadowRoot.querySelector('[part="title"]').textContent,
  message: el.shadowRoot.querySelector('[part="message"]').textContent,
  reason: el.shadowRoot.querySelector('[part="call-reason"]').textContent,
  callDisabled: el.shadowRoot.querySelector('[part~="call-button"]').getAttribute('aria-disabled'),
  status: el.shadowRoot.querySelector('[part="call-status"]').textContent,
  queue: [...el.shadowRoot.querySelectorAll('[part~="item"] .item-title')].map((e) => e.firstChild.textContent),
}));
// Waits until the Call button is settled (not "Checking…"); returns the dialer's state.
async function callChecked(page) {
  await page.waitForFunction(() => {
    const r = document.querySelector('#dialer')?.shadowRoot;
    const b = r?.querySelector('[part~="call-button"]');
    return b && !r.querySelector('[part="card"]').hidden && !b.querySelector('.spinner');
  });
  return dialerState(page);
}
// Connects the user's Twilio account the way the settings element does: sealed in the browser, checked by Twilio.
async function connect(page) {
  await page.evaluate(async (acct) => {
    const { getDefaultApi, sealToken } = await import('/ui/index.js');
    const api = getDefaultApi();
    const [key, owner] = await Promise.all([api.getSealingKey(), api.getUserId()]);
    const auth_token = await sealToken({ key, owner, accountSid: acct.sid, token: acct.token });
    const settings = await api.saveSettings({ account_sid: acct.sid, auth_token, conversations_service_sid: acct.is,
      messaging_service_sid: acct.mg, sms_number: acct.number });
    // As <byo-twilio-settings> announces a save: the indicator and the dialer refresh.
    document.dispatchEvent(new CustomEvent('byo-twilio-settings-saved', { bubbles: true, composed: true, detail: { settings } }));
  }, ACCOUNT);
}
async function focusedPart(page) {
  return page.evaluate(() => {
    let el = document.activeElement;
    while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
    return `${el?.localName}${el?.getAttribute('part') ? `[part=${el.getAttribute('part')}]` : ''}:${el?.textContent?.trim().slice(0, 40)}`;
  });
}

test('dialer: "Loading" while the queue is asked for, then the empty state', async (ctx) => {
  const user = await backend.newUser();
  const page = await ctx.browser.context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on('pageerror', (err) => ctx.errors.push(String(err)));
  let release;
  const held = new Promise((r) => { release = r; });
  await page.route((url) => url.pathname === '/api/twilio/actions', async (route) => { await held; await route.fallback(); });
  await page.addInitScript((jwt) => localStorage.setItem('byo-twilio-demo-jwt', jwt), user.jwt);
  await page.goto(`${backend.origin}/ui/demo/index.html#actions`);
  await waitState(page, '#dialer', 'loading');
  const note = () => page.locator('#dialer >> .queue-note').textContent();
  equal(await note(), 'Loading your queue…', 'loading text');
  equal(await part(page, 'list').getAttribute('aria-busy'), 'true', 'list busy');
  release();
  await waitState(page, '#dialer', 'empty');
  assert((await note()).startsWith('Your queue is empty'), `empty text: ${await note()}`);
  equal(await part(page, 'card').isHidden(), true, 'no action card');
  await page.screenshot({ path: join(shots, 'dialer-empty.png'), fullPage: true });
  await axe(page, 'dialer (empty)');
  await page.close();
});

test('dialer: the error state when the API cannot be reached, and Refresh recovers', async (ctx) => {
  const user = await backend.newUser();
  const page = await ctx.browser.context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  await page.route('**/api/twilio/actions/current', (route) => route.abort('connectionrefused'));
  await page.addInitScript((jwt) => localStorage.setItem('byo-twilio-demo-jwt', jwt), user.jwt);
  await page.goto(`${backend.origin}/ui/demo/index.html#actions`);
  await waitState(page, '#dialer', 'error');
  const note = page.locator('#dialer >> .queue-note');
  assert((await note.textContent()).startsWith('Could not load your queue'), `error text: ${await note.textContent()}`);
  equal(await note.getAttribute('role'), 'alert', 'announced as an alert');
  await page.unroute('**/api/twilio/actions/current');
  await page.locator('#dialer >> button.refresh').click();
  await waitState(page, '#dialer', 'empty');
  await page.close();
});

test('dialer: Call disabled with the database\'s reason (not connected, no agent phone, do-not-call, calling hours)', async (ctx) => {
  const user = await backend.newUser();
  await backend.createActions(user, [{ kind: 'call', title: 'Dana Lee', phone: '+15005550711', time_zone: zoneAt(12) }]);
  const page = await open(ctx, user, '#actions');
  await waitState(page, '#dialer', 'ready');
  await part(page, 'start-button').click();
  let s = await callChecked(page);
  equal(s.title, 'Dana Lee', 'the claimed action is current');
  equal(s.callDisabled, 'true', 'not connected: Call disabled');
  assert(/no Twilio account connected/.test(s.reason), `reason: ${s.reason}`);
  equal(await page.locator('#dialer >> [part="call-reason"] a').getAttribute('href'), '#settings', 'a link to settings');
  const described = await part(page, 'call-button').getAttribute('aria-describedby');
  equal(described, 'call-reason', 'the reason describes the button');
  await page.screenshot({ path: join(shots, 'dialer-not-connected.png'), fullPage: true });

  await connect(page);
  await page.evaluate(() => document.querySelector('#dialer').load());
  s = await callChecked(page);
  equal(s.callDisabled, 'true', 'no agent phone: Call disabled');
  assert(/agent phone/i.test(s.reason), `reason: ${s.reason}`);
  await page.locator('#dialer >> [part="call-reason"] button.link').click();
  equal(await focusedPart(page).then((f) => f.startsWith('input')), true, '"Set your phone" opens the settings at the phone field');
  await page.locator('#dialer >> #agent_phone').fill(AGENT);
  await page.locator('#dialer >> #default_time_zone').fill(zoneAt(3));
  await page.locator('#dialer >> [part="settings-form"] button[type="submit"]').click();
  await page.waitForFunction(() => document.querySelector('#dialer').shadowRoot.querySelector('[part="message"]').textContent === 'Dialer settings saved.');
  s = await callChecked(page);
  equal(s.callDisabled, 'false', 'the action\'s own zone is at noon: Call enabled');

  await backend.addDoNotCall(user, '+15005550711');
  await page.evaluate(() => document.querySelector('#dialer').load());
  s = await callChecked(page);
  equal(s.callDisabled, 'true', 'do-not-call: Call disabled');
  assert(/do.not.call/i.test(s.reason), `reason: ${s.reason}`);

  await backend.createActions(user, [{ kind: 'call', title: 'Night Owl', phone: '+15005550712', priority: 9 }]);
  await page.locator('#dialer >> [part~="skip-button"]').click();
  await page.waitForFunction(() => document.querySelector('#dialer').shadowRoot.querySelector('[part="title"]').textContent === 'Night Owl');
  s = await callChecked(page);
  equal(s.callDisabled, 'true', 'at 3 a.m. in the default zone: Call disabled');
  assert(/08:00/.test(s.reason), `reason names the calling hours: ${s.reason}`);
  await page.screenshot({ path: join(shots, 'dialer-outside-hours.png'), fullPage: true });
  await page.close();
});

test('dialer: keyboard only: Tab to Call, Enter places the call (shown queued), an outcome auto-advances', async (ctx) => {
  const user = await backend.newUser();
  await backend.saveDialerSettings(user, { agent_phone: AGENT, default_time_zone: zoneAt(12), auto_advance: true });
  const [ann, bob] = await backend.createActions(user, [
    { kind: 'call', title: 'Ann Archer', phone: '+15005550721', priority: 2, notes: 'Asked for a quote on Monday.' },
    { kind: 'call', title: 'Bob Baker', phone: '+15005550722', priority: 1 },
    { kind: 'text', title: 'Cy Cole', phone: '+15005550723' },
  ]);
  const page = await open(ctx, user, '#actions');
  await connect(page);
  await page.evaluate(() => document.querySelector('#dialer').load());
  await waitState(page, '#dialer', 'ready');
  const s0 = await dialerState(page);
  equal(s0.queue.join(','), 'Ann Archer,Bob Baker,Cy Cole', 'the queue in order');
  // Keyboard: Tab to "Start next action", Enter; then Tab to Call, Enter.
  const tabTo = async (want) => {
    for (let i = 0; i < 40; i += 1) {
      await page.keyboard.press('Tab');
      if ((await focusedPart(page)).includes(want)) return;
    }
    throw new Error(`Tab never reached ${want}`);
  };
  await tabTo('[part=start-button]');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('#dialer').shadowRoot.querySelector('[part="title"]').textContent === 'Ann Archer');
  assert((await focusedPart(page)).startsWith('h3[part=title]'), `focus moves to the action: ${await focusedPart(page)}`);
  const s1 = await callChecked(page);
  equal(s1.callDisabled, 'false', `Call enabled (${s1.reason})`);
  await tabTo('[part=call-button]');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('#dialer').getAttribute('call-status'));
  const s2 = await dialerState(page);
  assert(['queued', 'initiated', 'ringing', 'in-progress', 'failed'].includes(s2.call), `call status ${s2.call}`);
  if (s2.call === 'queued') assert(s2.status.startsWith('Waiting to place the call'), `queued text: ${s2.status}`);
  equal(s2.callDisabled, 'true', 'no second call while one is live');
  const row = await backend.action(user, ann.id);
  assert(row.call_id, 'the action points at its call');
  await axe(page, 'dialer (call placed)');
  await allReachable(page, 'dialer (call placed)');
  // An outcome by keyboard: the next action comes back (auto-advance) and takes focus.
  await page.locator('#dialer >> #notes').fill('Call back after lunch');
  await tabTo(':Call back later');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('#dialer').shadowRoot.querySelector('[part="title"]').textContent === 'Bob Baker');
  const s3 = await dialerState(page);
  equal(s3.message, 'Ann Archer: Call back later. Next: Bob Baker.', 'announced');
  assert((await focusedPart(page)).startsWith('h3[part=title]'), 'focus on the next action');
  const done = await backend.action(user, ann.id);
  equal(`${done.status} ${done.outcome} ${done.notes.split('\n').pop()}`, 'done callback Call back after lunch', 'saved with outcome and notes');
  equal((await backend.action(user, bob.id)).status, 'in_progress', 'the next one is claimed');
  await page.waitForFunction(() => !document.querySelector('#dialer').shadowRoot.querySelector('[part~="item"] .item-title')?.textContent.startsWith('Ann'));
  await page.close();
});

// Polls `fn` until it returns something truthy (a row the dispatcher writes, say).
async function until(fn, what, timeout = TIMEOUT) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('dialer: a whole call: placed by the dispatcher, both legs reported through the relay, done as connected, the next action current, the outcome amended', async (ctx) => {
  const user = await backend.newUser();
  await backend.saveDialerSettings(user, { agent_phone: AGENT, default_time_zone: zoneAt(12), auto_advance: true });
  const [ann, bob] = await backend.createActions(user, [
    { kind: 'call', title: 'Ann Archer', phone: '+15005550731', priority: 2, notes: 'Asked for a quote on Monday.' },
    { kind: 'call', title: 'Bob Baker', phone: '+15005550732', priority: 1 },
    { kind: 'follow_up', title: 'Send Ann the brochure' },
  ]);
  const page = await open(ctx, user, '#actions');
  await connect(page);
  await waitState(page, '#indicator', 'connected');
  await page.evaluate(() => { const d = document.querySelector('#dialer'); d.setAttribute('poll-interval', '250'); return d.load(); });
  await waitState(page, '#dialer', 'ready');
  await part(page, 'start-button').click();
  const s0 = await callChecked(page);
  equal(s0.title, 'Ann Archer', 'the first action is current');
  equal(s0.callDisabled, 'false', `Call enabled (${s0.reason})`);
  await page.screenshot({ path: join(shots, 'dialer.png'), fullPage: true });
  await axe(page, 'dialer (current action)');

  await part(page, 'call-button').click();
  await page.waitForFunction(() => document.querySelector('#dialer').getAttribute('call-status') === 'queued');
  const callId = (await backend.action(user, ann.id)).call_id;
  assert(callId, 'the action points at its call');
  // The dispatcher asks the stand-in for the call and records the SID it answers with.
  const placed = await until(async () => { const c = await backend.call(user, callId); return c?.call_sid ? c : null; },
    'the dispatcher to place the call');
  equal(`${placed.to_number} ${placed.from_number} ${placed.lead_phone}`, `${AGENT} ${ACCOUNT.number} ${ann.phone}`, 'agent first, from the user\'s number');
  const leadSid = `CA${randomBytes(16).toString('hex')}`;
  const leg = (who, status, n, extra = {}) => ({
    AccountSid: ACCOUNT.sid, ApiVersion: '2010-04-01', CallStatus: status, From: ACCOUNT.number, SequenceNumber: String(n),
    ...(who === 'agent' ? { CallSid: placed.call_sid, To: AGENT, Direction: 'outbound-api' }
      : { CallSid: leadSid, ParentCallSid: placed.call_sid, To: ann.phone, Direction: 'outbound-dial' }),
    ...extra,
  });
  // Each callback, then what the element shows for it: the agent leg's status, the lead leg's, and the sentence.
  const steps = [
    [leg('agent', 'initiated', 0), 'initiated', null, /^Calling your phone \(\+15005550199\)/],
    [leg('agent', 'ringing', 1), 'ringing', null, /^Your phone is ringing/],
    [leg('agent', 'in-progress', 2), 'in-progress', null, /^You answered\. Dialing Ann Archer/],
    [leg('lead', 'initiated', 0), 'in-progress', 'initiated', /^You answered\. Dialing Ann Archer/],
    [leg('lead', 'ringing', 1), 'in-progress', 'ringing', /^You answered\. Ringing Ann Archer/],
    [leg('lead', 'in-progress', 2), 'in-progress', 'in-progress', /^Connected with Ann Archer · 0:\d\d\.$/],
    [leg('lead', 'completed', 3, { CallDuration: '42' }), 'in-progress', 'completed', /^Ann Archer hung up after 0:42/],
  ];
  for (const [params, call, lead, text] of steps) {
    const r = await backend.postCallStatus(user, ACCOUNT.token, params);
    equal(r.status, 200, `${params.CallSid === leadSid ? 'lead' : 'agent'} ${params.CallStatus}: the relay took it (${r.body})`);
    await page.waitForFunction(([c, l]) => {
      const d = document.querySelector('#dialer');
      return d.getAttribute('call-status') === c && d.getAttribute('lead-status') === l;
    }, [call, lead]).catch(async (e) => { throw new Error(`after ${params.CallStatus}: ${JSON.stringify(await dialerState(page))} (${e.message})`); });
    const s = await dialerState(page);
    assert(text.test(s.status), `${params.CallStatus}: shown as ${JSON.stringify(s.status)}`);
    equal(s.callDisabled, 'true', `${params.CallStatus}: no second call while one is live`);
    if (lead === 'in-progress') {
      await page.screenshot({ path: join(shots, 'dialer-call.png'), fullPage: true });
      await axe(page, 'dialer (call in progress)');
    }
  }
  const r = await backend.postCallStatus(user, ACCOUNT.token, leg('agent', 'completed', 3, { CallDuration: '50' }));
  equal(r.status, 200, `agent completed: the relay took it (${r.body})`);
  // The call ended: Ann done as connected, Bob claimed and current, Ann's call kept as the last call.
  await page.waitForFunction(() => {
    const root = document.querySelector('#dialer').shadowRoot;
    return !root.querySelector('[part="last-call"]').hidden && root.querySelector('[part="title"]').textContent === 'Bob Baker';
  });
  const annDone = await backend.action(user, ann.id);
  equal(`${annDone.status} ${annDone.outcome}`, 'done connected', 'the call finished the action as connected');
  equal((await backend.action(user, bob.id)).status, 'in_progress', 'auto-advance claimed the next action');
  const last = () => page.locator('#dialer').evaluate((el) => {
    const root = el.shadowRoot;
    return { title: root.querySelector('[part="last-call-title"]').textContent,
      status: root.querySelector('[part="last-call-status"]').textContent,
      outcome: root.querySelector('[part="last-call-outcome"]').textContent,
      pressed: [...root.querySelectorAll('[part~="last-outcome-button"][aria-pressed="true"]')].map((b) => b.textContent) };
  });
  let l = await last();
  equal(`${l.title} | ${l.outcome} | ${l.pressed.join(',')}`, 'Ann Archer | Connected | Connected', 'the last call with its outcome');
  assert(/ended after 0:42/.test(l.status), `the last call's sentence: ${l.status}`);
  const s1 = await callChecked(page);
  equal(s1.call, null, 'no call shown for the next action');
  equal(s1.callDisabled, 'false', `Call enabled for the next action (${s1.reason})`);
  assert(/Outcome: Connected\. Next: Bob Baker\.$/.test(s1.message), `announced: ${s1.message}`);
  // What the call achieved: the outcome amended from the last call's card; Bob stays current.
  await page.locator('#dialer >> #last-notes').fill('Wants the premium plan');
  await page.locator('#dialer >> [part~="last-outcome-button"]', { hasText: 'Call back later' }).click();
  await page.waitForFunction(() => document.querySelector('#dialer').shadowRoot.querySelector('[part="last-call-outcome"]').textContent === 'Call back later');
  const annAmended = await backend.action(user, ann.id);
  equal(`${annAmended.status} ${annAmended.outcome} ${annAmended.notes.split('\n').pop()}`, 'done callback Wants the premium plan', 'amended');
  equal((await backend.action(user, bob.id)).status, 'in_progress', 'the next action is still the current one');
  const s2 = await dialerState(page);
  equal(`${s2.title} | ${s2.message}`, 'Bob Baker | Ann Archer: outcome now Call back later.', 'the current action kept, the change announced');
  l = await last();
  equal(l.pressed.join(','), 'Call back later', 'the new outcome pressed');
  await page.screenshot({ path: join(shots, 'dialer-last-call.png'), fullPage: true });
  await axe(page, 'dialer (last call)');
  await allReachable(page, 'dialer (last call)');
  // A reload keeps the tab's last call, with the outcome as the database has it now.
  await page.reload();
  await page.waitForFunction(() => {
    const root = document.querySelector('#dialer')?.shadowRoot;
    return root && !root.querySelector('[part="last-call"]').hidden && root.querySelector('[part="title"]').textContent === 'Bob Baker';
  });
  l = await last();
  equal(`${l.title} | ${l.outcome} | ${l.pressed.join(',')}`, 'Ann Archer | Call back later | Call back later', 'the last call is back after a reload');
  assert(/ended after 0:42/.test(l.status), `the last call's sentence after a reload: ${l.status}`);
  await part(page, 'last-call-dismiss').click();
  equal(await part(page, 'last-call').isHidden(), true, 'dismissed');
  await page.reload();
  await waitState(page, '#dialer', 'ready');
  equal(await part(page, 'last-call').isHidden(), true, 'a dismissed last call stays dismissed after a reload');
  await page.close();
});

test('define(): a second registration is harmless and another tag works', async (ctx) => {
  const user = await backend.newUser();
  const page = await open(ctx, user, '#conversations');
  const r = await page.evaluate(async () => {
    const m = await import('/ui/elements/byo-twilio-status.js');
    const again = m.ByoTwilioStatusElement.define('byo-twilio-status');
    const other = m.ByoTwilioStatusElement.define('my-twilio-status');
    const el = document.createElement('my-twilio-status');
    document.body.append(el);
    await new Promise((res) => el.addEventListener('byo-twilio-status-change', res, { once: true }));
    return { same: again === customElements.get('byo-twilio-status'), other: Boolean(other), state: el.getAttribute('state') };
  });
  equal(r.same, true, 'the registered class is returned');
  equal(r.other, true, 'another tag defined');
  equal(r.state, 'not_connected', 'the element under the other tag works');
  await page.close();
});

test('no script errors on any page', async (ctx) => {
  assert(ctx.errors.length === 0, ctx.errors.join('; '));
});

process.exitCode = await run('web', {
  async before(ctx) {
    ctx.errors = [];
    ctx.browser = await launch();
  },
  async after(ctx) {
    await ctx.browser?.close();
    await backend.close();
  },
});
