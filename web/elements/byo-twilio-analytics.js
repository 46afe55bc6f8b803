// <byo-twilio-analytics>: drip campaign results per day, as an SVG chart and a table.
//
//   <byo-twilio-analytics days="30"></byo-twilio-analytics>
//
// A date range (default: the last `days` days, UTC) and a campaign picker ("All campaigns" or one); the chart
// shows sent, delivered and replies per day (all steps and chosen campaigns added up); the table lists every row
// of twilio.analytics (day, campaign, step, sent, delivered, failed, replies, opt-outs, segments, rates).
// Loading, empty ("No messages in this period") and error states.
// Attributes: from, to (YYYY-MM-DD), campaign (uuid), days. Parts: base, controls, chart, legend, table, message.
// CSS: --byo-twilio-chart-sent, --byo-twilio-chart-delivered, --byo-twilio-chart-replies, --byo-twilio-chart-height.
// Events: byo-twilio-analytics-load {rows, from, to, campaign}.
import { BaseElement, TOKENS_CSS, adoptStyles, defineElement, emit, escapeHtml, resolveApi } from '../internal/base.js';

const SERIES = [
  { key: 'sent', label: 'Sent', color: 'var(--byo-twilio-chart-sent, #0b5cad)' },
  { key: 'delivered', label: 'Delivered', color: 'var(--byo-twilio-chart-delivered, #1a7f37)' },
  { key: 'replies', label: 'Replies', color: 'var(--byo-twilio-chart-replies, #8a4600)' },
];

const CSS = `${TOKENS_CSS}
:host { display: block; }
[part="controls"] { display: flex; flex-wrap: wrap; gap: 0.75rem 1rem; align-items: flex-end; margin-bottom: 1rem; }
.control { display: grid; gap: 0.25rem; }
label { font-weight: 600; font-size: 0.875em; }
[part="message"] { margin: 0 0 1rem; padding: 0.6em 0.8em; border-radius: var(--_radius); background: var(--_surface); border: 1px solid var(--_border); }
[part="message"].bad { color: var(--_danger); border-color: var(--_danger); background: #fff5f5; }
[part="message"]:empty { display: none; }
figure { margin: 0 0 1rem; }
figcaption { font-weight: 600; margin-bottom: 0.5rem; }
[part="chart"] svg { width: 100%; height: var(--byo-twilio-chart-height, 16rem); display: block; }
svg text { fill: var(--_muted); font-size: 11px; font-family: var(--_font); }
svg .axis { stroke: var(--_border); }
svg .grid { stroke: #d0d7de; stroke-dasharray: 2 3; }
[part="legend"] { display: flex; gap: 1rem; list-style: none; padding: 0; margin: 0.5rem 0 0; font-size: 0.875em; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; border-radius: 2px; margin-right: 0.35em; vertical-align: -0.05em; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.875em; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.5rem; }
th, td { padding: 0.35em 0.6em; border-bottom: 1px solid #d0d7de; text-align: right; white-space: nowrap; }
th:nth-child(-n+3), td:nth-child(-n+3) { text-align: left; }
thead th { background: var(--_surface); }
`;

const isoDay = (d) => d.toISOString().slice(0, 10);
const pct = (v) => (v === null || v === undefined ? '–' : `${(Number(v) * 100).toFixed(1)}%`);

export class ByoTwilioAnalyticsElement extends BaseElement {
  static define(tag = 'byo-twilio-analytics', registry = globalThis.customElements) {
    return defineElement(this, tag, registry);
  }

  get api() { return resolveApi(this); }
  set api(value) { this._api = value; if (this.isConnected) this.load(); }

