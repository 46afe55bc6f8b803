// <byo-twilio-dialer>: the Manual Actions tab. The user's queue of calls, texts and follow-ups, the action being
// worked on with its Call button, the call's live status, outcome buttons, and auto-advance to the next action.
//
//   <byo-twilio-dialer settings-href="/settings"></byo-twilio-dialer>
//
// Call places a click-to-call (POST /calls): Twilio rings the user's own phone (the dialer settings' "Your phone")
// and bridges to the lead. Before that the element asks the API whether the call would go through (the same SQL
// checks, nothing written), so a Call that cannot work is disabled with the database's reason next to it: Twilio
// not connected, no agent phone, the number on the do-not-call list, outside calling hours in the lead's time zone.
// While a call is live its status is polled (GET /calls/{id}) and read out. An outcome button (or Skip) finishes
// the action; with auto-advance on, the next action comes back at once and becomes current. When a call ends the
// database finishes the action itself (outcome: how the call went) and the element follows: the next action becomes
// current, and the ended call stays in a "Last call" card whose outcome buttons record what the call achieved
// (complete on a done action amends its outcome). The card survives a reload of the tab until it is dismissed.
// Attributes: settings-href (where "Connect Twilio" leads; default #settings), poll-interval (ms, default 2000).
// Reflected (read-only): state = loading | ready | empty | error; call-status = the agent leg's voice_calls status
// and lead-status = the lead leg's, while a call is shown. Parts: base, message, current, card, title, details,
// call-button, call-reason, call-status, outcomes, outcome-button, notes, skip-button, start-button, last-call,
// last-call-title, last-call-status, last-call-outcome, last-outcome-button, last-notes, last-call-dismiss, queue,
// list, item, settings, settings-form.
// Events: byo-twilio-dialer-load {action, queue}, byo-twilio-dialer-call {call},
// byo-twilio-dialer-call-status {call, legs, action}, byo-twilio-dialer-call-end {call, legs, action},
// byo-twilio-dialer-complete {action_id, outcome, next, amended}, byo-twilio-dialer-error {error}.
import { BaseElement, TOKENS_CSS, adoptStyles, defineElement, emit, escapeHtml, resolveApi } from '../internal/base.js';
import { describeCall, isLive } from '../internal/call-status.js';

const KIND = { call: 'Call', text: 'Text', follow_up: 'Follow-up' };
const OUTCOMES = {
  call: [['connected', 'Connected'], ['no_answer', 'No answer'], ['voicemail', 'Voicemail'], ['busy', 'Busy'],
    ['wrong_number', 'Wrong number'], ['not_interested', 'Not interested'], ['callback', 'Call back later'],
    ['do_not_call', 'Do not call'], ['other', 'Other']],
  text: [['sent', 'Sent'], ['wrong_number', 'Wrong number'], ['do_not_call', 'Do not call'], ['other', 'Other']],
  follow_up: [['other', 'Done'], ['callback', 'Call back later']],
};
// Outcomes a call sets itself, besides the ones a user picks.
const CALL_SET = { failed: 'Failed', canceled: 'Canceled', agent_unreachable: 'You did not answer' };
const outcomeLabel = (o, kind = 'call') => (OUTCOMES[kind] || []).find(([v]) => v === o)?.[1]
  || OUTCOMES.call.find(([v]) => v === o)?.[1] || CALL_SET[o] || String(o || '').replace(/_/g, ' ');

