// <byo-twilio-settings>: the form where a user connects their own Twilio account.
//
//   <byo-twilio-settings></byo-twilio-settings>
//
// Fields: Account SID, Auth Token, Conversations Service SID, Messaging Service SID, SMS Number; a "Test & Save"
// button and, once connected, "Disconnect". Formats are checked as the user types (messages tied to the fields
// with aria-describedby and aria-invalid). On save the auth token is sealed in the browser with web/seal-token.js
// to the server's key (owner = the adapter's user id), so no plaintext token leaves the page; Twilio's checks run
// server-side and each failed check is shown next to its field with Twilio's reason. The saved token is never
// shown: only its masked form.
// Parts: base, form, field, label, input, help, error, actions, save-button, disconnect-button, message, saved.
// Events: byo-twilio-settings-load {settings}, byo-twilio-settings-saved {settings},
// byo-twilio-settings-error {error, check}, byo-twilio-disconnected {disconnected}.
import { BaseElement, TOKENS_CSS, adoptStyles, defineElement, emit, escapeHtml, resolveApi } from '../internal/base.js';
import { sealToken } from '../seal-token.js';

const HEX32 = '[0-9a-fA-F]{32}';
export const FIELDS = [
  { name: 'account_sid', label: 'Account SID', required: true, pattern: new RegExp(`^AC${HEX32}$`),
    help: 'Starts with AC, then 32 hexadecimal characters. Twilio Console, Account Info.',
    invalid: 'An Account SID is AC followed by 32 hexadecimal characters (0-9, a-f).', placeholder: 'AC…' },
  { name: 'auth_token', label: 'Auth Token', required: true, pattern: new RegExp(`^${HEX32}$`), secret: true,
    help: 'The account\'s Auth Token: 32 hexadecimal characters. It is encrypted in your browser before it is sent.',
    invalid: 'An Auth Token is 32 hexadecimal characters (0-9, a-f).' },
  { name: 'conversations_service_sid', label: 'Conversations Service SID', pattern: new RegExp(`^IS${HEX32}$`),
    help: 'Optional. Starts with IS, then 32 hexadecimal characters.',
    invalid: 'A Conversations Service SID is IS followed by 32 hexadecimal characters.', placeholder: 'IS…' },
  { name: 'messaging_service_sid', label: 'Messaging Service SID', pattern: new RegExp(`^MG${HEX32}$`),
    help: 'Optional. Starts with MG, then 32 hexadecimal characters.',
    invalid: 'A Messaging Service SID is MG followed by 32 hexadecimal characters.', placeholder: 'MG…' },
  { name: 'sms_number', label: 'SMS Number', pattern: /^\+[1-9][0-9]{1,14}$/, type: 'tel',
    help: 'Optional. In E.164 form: +, country code and number, e.g. +15005550006.',
    invalid: 'Use E.164: a + then 2 to 15 digits, the first not 0 (e.g. +15005550006).', placeholder: '+1…' },
];

// The API's `check` names (the failing Twilio check) → the field it is about.
const CHECK_FIELD = {
  account: 'account_sid',
  credentials: 'auth_token',
  conversations_service: 'conversations_service_sid',
  messaging_service: 'messaging_service_sid',
  sms_number: 'sms_number',
};

const CSS = `${TOKENS_CSS}
:host { display: block; max-width: var(--byo-twilio-settings-max-width, 36rem); }
form { display: grid; gap: 1rem; }
[part~="field"] { display: grid; gap: 0.3rem; }
label { font-weight: 600; }
.req { color: var(--_muted); font-weight: 400; }
input { width: 100%; font-family: var(--byo-twilio-mono-font, ui-monospace, "SFMono-Regular", Menlo, monospace); }
[part~="help"] { color: var(--_muted); font-size: 0.875em; margin: 0; }
[part~="error"] { color: var(--_danger); font-size: 0.875em; margin: 0; font-weight: 600; }
[part~="error"]:empty { display: none; }
[part="actions"] { display: flex; flex-wrap: wrap; gap: 0.75rem; align-items: center; }
[part="message"] { margin: 0; padding: 0.6em 0.8em; border-radius: var(--_radius); border: 1px solid; }
[part="message"]:empty { display: none; }
[part="message"].ok { border-color: var(--_success); color: var(--_success); background: #f0fff4; }
[part="message"].bad { border-color: var(--_danger); color: var(--_danger); background: #fff5f5; }
[part="message"].info { border-color: var(--_border); color: var(--_text); background: var(--_surface); }
[part="saved"] { margin: 0; color: var(--_muted); font-size: 0.875em; }
.spinner {
  display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.4em; vertical-align: -0.1em;
  border: 2px solid currentColor; border-right-color: transparent; border-radius: 50%;
  animation: spin 0.8s linear infinite;
}
@keyframes spin { to { transform: rotate(360deg); } }
@media (prefers-reduced-motion: reduce) { .spinner { animation: none; } }
`;

export class ByoTwilioSettingsElement extends BaseElement {
  static define(tag = 'byo-twilio-settings', registry = globalThis.customElements) {
    return defineElement(this, tag, registry);
  }

