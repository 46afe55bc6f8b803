// The demo app: served by the relay at /ui/demo/, it calls the relay's API on the same origin.
import { setDefaultApi } from '../index.js';
import { createRelayApi } from '../adapters/relay.js';

const TOKEN_KEY = 'byo-twilio-demo-jwt';
const $ = (sel) => document.querySelector(sel);

// The user's id is the JWT's `sub` (decoded for display and sealing only; the relay verifies the token).
function subject(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part.padEnd(Math.ceil(part.length / 4) * 4, '='))).sub || null;
  } catch {
    return null;
  }
}

function start(jwt) {
  setDefaultApi(createRelayApi({ baseUrl: '', getToken: () => jwt, userId: () => subject(jwt) }));
  $('#signin').hidden = true;
  route();
  loadMessages();
}

function route() {
  if (!localStorage.getItem(TOKEN_KEY)) return;
  const page = (location.hash || '#conversations').slice(1);
  const known = ['conversations', 'actions', 'settings', 'analytics'].includes(page) ? page : 'conversations';
  for (const section of document.querySelectorAll('section[data-page]')) section.hidden = section.id !== `page-${known}`;
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.page === known) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const titles = { conversations: 'Conversations', actions: 'Manual actions', settings: 'Settings', analytics: 'Analytics' };
  document.title = `${titles[known]} · byo_twilio demo`;
}

async function loadMessages() {
  const api = (await import('../index.js')).getDefaultApi();
  const state = $('#messages-state');
  const list = $('#messages');
  state.textContent = 'Loading messages…';
  try {
    const messages = await api.listMessages();
    list.replaceChildren(...messages.slice(0, 20).map((m) => {
      const li = document.createElement('li');
      const meta = document.createElement('div');
      meta.className = 'meta';
      meta.textContent = `${m.direction === 'inbound' ? 'From' : 'To'} ${m.direction === 'inbound' ? m.from_number : m.to_number} · ${m.status}`;
      const body = document.createElement('div');
      body.textContent = m.body;
      li.append(meta, body);
      const number = m.direction === 'inbound' ? m.from_number : m.to_number;
      if (number) li.append(callButton(number));
      return li;
    }));
    state.textContent = messages.length ? '' : 'No messages yet.';
  } catch (err) {
    state.textContent = `Could not load messages: ${err.message}`;
  }
}

// Call from the conversation: the call goes to the top of the manual-actions queue, where the dialer places it and
// records its outcome (the Manual actions page shows it next).
function callButton(number) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'call-lead';
  button.textContent = 'Call';
  button.setAttribute('aria-label', `Call ${number}`);
  button.addEventListener('click', async () => {
    const api = (await import('../index.js')).getDefaultApi();
    const state = $('#messages-state');
    button.disabled = true;
    try {
      await api.createAction({ kind: 'call', title: `Call ${number}`, phone: number, priority: 100 });
      location.hash = '#actions';
      $('#dialer').load();
    } catch (err) {
      state.textContent = `Could not queue the call: ${err.message}`;
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

$('#composer').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  const api = (await import('../index.js')).getDefaultApi();
  const state = $('#composer-state');
  state.textContent = 'Sending…';
  try {
    await api.sendSms({ to: form.to.value.trim(), body: form.body.value });
    state.textContent = 'Queued for sending.';
    form.body.value = '';
    loadMessages();
  } catch (err) {
    state.textContent = `Not sent: ${err.message}`;
  }
});

$('#add-action').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  const api = (await import('../index.js')).getDefaultApi();
  const state = $('#add-action-state');
  state.textContent = 'Adding…';
  try {
    const action = await api.createAction({
      kind: form.kind.value, title: form.title.value.trim(), phone: form.phone.value.trim() || null,
      time_zone: form.time_zone.value.trim() || null,
    });
    state.textContent = `Added: ${action.title}.`;
    form.title.value = '';
    form.phone.value = '';
    $('#dialer').load();
  } catch (err) {
    state.textContent = `Not added: ${err.message}`;
  }
});

$('#signin-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const jwt = e.currentTarget.jwt.value.trim();
  localStorage.setItem(TOKEN_KEY, jwt);
  start(jwt);
});

window.addEventListener('hashchange', () => {
  route();
  $('#main').focus();
});

const saved = localStorage.getItem(TOKEN_KEY);
if (saved) start(saved);
else $('#signin').hidden = false;