const CSS = `${TOKENS_CSS}
:host { display: block; }
[part="base"] { display: grid; gap: 1rem; }
.layout { display: grid; gap: 1.25rem; grid-template-columns: repeat(auto-fit, minmax(19rem, 1fr)); align-items: start; }
section { border: 1px solid var(--_border); border-radius: calc(var(--_radius) + 2px); padding: 1rem 1.25rem; background: var(--_bg); }
h2 { font-size: 1.05rem; margin: 0 0 0.75rem; }
h3 { font-size: 1.25rem; margin: 0.1rem 0 0.25rem; }
h3:focus { outline: none; }
h3:focus-visible { outline: 3px solid var(--_focus); outline-offset: 2px; }
p { margin: 0.25rem 0; }
.kind { display: inline-block; font-size: 0.8em; font-weight: 600; text-transform: uppercase; letter-spacing: 0.04em; color: var(--_muted); }
[part="details"] { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 0.75rem; margin: 0.5rem 0; font-size: 0.925em; }
[part="details"] dt { color: var(--_muted); }
[part="details"] dd { margin: 0; }
.phone { font-variant-numeric: tabular-nums; font-size: 1.1em; }
.notes-text { white-space: pre-wrap; background: var(--_surface); border-radius: var(--_radius); padding: 0.5em 0.7em; }
.call-row { display: flex; flex-wrap: wrap; gap: 0.5rem 0.75rem; align-items: center; margin: 0.75rem 0 0.5rem; }
[part~="call-button"] { background: var(--_success); border-color: var(--_success); font-size: 1.05em; padding: 0.55em 1.4em; }
[part~="call-button"][aria-disabled="true"] {
  background: var(--_surface); color: var(--_muted); border-color: var(--_border); opacity: 1; cursor: not-allowed;
}
[part="call-reason"] { margin: 0; font-size: 0.925em; }
[part="call-reason"]:empty { display: none; }
[part="call-reason"].bad { color: var(--_danger); font-weight: 600; }
[part="call-reason"] a, [part="call-reason"] button.link {
  color: var(--_accent); font-weight: 600; background: none; border: none; padding: 0; text-decoration: underline; font-size: inherit;
}
[part="call-status"] { margin: 0.25rem 0 0.75rem; padding: 0.5em 0.75em; border-radius: var(--_radius); border: 1px solid var(--_border); background: var(--_surface); }
[part="call-status"]:empty { display: none; }
:host([call-status="in-progress"]) [part="call-status"] { border-color: var(--_success); }
:host([call-status="failed"]) [part="call-status"] { border-color: var(--_danger); }
fieldset { border: none; margin: 0.5rem 0; padding: 0; }
legend { font-weight: 600; padding: 0; margin-bottom: 0.4rem; }
.outcomes { display: flex; flex-wrap: wrap; gap: 0.4rem; }
.outcomes button, button.secondary { background: var(--_bg); color: var(--_accent); }
.outcomes button[aria-pressed="true"] { background: var(--_accent); color: #fff; }
.column { display: grid; gap: 1.25rem; align-content: start; }
[part="last-call"] { border-left: 4px solid var(--_muted); }
[part="last-call-title"] { font-weight: 600; font-size: 1.1em; }
[part="last-call-status"] { margin: 0.25rem 0 0.5rem; }
.last-outcome { margin: 0 0 0.5rem; }
label { font-weight: 600; display: block; margin: 0.5rem 0 0.25rem; }
textarea { font: inherit; width: 100%; color: var(--_text); background: var(--_bg); border: 1px solid var(--_border); border-radius: var(--_radius); padding: 0.45em 0.6em; }
.row { display: flex; flex-wrap: wrap; gap: 0.5rem; margin-top: 0.75rem; align-items: center; }
[part="message"] { margin: 0; padding: 0.6em 0.8em; border-radius: var(--_radius); border: 1px solid var(--_border); background: var(--_surface); }
[part="message"]:empty { display: none; }
[part="message"].bad { border-color: var(--_danger); color: var(--_danger); background: #fff5f5; }
[part="message"].ok { border-color: var(--_success); color: var(--_success); background: #f0fff4; }
[part="list"] { list-style: none; margin: 0; padding: 0; display: grid; gap: 0.4rem; }
[part~="item"] { border: 1px solid var(--_border); border-radius: var(--_radius); padding: 0.45rem 0.7rem; display: grid; gap: 0.1rem; }
[part~="item"][aria-current="true"] { border-color: var(--_accent); border-left-width: 4px; }
.item-title { font-weight: 600; }
.item-meta { color: var(--_muted); font-size: 0.875em; }
.badge { display: inline-block; font-size: 0.75em; font-weight: 600; padding: 0 0.45em; border-radius: 999px; border: 1px solid currentColor; margin-left: 0.4em; }
.queue-note { color: var(--_muted); }
.queue-note.bad { color: var(--_danger); font-weight: 600; }
details { border: 1px solid var(--_border); border-radius: calc(var(--_radius) + 2px); padding: 0.6rem 1.25rem; }
summary { font-weight: 600; cursor: pointer; }
/* Set again: inside <details> the form inherits from the UA's slot, not from :host. */
[part="settings-form"] { box-sizing: border-box; display: grid; gap: 0.25rem 1rem; grid-template-columns: repeat(auto-fit, minmax(12rem, 1fr)); margin-top: 0.5rem; align-items: start; }
[part="settings-form"] > div { min-width: 0; }
[part="settings-form"] input, [part="settings-form"] select { width: 100%; min-width: 0; }
.check { display: flex; gap: 0.5rem; align-items: center; font-weight: 600; margin: 0.5rem 0; }
.check input { width: auto; }
.help { color: var(--_muted); font-size: 0.85em; margin: 0.2rem 0 0; }
.spinner {
  display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.4em; vertical-align: -0.1em;
  border: 2px solid currentColor; border-right-color: transparent; border-radius: 50%; animation: spin 0.8s linear infinite;
}
@keyframes spin { to { transform: rotate(360deg); } }
@media (prefers-reduced-motion: reduce) { .spinner { animation: none; } }
`;

