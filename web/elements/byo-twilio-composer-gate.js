// <byo-twilio-composer-gate>: wraps an app's message composer and disables it while Twilio is not connected.
//
//   <byo-twilio-composer-gate settings-href="/settings">
//     <form>...your composer...</form>
//   </byo-twilio-composer-gate>
//
// While the status is being checked, and whenever it is not `connected` (or `can_send` is false), every slotted
// element gets `inert` and `aria-disabled="true"` (the element puts back what it changed), and a notice with a
// link to `settings-href` is shown above the composer. Refreshes on `byo-twilio-settings-saved` and
// `byo-twilio-disconnected`.
// Attributes: settings-href, link-text (default "Connect Twilio in Settings"); `state` reflected (read-only):
// loading | connected | not_connected | disabled | error. Parts: base, notice, message, link, content.
// Events: byo-twilio-gate-change {connected, status}.
import { BaseElement, TOKENS_CSS, adoptStyles, defineElement, emit, resolveApi } from '../internal/base.js';

const CSS = `${TOKENS_CSS}
:host { display: block; }
[part="notice"] {
  display: flex; flex-wrap: wrap; gap: 0.25em 0.75em; align-items: baseline; margin-bottom: 0.5em;
  padding: 0.6em 0.8em; border: 1px solid var(--_danger); border-left-width: 4px; border-radius: var(--_radius);
  background: var(--byo-twilio-notice-background, #fff5f5); color: var(--_text);
}
:host([state="loading"]) [part="notice"] { border-color: var(--_pending); background: var(--_surface); }
[part="link"] { color: var(--_accent); font-weight: 600; }
:host(:not([state="connected"])) [part="content"] { opacity: var(--byo-twilio-disabled-opacity, 0.55); }
`;

const MARK = 'data-byo-twilio-gated';

export class ByoTwilioComposerGateElement extends BaseElement {
  static define(tag = 'byo-twilio-composer-gate', registry = globalThis.customElements) {
    return defineElement(this, tag, registry);
  }

  static get observedAttributes() { return ['settings-href', 'link-text']; }

  get api() { return resolveApi(this); }
  set api(value) { this._api = value; if (this.isConnected) this.refresh(); }

  get settingsHref() { return this.getAttribute('settings-href') || '#settings'; }
  set settingsHref(v) { this.setAttribute('settings-href', v); }

  /** True when the composer is enabled. */
  get connected() { return this.getAttribute('state') === 'connected'; }

  connectedCallback() {
    if (!this.shadowRoot) {
      const root = this.attachShadow({ mode: 'open' });
      root.innerHTML = `<div part="base">
        <div part="notice" role="status" aria-live="polite" hidden>
          <span part="message"></span><a part="link" hidden></a></div>
        <div part="content"><slot></slot></div></div>`;
      adoptStyles(root, CSS);
      root.querySelector('slot').addEventListener('slotchange', () => this._apply());
    }
    this._onChange = () => this.refresh();
    document.addEventListener('byo-twilio-settings-saved', this._onChange);
    document.addEventListener('byo-twilio-disconnected', this._onChange);
    globalThis.addEventListener('byo-twilio-api-change', this._onChange);
    this._renderLink();
    this.refresh();
  }

  disconnectedCallback() {
    document.removeEventListener('byo-twilio-settings-saved', this._onChange);
    document.removeEventListener('byo-twilio-disconnected', this._onChange);
    globalThis.removeEventListener('byo-twilio-api-change', this._onChange);
  }

  attributeChangedCallback() {
    if (this.shadowRoot) this._renderLink();
  }

  async refresh() {
    const seq = (this._seq = (this._seq || 0) + 1);
    this._set('loading', null);
    const api = this.api;
    if (!api) return null;
    let status = null;
    try {
      status = await api.getStatus();
    } catch (err) {
      status = { state: 'error', reason: `Could not check Twilio: ${err.message}`, can_send: false };
    }
    if (seq !== this._seq) return status;
    const connected = status.state === 'connected' && status.can_send !== false;
    this._set(connected ? 'connected' : status.state || 'error', status);
    emit(this, 'gate-change', { connected, status });
    return status;
  }

  _set(state, status) {
    this.setAttribute('state', state);
    const root = this.shadowRoot;
    const notice = root.querySelector('[part="notice"]');
    const link = root.querySelector('[part="link"]');
    const message = root.querySelector('[part="message"]');
    if (state === 'connected') {
      notice.hidden = true;
    } else if (state === 'loading') {
      notice.hidden = false;
      link.hidden = true;
      message.textContent = 'Checking Twilio...';
    } else {
      notice.hidden = false;
      link.hidden = false;
      const reason = status?.reason ? ` (${status.reason})` : '';
      message.textContent = `Messaging is off: Twilio is not connected${reason}.`;
    }
    this._apply();
  }

  _renderLink() {
    const link = this.shadowRoot.querySelector('[part="link"]');
    link.href = this.settingsHref;
    link.textContent = this.getAttribute('link-text') || 'Connect Twilio in Settings';
  }

  // Disables or re-enables the slotted composer. Only what this element set is undone.
  _apply() {
    const off = this.getAttribute('state') !== 'connected';
    const content = this.shadowRoot.querySelector('[part="content"]');
    content.toggleAttribute('inert', off);
    for (const el of this.shadowRoot.querySelector('slot').assignedElements()) {
      if (off && !el.hasAttribute(MARK)) {
        el.setAttribute(MARK, `${el.hasAttribute('inert') ? 'i' : ''}${el.getAttribute('aria-disabled') ?? '-'}`);
        el.inert = true;
        el.setAttribute('aria-disabled', 'true');
      } else if (!off && el.hasAttribute(MARK)) {
        const saved = el.getAttribute(MARK);
        el.removeAttribute(MARK);
        el.inert = saved.startsWith('i');
        const aria = saved.replace(/^i/, '');
        if (aria === '-') el.removeAttribute('aria-disabled'); else el.setAttribute('aria-disabled', aria);
      }
    }
  }
}

export default ByoTwilioComposerGateElement;