  /** The rows of the last load. */
  get rows() { return this._rows || []; }

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
    const days = Math.max(1, Number(this.getAttribute('days')) || 30);
    const to = this.getAttribute('to') || isoDay(new Date());
    const from = this.getAttribute('from') || isoDay(new Date(Date.parse(`${to}T00:00:00Z`) - (days - 1) * 86400000));
    root.innerHTML = `<div part="base">
      <form part="controls" aria-label="Analytics filters">
        <div class="control"><label for="from">From</label><input id="from" name="from" type="date" required value="${from}"></div>
        <div class="control"><label for="to">To</label><input id="to" name="to" type="date" required value="${to}"></div>
        <div class="control"><label for="campaign">Campaign</label>
          <select id="campaign" name="campaign"><option value="">All campaigns</option></select></div>
        <button type="submit">Show</button>
      </form>
      <p part="message" role="status" aria-live="polite"></p>
      <section class="results" aria-label="Results">
        <figure part="chart"><figcaption id="chart-title">Messages per day</figcaption><div class="svg"></div>
          <ul part="legend">${SERIES.map((s) => `<li><span class="swatch" style="background:${s.color}"></span>${s.label}</li>`).join('')}</ul>
        </figure>
        <div class="table-wrap" part="table-wrap" tabindex="0" role="region" aria-labelledby="table-caption">
          <table part="table"><caption id="table-caption">Results per day, campaign and step</caption>
            <thead><tr><th scope="col">Day</th><th scope="col">Campaign</th><th scope="col">Step</th>
              <th scope="col">Sent</th><th scope="col">Delivered</th><th scope="col">Failed</th><th scope="col">Replies</th>
              <th scope="col">Opt-outs</th><th scope="col">Segments</th><th scope="col">Delivery rate</th><th scope="col">Reply rate</th></tr></thead>
            <tbody></tbody></table></div>
      </section></div>`;
    adoptStyles(root, CSS);
    this._wanted = this.getAttribute('campaign') || '';
    root.querySelector('form').addEventListener('submit', (e) => { e.preventDefault(); this.load(); });
    root.querySelector('select').addEventListener('change', () => this.load());
  }

  async load() {
    const api = this.api;
    if (!api || !this.shadowRoot) return;
    const root = this.shadowRoot;
    const from = root.getElementById('from').value;
    const to = root.getElementById('to').value;
    if (!from || !to || from > to) {
      this._state('error', 'Choose a start day on or before the end day.');
      return;
    }
    const seq = (this._seq = (this._seq || 0) + 1);
    this._state('loading', 'Loading results…');
    try {
      if (!this._campaignsLoaded) {
        const campaigns = await api.listCampaigns();
        const select = root.getElementById('campaign');
        for (const c of campaigns) {
          const opt = document.createElement('option');
          opt.value = c.id;
          opt.textContent = c.name + (c.status && c.status !== 'active' ? ` (${c.status})` : '');
          select.append(opt);
        }
        if (this._wanted) select.value = this._wanted;
        this._campaignsLoaded = true;
      }
      const campaign = root.getElementById('campaign').value || null;
      const rows = await api.analytics({ from, to, campaign });
      if (seq !== this._seq) return;
      this._rows = rows;
      if (!rows.length) {
        this._state('empty', 'No messages were sent by your campaigns in this period.');
      } else {
        this._state('ready', '');
        this._render(rows, from, to);
      }
      emit(this, 'analytics-load', { rows, from, to, campaign });
    } catch (err) {
      if (seq !== this._seq) return;
      this._state('error', `Could not load analytics: ${err.message}`);
    }
  }

  _state(state, text) {
    const root = this.shadowRoot;
    this.setAttribute('state', state);
    const msg = root.querySelector('[part="message"]');
    msg.textContent = text;
    msg.className = state === 'error' ? 'bad' : '';
    msg.setAttribute('role', state === 'error' ? 'alert' : 'status');
    root.querySelector('.results').hidden = state !== 'ready';
    root.querySelector('[part="base"]').setAttribute('aria-busy', String(state === 'loading'));
  }

  _render(rows, from, to) {
    const root = this.shadowRoot;
    root.querySelector('tbody').innerHTML = rows.map((r) => `<tr>
      <td>${escapeHtml(r.day)}</td><td>${escapeHtml(r.campaign_name)}</td><td>${escapeHtml(r.step_position)}</td>
      <td>${Number(r.sent)}</td><td>${Number(r.delivered)}</td><td>${Number(r.failed)}</td><td>${Number(r.replies)}</td>
      <td>${Number(r.opt_outs)}</td><td>${Number(r.segments)}</td><td>${pct(r.delivery_rate)}</td><td>${pct(r.reply_rate)}</td></tr>`).join('');
    root.querySelector('.svg').innerHTML = chartSvg(perDay(rows, from, to));
  }
}

// Adds up the rows per day, every day of the range present (zero when nothing was sent).
function perDay(rows, from, to) {
  const days = new Map();
  const start = Date.parse(`${from}T00:00:00Z`);
  const end = Date.parse(`${to}T00:00:00Z`);
  for (let t = start; t <= end && days.size < 366; t += 86400000) days.set(isoDay(new Date(t)), { sent: 0, delivered: 0, replies: 0 });
  for (const r of rows) {
    const d = days.get(String(r.day).slice(0, 10));
    if (!d) continue;
    for (const s of SERIES) d[s.key] += Number(r[s.key]) || 0;
  }
  return [...days.entries()].map(([day, v]) => ({ day, ...v }));
}

function chartSvg(points) {
  const W = 720, H = 260, L = 44, R = 12, T = 12, B = 36;
  const max = Math.max(1, ...points.flatMap((p) => SERIES.map((s) => p[s.key])));
  const step = niceStep(max);
  const top = Math.ceil(max / step) * step;
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const slot = (W - L - R) / points.length;
  const bar = Math.max(1, (slot * 0.8) / SERIES.length);
  const totals = SERIES.map((s) => `${points.reduce((n, p) => n + p[s.key], 0)} ${s.label.toLowerCase()}`).join(', ');
  let out = `<svg viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="chart-title chart-desc" preserveAspectRatio="none">
    <desc id="chart-desc">From ${points[0].day} to ${points[points.length - 1].day}: ${totals}. The table below has every figure.</desc>`;
  for (let v = 0; v <= top; v += step) {
    out += `<line class="grid" x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}"/><text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`;
  }
  const labelEvery = Math.ceil(points.length / 8);
  points.forEach((p, i) => {
    const x0 = L + i * slot + slot * 0.1;
    SERIES.forEach((s, k) => {
      const h = y(0) - y(p[s.key]);
      if (h > 0) out += `<rect x="${x0 + k * bar}" y="${y(p[s.key])}" width="${bar}" height="${h}" fill="${s.color}"><title>${p.day}: ${p[s.key]} ${s.label.toLowerCase()}</title></rect>`;
    });
    if (i % labelEvery === 0) out += `<text x="${L + i * slot + slot / 2}" y="${H - B + 16}" text-anchor="middle">${p.day.slice(5)}</text>`;
  });
  out += `<line class="axis" x1="${L}" x2="${W - R}" y1="${y(0)}" y2="${y(0)}"/></svg>`;
  return out;
}

function niceStep(max) {
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return Math.max(1, [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || mag * 10);
}

export default ByoTwilioAnalyticsElement;