const TEMPLATE = `<div part="base">
  <p part="message" role="status" aria-live="polite"></p>
  <div class="layout">
   <div class="column">
    <section part="last-call" aria-labelledby="last-heading" hidden>
      <h2 id="last-heading">Last call</h2>
      <p><span part="last-call-title"></span> <span class="item-meta last-phone"></span></p>
      <p part="last-call-status"></p>
      <p class="last-outcome">Outcome: <strong part="last-call-outcome"></strong></p>
      <fieldset>
        <legend>Change the outcome to what the call achieved</legend>
        <div class="outcomes last-outcomes"></div>
      </fieldset>
      <label for="last-notes">Notes <span class="help">(added to that action with the outcome)</span></label>
      <textarea part="last-notes" id="last-notes" rows="2" maxlength="4000"></textarea>
      <div class="row"><button part="last-call-dismiss" type="button" class="secondary">Dismiss</button></div>
    </section>
    <section part="current" aria-labelledby="current-heading">
      <h2 id="current-heading">Current action</h2>
      <div part="card" hidden>
        <span class="kind"></span>
        <h3 part="title" tabindex="-1"></h3>
        <dl part="details"></dl>
        <p class="notes-text" hidden></p>
        <div class="call-row" hidden>
          <button part="call-button" type="button" aria-describedby="call-reason">Call</button>
          <p part="call-reason" id="call-reason"></p>
        </div>
        <p part="call-status" role="status" aria-live="polite" aria-atomic="true"></p>
        <fieldset part="outcomes">
          <legend id="outcome-legend">Finish with an outcome</legend>
          <div class="outcomes card-outcomes"></div>
        </fieldset>
        <label for="notes">Notes <span class="help">(saved with the outcome)</span></label>
        <textarea part="notes" id="notes" rows="2" maxlength="4000"></textarea>
        <div class="row"><button part="skip-button" type="button" class="secondary">Skip</button></div>
      </div>
      <div class="idle" hidden>
        <p class="idle-text"></p>
        <div class="row"><button part="start-button" type="button">Start next action</button></div>
      </div>
    </section>
   </div>
    <section part="queue" aria-labelledby="queue-heading">
      <h2 id="queue-heading">Queue</h2>
      <p class="queue-note" role="status" aria-live="polite"></p>
      <ol part="list"></ol>
      <div class="row"><button type="button" class="secondary refresh">Refresh</button></div>
    </section>
  </div>
  <details part="settings">
    <summary>Dialer settings</summary>
    <form part="settings-form" novalidate aria-label="Dialer settings">
      <div><label for="agent_phone">Your phone</label>
        <input id="agent_phone" name="agent_phone" type="tel" autocomplete="tel" placeholder="+14155550123" aria-describedby="agent_phone-help">
        <p class="help" id="agent_phone-help">Twilio rings this number first, then connects you to the lead. E.164, e.g. +14155550123.</p></div>
      <div><label for="calling_hours_start">Calling hours from</label><input id="calling_hours_start" name="calling_hours_start" type="time"></div>
      <div><label for="calling_hours_end">Calling hours until</label><input id="calling_hours_end" name="calling_hours_end" type="time"></div>
      <div><label for="default_time_zone">Leads' time zone</label>
        <input id="default_time_zone" name="default_time_zone" list="time-zones" autocomplete="off" placeholder="America/New_York" aria-describedby="default_time_zone-help">
        <p class="help" id="default_time_zone-help">For actions that have none.</p>
        <datalist id="time-zones"></datalist></div>
      <div><label class="check"><input type="checkbox" name="auto_advance"> Auto-advance to the next action</label>
        <button type="submit">Save dialer settings</button></div>
    </form>
  </details>
</div>`;

export class ByoTwilioDialerElement extends BaseElement {
  static define(tag = 'byo-twilio-dialer', registry = globalThis.customElements) {
    return defineElement(this, tag, registry);
  }

  static get observedAttributes() { return ['settings-href']; }

  get api() { return resolveApi(this); }
  set api(value) { this._api = value; if (this.isConnected) this.load(); }

  /** The action being worked on (in_progress), or null. */
  get action() { return this._action || null; }
  /** The open and in-progress actions of the last load, in queue order. */
  get queue() { return this._queue || []; }
  /** The call shown, as the last poll saw it (the agent leg), or null. */
  get call() { return this._call || null; }
  get settingsHref() { return this.getAttribute('settings-href') || '#settings'; }
  get pollInterval() { return Math.max(250, Number(this.getAttribute('poll-interval')) || 2000); }

