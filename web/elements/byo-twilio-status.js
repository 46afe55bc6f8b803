// <byo-twilio-status>: the "Twilio Connected" indicator for an app's header.
//
//   <byo-twilio-status></byo-twilio-status>
//
// Gray dot "Checking Twilio..." while it asks the API, green "Twilio Connected", red "Twilio Not Connected" (the
// reason in its title and in the live region's text for screen readers). Refreshes on `byo-twilio-settings-saved`
// and `byo-twilio-disconnected` anywhere in the page, or when `refresh()` is called.
// Attribute `state` (reflected, read-only): loading | connected | not_connected | disabled | error.
// Parts: base, dot, label, reason. CSS: --byo-twilio-success-color, --byo-twilio-danger-color,
// --byo-twilio-pending-color, --byo-twilio-status-dot-size, and the shared --byo-twilio-* tokens.
// Events: byo-twilio-status-change {status, error}.
import { BaseElement, TOKENS_CSS, adoptStyles, defineElement, emit, resolveApi } from '../internal/base.js';

const CSS = `${TOKENS_CSS}
:host { display: inline-block; font-size: var(--byo-twilio-status-font-size, 0.875rem); }
[part="base"] { display: inline-flex; align-items: center; gap: 0.5em; line-height: 1.4; }
[part="dot"] {
  width: var(--byo-twilio-status-dot-size, 0.7em); height: var(--byo-twilio-status-dot-size, 0.7em);
  border-radius: 50%; background: var(--_pending); flex: none;
}
:host([state="connected"]) [part="dot"] { background: var(--_success); }
:host([state="not_connected"]) [part="dot"], :host([state="disabled"]) [part="dot"],
:host([state="error"]) [part="dot"] { background: var(--_danger); }
[part="reason"] { color: var(--_muted); }
:host(:not([show-reason])) [part="reason"] {
  position: absolute; width: 1px; height: 1px; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap;
}
`;

const LABELS = {
  loading: 'Checking Twilio...',
  connected: 'Twilio Connected',
  not_connected: 'Twilio Not Connected',
  disabled: 'Twilio Not Connected',
  error: 'Twilio Not Connected',
};

export class ByoTwilioStatusElement extends BaseElement {
  static define(tag = 'byo-twilio-status', registry = globalThis.customElements) {
    return defineElement(this, tag, registry);
  }

  /** The adapter (see web/adapters/); defaults to the page-wide one from setDefaultApi(). */
  get api() { return resolveApi(this); }
  set api(value) { this._api = value; if (this.isConnected) this.refresh(); }

  /** The last answer of GET /status, or null. */
  get status() { return this._status || null; }
  get state() { return this.getAttribute('state') || 'loading'; }

  connectedCallback() {
    if (!this.shadowRoot) {
      const root = this.attachShadow({ mode: 'open' });
      root.innerHTML = `<span part="base" role="status" aria-live="polite" aria-atomic="true">
        <span part="dot" aria-hidden="true"></span><span part="label"></span><span part="reason"></span></span>`;
      adoptStyles(root, CSS);
    }
    this._onChange = () => this.refresh();
    document.addEventListener('byo-twilio-settings-saved', this._onChange);
    document.addEventListener('byo-twilio-disconnected', this._onChange);
    globalThis.addEventListener('byo-twilio-api-change', this._onChange);
    this.refresh();
  }

  disconnectedCallback() {
    document.removeEventListener('byo-twilio-settings-saved', this._onChange);
    document.removeEventListener('byo-twilio-disconnected', this._onChange);
    globalThis.removeEventListener('byo-twilio-api-change', this._onChange);
  }

  /** Asks the API again; resolves with the status (or null after an error, shown as not connected). */
  async refresh() {
    const api = this.api;
    const seq = (this._seq = (this._seq || 0) + 1);
    this._render('loading', '');
    if (!api) return null; // stays "Checking" until an adapter is given
    let status = null;
    let error = null;
    try {
      status = await api.getStatus();
    } catch (err) {
      error = err;
    }
    if (seq !== this._seq || !this.isConnected) return status; // a newer refresh won
    this._status = status;
    if (status) this._render(status.state in LABELS ? status.state : 'error', status.state === 'connected' ? '' : status.reason || '');
    else this._render('error', `Could not check Twilio: ${error?.message || 'no answer'}`);
    emit(this, 'status-change', { status, error });
    return status;
  }

  _render(state, reason) {
    this.setAttribute('state', state);
    const root = this.shadowRoot;
    const base = root.querySelector('[part="base"]');
    root.querySelector('[part="label"]').textContent = LABELS[state];
    root.querySelector('[part="reason"]').textContent = reason ? `: ${reason}` : '';
    base.setAttribute('aria-busy', String(state === 'loading'));
    if (reason) base.title = reason; else base.removeAttribute('title');
  }
}

export default ByoTwilioStatusElement;