  get api() { return resolveApi(this); }
  set api(value) { this._api = value; if (this.isConnected) this.load(); }

  /** The saved settings row (token masked), or null when none. */
  get settings() { return this._settings || null; }

  connectedCallback() {
    if (!this.shadowRoot) this._build();
    this._onApi = () => this.load();
    globalThis.addEventListener('byo-twilio-api-change', this._onApi);
    this.load();
  }

  disconnectedCallback() {
    globalThis.removeEventListener('byo-twilio-api-change', this._onApi);
  }

  _build() {
    const root = this.attachShadow({ mode: 'open' });
    const id = (name, what) => `${name}-${what}`;
    const fields = FIELDS.map((f) => `
      <div part="field field-${f.name}">
        <label part="label" for="${id(f.name, 'input')}">${escapeHtml(f.label)}${f.required ? ' <span class="req">(required)</span>' : ''}</label>
        <input part="input" id="${id(f.name, 'input')}" name="${f.name}" type="${f.secret ? 'password' : f.type || 'text'}"
          autocomplete="off" spellcheck="false" autocapitalize="off" ${f.required ? 'aria-required="true"' : ''}
          ${f.placeholder ? `placeholder="${escapeHtml(f.placeholder)}"` : ''}
          aria-describedby="${id(f.name, 'error')} ${id(f.name, 'help')}${f.secret ? ` ${id(f.name, 'saved')}` : ''}">
        ${f.secret ? `<p part="saved" id="${id(f.name, 'saved')}"></p>` : ''}
        <p part="help" id="${id(f.name, 'help')}">${escapeHtml(f.help)}</p>
        <p part="error" id="${id(f.name, 'error')}"></p>
      </div>`).join('');
    root.innerHTML = `<div part="base">
      <form part="form" novalidate aria-label="Twilio settings">
        ${fields}
        <p part="message" role="status" aria-live="polite"></p>
        <div part="actions">
          <button part="save-button" type="submit">Test &amp; Save</button>
          <button part="disconnect-button" class="secondary" type="button" hidden>Disconnect</button>
        </div>
      </form></div>`;
    adoptStyles(root, CSS);
    const form = root.querySelector('form');
    form.addEventListener('submit', (e) => { e.preventDefault(); this.save(); });
    form.addEventListener('input', (e) => {
      const f = FIELDS.find((x) => x.name === e.target.name);
      if (f) { this._serverErrors.delete(f.name); this._validateField(f, { typing: true }); }
    });
    form.addEventListener('focusout', (e) => {
      const f = FIELDS.find((x) => x.name === e.target.name);
      if (f && e.target.value !== '') this._validateField(f, { typing: false });
    });
    root.querySelector('[part~="disconnect-button"]').addEventListener('click', () => this.disconnect());
    this._serverErrors = new Map();
  }

  _input(name) { return this.shadowRoot.querySelector(`input[name="${name}"]`); }

  _setFieldError(name, text) {
    this.shadowRoot.getElementById(`${name}-error`).textContent = text || '';
    const input = this._input(name);
    if (text) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
  }

  // While typing, a value is flagged only once it cannot become valid any more (wrong prefix, a non-hex
  // character, too long) or when the field loses focus; a blank required field is flagged on save.
  _validateField(f, { typing = false, submitting = false } = {}) {
    const value = this._input(f.name).value.trim();
    let error = '';
    if (value === '') {
      if (f.required && submitting) {
        error = f.secret && this._settings ? 'Enter the Auth Token again to save changes.' : `${f.label} is required.`;
      }
    } else if (!f.pattern.test(value)) {
      error = typing && couldStillMatch(f, value) ? '' : f.invalid;
    }
    if (!error && this._serverErrors.has(f.name)) error = this._serverErrors.get(f.name);
    this._setFieldError(f.name, error);
    return !error;
  }

  _message(text, kind = 'info') {
    const el = this.shadowRoot.querySelector('[part="message"]');
    el.className = kind;
    el.setAttribute('role', kind === 'bad' ? 'alert' : 'status');
    el.textContent = text || '';
  }

  _busy(on, label) {
    const button = this.shadowRoot.querySelector('[part~="save-button"]');
    this._isBusy = on;
    button.setAttribute('aria-disabled', String(on));
    button.innerHTML = on ? `<span class="spinner" aria-hidden="true"></span>${escapeHtml(label)}` : 'Test &amp; Save';
    this.shadowRoot.querySelector('form').setAttribute('aria-busy', String(on));
    this.toggleAttribute('busy', on);
  }

  async load() {
    const api = this.api;
    if (!api || !this.shadowRoot) return;
    this._busy(true, 'Loading…');
    this._message('Loading your Twilio settings…');
    try {
      const settings = await api.getSettings();
      this._fill(settings);
      this._message(settings ? '' : 'No Twilio account connected yet.');
      emit(this, 'settings-load', { settings });
    } catch (err) {
      this._message(`Could not load your settings: ${err.message}`, 'bad');
    } finally {
      this._busy(false);
    }
  }