  connectedCallback() {
    if (!this.shadowRoot) this._build();
    this._onApi = () => this.load();
    this._onSettings = () => this._checkCall();
    globalThis.addEventListener('byo-twilio-api-change', this._onApi);
    document.addEventListener('byo-twilio-settings-saved', this._onSettings);
    document.addEventListener('byo-twilio-disconnected', this._onSettings);
    this.load();
  }

  disconnectedCallback() {
    globalThis.removeEventListener('byo-twilio-api-change', this._onApi);
    document.removeEventListener('byo-twilio-settings-saved', this._onSettings);
    document.removeEventListener('byo-twilio-disconnected', this._onSettings);
    this._stopPolling();
  }

  attributeChangedCallback() {
    if (this.shadowRoot && this._reason) this._showReason(this._reason);
  }

  _build() {
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = TEMPLATE;
    adoptStyles(root, CSS);
    this._$ = (sel) => root.querySelector(sel);
    this._$('[part~="call-button"]').addEventListener('click', () => this.placeCall());
    this._$('[part~="skip-button"]').addEventListener('click', () => this.skip());
    this._$('[part~="start-button"]').addEventListener('click', () => this.next());
    this._$('.refresh').addEventListener('click', () => this.load());
    this._$('.card-outcomes').addEventListener('click', (e) => {
      const b = e.target.closest('button[data-outcome]');
      if (b) this.complete(b.dataset.outcome);
    });
    this._$('.last-outcomes').addEventListener('click', (e) => {
      const b = e.target.closest('button[data-outcome]');
      if (b) this.amend(b.dataset.outcome);
    });
    this._$('[part~="last-call-dismiss"]').addEventListener('click', () => this.dismissLastCall());
    this._$('[part="settings-form"]').addEventListener('submit', (e) => { e.preventDefault(); this.saveSettings(); });
    this._$('[part="call-reason"]').addEventListener('click', (e) => {
      if (!e.target.matches('button.link')) return;
      this._$('details').open = true;
      this._$('#agent_phone').focus();
    });
    const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
    this._$('#time-zones').replaceChildren(...zones.map((z) => Object.assign(document.createElement('option'), { value: z })));
  }

  _message(text, kind = 'info') {
    const el = this._$('[part="message"]');
    el.className = kind === 'info' ? '' : kind;
    el.setAttribute('role', kind === 'bad' ? 'alert' : 'status');
    el.textContent = text || '';
  }

  _fail(prefix, err) {
    const text = [err.message, err.hint].filter(Boolean).join(' ');
    this._message(`${prefix}: ${text}`, 'bad');
    emit(this, 'dialer-error', { error: err });
  }

  /** Loads the current action, the queue and the dialer settings. */
  async load() {
    const api = this.api;
    if (!api || !this.shadowRoot) return;
    const seq = (this._seq = (this._seq || 0) + 1);
    this.setAttribute('state', 'loading');
    this._queueNote('Loading your queue…');
    this._$('[part="list"]').setAttribute('aria-busy', 'true');
    try {
      const [action, queue, settings] = await Promise.all([
        api.currentAction(), api.listActions({ status: 'open,in_progress', limit: 100 }),
        api.getDialerSettings().catch(() => null),
      ]);
      if (seq !== this._seq) return;
      this._settings = settings;
      this._fillSettings(settings);
      this._queue = queue;
      this._setAction(action);
      if (!this._last) await this._restoreLastCall();
      if (seq !== this._seq) return;
      this._renderQueue();
      emit(this, 'dialer-load', { action, queue });
    } catch (err) {
      if (seq !== this._seq) return;
      this.setAttribute('state', 'error');
      this._queue = [];
      this._$('[part="list"]').replaceChildren();
      this._queueNote(`Could not load your queue: ${err.message}`, true);
      this._$('[part="card"]').hidden = true;
      this._$('.idle').hidden = true;
      emit(this, 'dialer-error', { error: err });
    } finally {
      this._$('[part="list"]').setAttribute('aria-busy', 'false');
    }
  }

  _queueNote(text, bad = false) {
    const note = this._$('.queue-note');
    note.className = `queue-note${bad ? ' bad' : ''}`;
    note.setAttribute('role', bad ? 'alert' : 'status');
    note.textContent = text;
  }

  _renderQueue() {
    const queue = this._queue || [];
    const open = queue.filter((a) => a.status === 'open');
    this.setAttribute('state', queue.length || this._action ? 'ready' : 'empty');
    this._$('#queue-heading').textContent = `Queue (${open.length} open)`;
    this._queueNote(queue.length ? '' : 'Your queue is empty: no calls, texts or follow-ups to do.');
    this._$('[part="list"]').replaceChildren(...queue.map((a) => {
      const li = document.createElement('li');
      li.setAttribute('part', 'item');
      if (a.id === this._action?.id) li.setAttribute('aria-current', 'true');
      const due = Date.parse(a.due_at);
      const when = a.status === 'in_progress' ? 'in progress'
        : due > Date.now() ? `due ${formatTime(a.due_at)}` : 'due now';
      li.innerHTML = `<span class="item-title">${escapeHtml(a.title)}${a.priority ? `<span class="badge">priority ${escapeHtml(a.priority)}</span>` : ''}</span>
        <span class="item-meta">${escapeHtml(KIND[a.kind] || a.kind)}${a.phone ? ` · ${escapeHtml(a.phone)}` : ''} · ${escapeHtml(when)}</span>`;
      return li;
    }));
    if (!this._action) this._renderIdle();
  }

  _renderIdle() {
    const due = (this._queue || []).filter((a) => a.status === 'open' && Date.parse(a.due_at) <= Date.now());
    const idle = this._$('.idle');
    idle.hidden = false;
    this._$('.idle-text').textContent = due.length
      ? `${due.length} action${due.length === 1 ? ' is' : 's are'} due. Start when you are ready.`
      : (this._queue || []).length ? 'Nothing is due yet.' : 'Nothing to work on.';
    this._$('[part~="start-button"]').hidden = due.length === 0;
  }

  // Shows `action` as the current one (or the idle panel when null) and checks its Call button.
  _setAction(action) {
    this._action = action || null;
    this._call = null;
    this._stopPolling();
    this.removeAttribute('call-status');
    this.removeAttribute('lead-status');
    this._$('[part="call-status"]').textContent = '';
    const card = this._$('[part="card"]');
    if (!action) {
      card.hidden = true;
      this._renderIdle();
      return;
    }
    this._$('.idle').hidden = true;
    card.hidden = false;
    this._$('.kind').textContent = KIND[action.kind] || action.kind;
    this._$('[part="title"]').textContent = action.title;
    const rows = [];
    if (action.phone) rows.push(['Phone', `<span class="phone">${escapeHtml(action.phone)}</span>`]);
    const zone = action.time_zone || this._settings?.default_time_zone || null;
    if (action.phone && zone) {
      const local = localTime(zone);
      if (local) rows.push(['Their time', `${escapeHtml(local)} <span class="item-meta">(${escapeHtml(zone)})</span>`]);
    }
    rows.push(['Due', escapeHtml(formatTime(action.due_at))]);
    if (action.priority) rows.push(['Priority', escapeHtml(action.priority)]);
    this._$('[part="details"]').innerHTML = rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('');
    const notes = this._$('.notes-text');
    notes.hidden = !action.notes;
    notes.textContent = action.notes || '';
    this._$('[part="notes"]').value = '';
    this._$('.card-outcomes').innerHTML = (OUTCOMES[action.kind] || OUTCOMES.call)
      .map(([value, label]) => `<button type="button" part="outcome-button" data-outcome="${value}">${escapeHtml(label)}</button>`).join('');
    this._$('.call-row').hidden = !(action.kind === 'call' && action.phone);
    if (action.kind !== 'call' || !action.phone) return;
    if (action.call_id) this._resumeCall(action);
    else this._checkCall();
  }

  // The action already has a call (the page was reloaded, another tab dialed): follow it while it is live.
  async _resumeCall(action) {
    this._setCallEnabled(false, { text: 'Checking the last call…', busy: true });
    let answer = null;
    try {
      answer = await this.api.getCall(action.call_id);
    } catch {
      answer = null;
    }
    if (this._action?.id !== action.id) return;
    if (answer && isLive(answer.call.status)) {
      this._setCallEnabled(false, { text: 'A call for this action is in progress.' });
      this._showCall(answer.call, answer.legs || [], action);
      this._startPolling(answer.call);
    } else {
      this._checkCall();
    }
  }

  // Asks the API whether Call would go through (POST /calls with tx=rollback: the SQL checks, nothing kept).
  async _checkCall() {
    const action = this._action;
    if (!action || action.kind !== 'call' || !action.phone || this._liveCall()) return;
    const api = this.api;
    const seq = (this._checkSeq = (this._checkSeq || 0) + 1);
    this._setCallEnabled(false, { text: 'Checking whether the call can be placed…', busy: true });
    let reason = null;
    try {
      if (typeof api.checkDial === 'function') await api.checkDial({ action_id: action.id });
      else reason = await fallbackCheck(api, action);
    } catch (err) {
      reason = err.status === 0 || err.status >= 500 ? null : err;
    }
    if (seq !== this._checkSeq || this._action?.id !== action.id || this._liveCall()) return;
    if (reason) this._showReason(reason);
    else this._setCallEnabled(true);
  }