  _fill(settings) {
    this._settings = settings || null;
    for (const f of FIELDS) {
      if (f.secret) continue;
      const input = this._input(f.name);
      if (settings) input.value = settings[f.name] || '';
    }
    this._input('auth_token').value = '';
    const saved = this.shadowRoot.getElementById('auth_token-saved');
    saved.textContent = settings?.auth_token_masked
      ? `Saved token: ${settings.auth_token_masked}. Enter it again to change these settings.`
      : settings ? 'The saved token cannot be read: enter it again.' : '';
    this.shadowRoot.querySelector('[part~="disconnect-button"]').hidden = !settings;
    this.toggleAttribute('saved', Boolean(settings));
  }

  /** Validates, seals the token, and asks the API to test and save. Resolves with the saved row or null. */
  async save() {
    if (this._isBusy) return null;
    this._serverErrors.clear();
    const bad = FIELDS.filter((f) => !this._validateField(f, { submitting: true }));
    if (bad.length) {
      this._message(`Please fix ${bad.length === 1 ? 'the highlighted field' : `${bad.length} highlighted fields`}.`, 'bad');
      this._input(bad[0].name).focus();
      return null;
    }
    const api = this.api;
    if (!api) { this._message('Not configured: no API adapter.', 'bad'); return null; }
    if (!globalThis.crypto?.subtle) {
      this._message('Not saved: this page must be served over HTTPS (or from localhost) to encrypt the token.', 'bad');
      return null;
    }
    const values = Object.fromEntries(FIELDS.map((f) => [f.name, this._input(f.name).value.trim()]));
    this._busy(true, 'Testing with Twilio…');
    this._message('Testing your settings with Twilio…');
    try {
      const [key, owner] = await Promise.all([api.getSealingKey(), api.getUserId()]);
      const sealed = await sealToken({ key, owner, accountSid: values.account_sid, token: values.auth_token });
      const body = { account_sid: values.account_sid, auth_token: sealed };
      for (const name of ['conversations_service_sid', 'messaging_service_sid', 'sms_number']) {
        body[name] = values[name] || null;
      }
      const settings = await api.saveSettings(body);
      this._fill(settings);
      for (const f of FIELDS) this._setFieldError(f.name, '');
      this._message('Saved. Twilio accepted these settings.', 'ok');
      emit(this, 'settings-saved', { settings });
      return settings;
    } catch (err) {
      this._showError(err);
      emit(this, 'settings-error', { error: err, check: err.check || null });
      return null;
    } finally {
      this._busy(false);
    }
  }

  _showError(err) {
    const field = fieldFor(err);
    const text = [err.message, err.hint].filter(Boolean).join(' ');
    if (field) {
      this._serverErrors.set(field, text);
      this._setFieldError(field, text);
      const label = FIELDS.find((f) => f.name === field).label;
      this._message(`Not saved: Twilio did not accept the ${label}.`, 'bad');
      this._input(field).focus();
    } else {
      this._message(`Not saved: ${text || 'the request failed'}`, 'bad');
    }
  }

  /** Removes the user's settings (DELETE /settings). */
  async disconnect() {
    const api = this.api;
    if (!api || this._isBusy) return false;
    this._busy(true, 'Disconnecting…');
    try {
      const disconnected = await api.disconnect();
      this._fill(null);
      for (const f of FIELDS) { this._input(f.name).value = ''; this._setFieldError(f.name, ''); }
      this._message('Disconnected. Your token was deleted.', 'ok');
      this.shadowRoot.querySelector('[part~="save-button"]').focus();
      emit(this, 'disconnected', { disconnected });
      return disconnected;
    } catch (err) {
      this._message(`Could not disconnect: ${err.message}`, 'bad');
      return false;
    } finally {
      this._busy(false);
    }
  }
}

// A prefix of a valid value (e.g. "AC12") is not an error yet while the user types.
function couldStillMatch(f, value) {
  const prefix = { account_sid: 'AC', conversations_service_sid: 'IS', messaging_service_sid: 'MG' }[f.name];
  if (prefix) {
    if (!prefix.startsWith(value.slice(0, 2))) return false;
    return /^[0-9a-fA-F]*$/.test(value.slice(2)) && value.length < 34;
  }
  if (f.name === 'auth_token') return /^[0-9a-fA-F]*$/.test(value) && value.length < 32;
  if (f.name === 'sms_number') return /^\+([1-9][0-9]{0,13})?$/.test(value);
  return false;
}

// Which field an API error is about: the failed Twilio check, else a field named in a 400's message.
function fieldFor(err) {
  if (err.check && CHECK_FIELD[err.check]) return CHECK_FIELD[err.check];
  const m = /^([a-z_]+) check failed/.exec(err.message || '');
  if (m && CHECK_FIELD[m[1]]) return CHECK_FIELD[m[1]];
  if (err.status === 400 || err.code === '22023') {
    return FIELDS.map((f) => f.name).find((name) => (err.message || '').includes(name)) || null;
  }
  return null;
}

export default ByoTwilioSettingsElement;