  _setCallEnabled(on, { text = '', busy = false } = {}) {
    const button = this._$('[part~="call-button"]');
    button.setAttribute('aria-disabled', String(!on));
    button.innerHTML = busy ? '<span class="spinner" aria-hidden="true"></span>Call' : 'Call';
    const reason = this._$('[part="call-reason"]');
    reason.className = '';
    reason.textContent = text;
    if (on) this._reason = null;
  }

  // Call is disabled, and the database's reason sits next to it, tied by aria-describedby. Its hint too, unless the
  // hint speaks to developers (names a twilio.* function or table): the links below say what to do instead.
  _showReason(err) {
    this._reason = err;
    this._setCallEnabled(false);
    const reason = this._$('[part="call-reason"]');
    reason.className = 'bad';
    const hint = /\btwilio\.[a-z_]+/.test(err.hint || '') ? null : err.hint;
    const text = `Call is unavailable: ${[err.message, hint].filter(Boolean).join('. ')}`;
    reason.textContent = `${text.replace(/\.*$/, '')}.`;
    if (/agent phone|your phone|agent_phone/i.test(err.message + (err.hint || ''))) {
      reason.append(' ', Object.assign(document.createElement('button'), { type: 'button', className: 'link', textContent: 'Set your phone' }));
    } else if (/Twilio (account|settings)/i.test(err.message)) {
      reason.append(' ', Object.assign(document.createElement('a'), { href: this.settingsHref, textContent: 'Connect Twilio in Settings' }));
    }
  }

  _liveCall() { return this._call && isLive(this._call.status); }

  /** Places the click-to-call for the current action. Resolves with the call row, or null. */
  async placeCall() {
    const action = this._action;
    const button = this._$('[part~="call-button"]');
    if (!action || button.getAttribute('aria-disabled') === 'true') {
      if (this._reason) this._message(this._$('[part="call-reason"]').textContent, 'bad');
      return null;
    }
    this._setCallEnabled(false, { text: 'Placing the call…', busy: true });
    try {
      const call = await this.api.dial({ action_id: action.id });
      this._message('');
      this._setCallEnabled(false, { text: 'A call for this action is in progress.' });
      emit(this, 'dialer-call', { call });
      this._showCall(call, [], action);
      this._startPolling(call);
      return call;
    } catch (err) {
      if (err.status >= 400 && err.status < 500) this._showReason(err);
      else this._setCallEnabled(true);
      this._fail('The call was not placed', err);
      return null;
    }
  }

  _showCall(call, legs, action) {
    this._call = call;
    this.setAttribute('call-status', call.status);
    const lead = legs.find((l) => l.leg === 'lead') || legs[0] || null;
    if (lead) this.setAttribute('lead-status', lead.status);
    else this.removeAttribute('lead-status');
    const queuedFor = call.status === 'queued' ? (Date.now() - Date.parse(call.created_at)) / 1000 : 0;
    this._$('[part="call-status"]').textContent = describeCall({ call, lead, name: action?.title || 'the lead', queuedFor });
  }

  _startPolling(call) {
    this._stopPolling();
    const id = call.id;
    const tick = async () => {
      let answer;
      try {
        answer = await this.api.getCall(id);
      } catch (err) {
        if (this._call?.id !== id) return;
        this._$('[part="call-status"]').textContent = `Could not read the call's status (${err.message}); trying again.`;
        this._timer = setTimeout(tick, this.pollInterval * 2);
        return;
      }
      if (this._call?.id !== id) return;
      this._showCall(answer.call, answer.legs || [], this._action);
      emit(this, 'dialer-call-status', answer);
      if (isLive(answer.call.status)) {
        this._timer = setTimeout(tick, this.pollInterval);
        return;
      }
      this._callEnded(answer);
    };
    this._timer = setTimeout(tick, this.pollInterval);
  }

  _stopPolling() { clearTimeout(this._timer); this._timer = null; }

  // The agent's leg ended. The database has finished the action (or put it back when the agent never answered)
  // and, with auto-advance, claimed the next one: follow it. A finished action stays on as the last call, whose
  // outcome the user may change to what the call achieved. Focus stays where the user left it.
  async _callEnded({ call, legs, action }) {
    const said = this._$('[part="call-status"]').textContent;
    emit(this, 'dialer-call-end', { call, legs, action });
    if (action && action.status === 'in_progress') {
      this._setCallEnabled(false, { text: 'The call ended. Choose an outcome to finish this action.' });
      return;
    }
    if (action?.status === 'done') this._showLastCall({ action, said, callId: call.id });
    const outcome = action?.outcome ? ` Outcome: ${outcomeLabel(action.outcome)}.` : '';
    const back = action?.status === 'open' ? ' The action is back in the queue.' : '';
    await this.load();
    const next = this._action && this._action.id !== action?.id ? ` Next: ${this._action.title}.` : '';
    this._message(`${said}${outcome}${back}${next}`, call.status === 'failed' ? 'bad' : 'info');
  }

  /** The action of the call that ended last, as the element last saw it, or null. */
  get lastCall() { return this._last?.action || null; }

  _showLastCall({ action, said, callId }) {
    this._last = { action, said };
    this._$('[part~="last-notes"]').value = '';
    this._renderLastCall();
    this._$('[part="last-call"]').hidden = false;
    if (callId) rememberLastCall({ call_id: callId, said });
  }

  // After a reload the tab's last call comes back (the tab remembers only its id and sentence; the action, with the
  // outcome as it is now, comes from the API). A call the signed-in user cannot see is forgotten.
  async _restoreLastCall() {
    const kept = recalledLastCall();
    if (!kept) return;
    let answer = null;
    try {
      answer = await this.api.getCall(kept.call_id);
    } catch (err) {
      if (err.status === 404) rememberLastCall(null);
      return;
    }
    if (this._last || answer?.action?.status !== 'done') return;
    this._showLastCall({ action: answer.action, said: kept.said });
  }

  _renderLastCall() {
    const { action, said } = this._last;
    this._$('[part="last-call-title"]').textContent = action.title;
    this._$('.last-phone').textContent = action.phone || '';
    this._$('[part="last-call-status"]').textContent = said;
    this._$('[part="last-call-outcome"]').textContent = outcomeLabel(action.outcome);
    this._$('.last-outcomes').innerHTML = OUTCOMES.call
      .map(([value, label]) => `<button type="button" part="last-outcome-button" data-outcome="${value}" aria-pressed="${value === action.outcome}">${escapeHtml(label)}</button>`).join('');
  }

  /** Hides the last call's card. */
  dismissLastCall() {
    const had = this._$('[part="last-call"]').contains(this.shadowRoot.activeElement);
    this._last = null;
    rememberLastCall(null);
    this._$('[part="last-call"]').hidden = true;
    if (had) (this._action ? this._$('[part="title"]') : this._$('[part~="start-button"]')).focus();
  }

  /**
   * Changes the outcome of the last call's action (done already) to `outcome`, with the notes typed there. The
   * current action stays as it is (the database hands it back; nothing more is claimed).
   */
  async amend(outcome) {
    const last = this._last;
    if (!last || this._amending) return null;
    const { action } = last;
    const notes = this._$('[part~="last-notes"]').value.trim() || null;
    const box = this._$('[part="last-call"]');
    this._amending = true;
    box.setAttribute('aria-busy', 'true');
    try {
      const current = await this.api.completeAction(action.id, { outcome, notes });
      if (this._last !== last) return current;
      last.action = { ...action, outcome, notes: notes ? [action.notes, notes].filter(Boolean).join('\n') : action.notes };
      this._$('[part~="last-notes"]').value = '';
      this._renderLastCall();
      this._message(`${action.title}: outcome now ${outcomeLabel(outcome)}.`, 'ok');
      emit(this, 'dialer-complete', { action_id: action.id, outcome, next: current, amended: true });
      if ((current?.id || null) !== (this._action?.id || null) && !this._liveCall()) {
        this._setAction(current);
        this._renderQueue();
      }
      return current;
    } catch (err) {
      this._fail('Outcome not saved', err);
      return null;
    } finally {
      this._amending = false;
      box.setAttribute('aria-busy', 'false');
    }
  }

  /** Finishes the current action with `outcome` (and the notes typed); shows the next one. */
  async complete(outcome) {
    const action = this._action;
    if (!action || this._working) return null;
    const notes = this._$('[part="notes"]').value.trim() || null;
    return this._finish(action, () => this.api.completeAction(action.id, { outcome, notes }),
      `${action.title}: ${outcomeLabel(outcome, action.kind)}.`, outcome);
  }

  /** Skips the current action; shows the next one. */
  async skip() {
    const action = this._action;
    if (!action || this._working) return null;
    const notes = this._$('[part="notes"]').value.trim() || null;
    return this._finish(action, () => this.api.skipAction(action.id, { notes }), `${action.title}: skipped.`, null);
  }

  async _finish(action, request, said, outcome) {
    this._working = true;
    this._$('[part="card"]').setAttribute('aria-busy', 'true');
    try {
      const next = await request();
      emit(this, 'dialer-complete', { action_id: action.id, outcome, next, amended: false });
      this._queue = (this._queue || []).filter((a) => a.id !== action.id);
      if (next && !this._queue.some((a) => a.id === next.id)) this._queue.unshift(next);
      this._queue = this._queue.map((a) => (next && a.id === next.id ? next : a));
      this._setAction(next);
      this._renderQueue();
      this._message(`${said}${next ? ` Next: ${next.title}.` : ''}`, 'ok');
      if (next) this._$('[part="title"]').focus();
      else if (!this._$('[part~="start-button"]').hidden) this._$('[part~="start-button"]').focus();
      this.load(); // the queue as the database has it (due times move on, another tab may have worked)
      return next;
    } catch (err) {
      this._fail('Not saved', err);
      return null;
    } finally {
      this._working = false;
      this._$('[part="card"]').setAttribute('aria-busy', 'false');
    }
  }

  /** Claims the next due action (POST /actions/next) and shows it. */
  async next() {
    try {
      const action = await this.api.nextAction();
      this._queue = (this._queue || []).map((a) => (action && a.id === action.id ? action : a));
      this._setAction(action);
      this._renderQueue();
      if (action) this._$('[part="title"]').focus();
      else this._message('Nothing is due right now.');
      return action;
    } catch (err) {
      this._fail('Could not take the next action', err);
      return null;
    }
  }

  _fillSettings(s) {
    const form = this._$('[part="settings-form"]');
    form.agent_phone.value = s?.agent_phone || '';
    form.calling_hours_start.value = (s?.calling_hours_start || '08:00').slice(0, 5);
    form.calling_hours_end.value = (s?.calling_hours_end || '21:00').slice(0, 5);
    form.default_time_zone.value = s?.default_time_zone || '';
    form.auto_advance.checked = s ? s.auto_advance !== false : true;
  }

  /** Saves the dialer settings form (PUT /dialer/settings); blank fields keep their saved value. */
  async saveSettings() {
    const form = this._$('[part="settings-form"]');
    const value = (name) => form[name].value.trim() || null;
    try {
      const settings = await this.api.saveDialerSettings({
        agent_phone: value('agent_phone'), calling_hours_start: value('calling_hours_start'),
        calling_hours_end: value('calling_hours_end'), default_time_zone: value('default_time_zone'),
        auto_advance: form.auto_advance.checked,
      });
      this._settings = settings;
      this._fillSettings(settings);
      this._message('Dialer settings saved.', 'ok');
      if (this._action) this._setAction(this._action);
      return settings;
    } catch (err) {
      this._fail('Dialer settings not saved', err);
      return null;
    }
  }
}

// Without a dry run (the Supabase adapter): what can be known without the SQL checks.
async function fallbackCheck(api, action) {
  const [status, settings, dnc] = await Promise.all([
    api.getStatus(), api.getDialerSettings(), api.listDoNotCall({ phone: action.phone }).catch(() => []),
  ]);
  if (!status || status.state !== 'connected') return { message: `no Twilio account connected${status?.reason ? ` (${status.reason})` : ''}` };
  if (!settings?.agent_phone) return { message: 'no agent phone to ring first', hint: 'Set your phone in the dialer settings.' };
  if (dnc.length) return { message: `${action.phone} is on your do-not-call list` };
  return null;
}

// The tab's last call, kept in sessionStorage (per tab, gone when the tab closes); storage may be unavailable
// (private modes, sandboxed frames), and then the card simply does not survive a reload.
const LAST_CALL_KEY = 'byo-twilio-dialer:last-call';

function rememberLastCall(value) {
  try {
    if (value) sessionStorage.setItem(LAST_CALL_KEY, JSON.stringify(value));
    else sessionStorage.removeItem(LAST_CALL_KEY);
  } catch { /* storage unavailable */ }
}

function recalledLastCall() {
  try {
    const v = JSON.parse(sessionStorage.getItem(LAST_CALL_KEY) || 'null');
    return v && typeof v.call_id === 'string' ? v : null;
  } catch {
    return null;
  }
}

function formatTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const sameDay = d.toDateString() === new Date().toDateString();
  return new Intl.DateTimeFormat(undefined, sameDay ? { timeStyle: 'short' } : { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

function localTime(zone) {
  try {
    return new Intl.DateTimeFormat(undefined, { timeZone: zone, hour: '2-digit', minute: '2-digit' }).format(new Date());
  } catch {
    return null;
  }
}

export default ByoTwilioDialerElement;
