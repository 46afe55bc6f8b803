// Internal helpers shared by the byo_twilio elements. Not part of the public API; import the elements instead.

// Importing an element module in Node (SSR) must not throw: extend a harmless class there.
export const BaseElement = globalThis.HTMLElement || class {};

const DEFAULT_API = Symbol.for('byo-twilio.default-api');

/** Sets the adapter every element uses unless given its own through `element.api`. */
export function setDefaultApi(api) {
  globalThis[DEFAULT_API] = api;
  globalThis.dispatchEvent?.(new CustomEvent('byo-twilio-api-change', { detail: { api } }));
}

export function getDefaultApi() {
  return globalThis[DEFAULT_API] || null;
}

/**
 * Defines `tag` for `cls` in `registry`, tolerating a second registration of the same tag (hot reload, two copies
 * of the module, an app that calls define itself): that is a no-op. Returns the class registered under `tag`.
 */
export function defineElement(cls, tag, registry = globalThis.customElements) {
  if (!registry) return cls; // Node, or a page without custom elements
  const existing = registry.get(tag);
  if (existing) return existing;
  try {
    registry.define(tag, cls);
  } catch (err) {
    // The same class under another tag is refused by the registry; a subclass is a new constructor.
    if (err && err.name === 'NotSupportedError') registry.define(tag, class extends cls {});
    else throw err;
  }
  return registry.get(tag);
}

/** Fires `byo-twilio-<name>` from `el`: bubbling and composed, so a listener on document hears it. */
export function emit(el, name, detail = {}, { cancelable = false } = {}) {
  const event = new CustomEvent(`byo-twilio-${name}`, { bubbles: true, composed: true, cancelable, detail });
  return el.dispatchEvent(event);
}

let counter = 0;
export const uniqueId = (prefix) => `${prefix}-${(counter += 1)}`;

/** Escapes text for the few templates built as HTML strings. */
export function escapeHtml(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

/** An error from an adapter: the API's `{error: {code, message, detail, hint, check}}` plus the HTTP status. */
export class ByoTwilioError extends Error {
  constructor({ status = 0, code = null, message = 'Request failed', detail = null, hint = null, check = null } = {}) {
    super(message);
    this.name = 'ByoTwilioError';
    Object.assign(this, { status, code, detail, hint, check });
  }
}

/**
 * Design tokens shared by every element's shadow root. Each can be overridden from the page through the
 * `--byo-twilio-*` custom properties (they inherit into shadow roots). Colours meet WCAG AA on white.
 */
export const TOKENS_CSS = `
:host {
  --_font: var(--byo-twilio-font, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif);
  --_text: var(--byo-twilio-text-color, #1f2328);
  --_muted: var(--byo-twilio-muted-color, #57606a);
  --_bg: var(--byo-twilio-background, #ffffff);
  --_surface: var(--byo-twilio-surface, #f6f8fa);
  --_border: var(--byo-twilio-border-color, #8c959f);
  --_accent: var(--byo-twilio-accent-color, #0b5cad);
  --_accent-text: var(--byo-twilio-accent-text-color, #ffffff);
  --_success: var(--byo-twilio-success-color, #1a7f37);
  --_danger: var(--byo-twilio-danger-color, #c21d2a);
  --_pending: var(--byo-twilio-pending-color, #6e7781);
  --_radius: var(--byo-twilio-radius, 6px);
  --_focus: var(--byo-twilio-focus-color, #0b5cad);
  font-family: var(--_font);
  color: var(--_text);
  box-sizing: border-box;
}
*, *::before, *::after { box-sizing: inherit; }
[hidden] { display: none !important; }
.visually-hidden {
  position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}
:focus-visible { outline: 3px solid var(--_focus); outline-offset: 2px; }
button {
  font: inherit; cursor: pointer; border-radius: var(--_radius); padding: 0.5em 1em;
  border: 1px solid var(--_accent); background: var(--_accent); color: var(--_accent-text); font-weight: 600;
}
button.secondary { background: var(--_bg); color: var(--_accent); }
button[aria-disabled="true"] { opacity: 0.7; cursor: progress; }
input, select {
  font: inherit; color: var(--_text); background: var(--_bg); border: 1px solid var(--_border);
  border-radius: var(--_radius); padding: 0.45em 0.6em;
}
input[aria-invalid="true"] { border-color: var(--_danger); box-shadow: 0 0 0 1px var(--_danger); }
.error-text { color: var(--_danger); }
`;

/** Makes a constructable stylesheet when the browser has them, else a <style> element; returns an applier. */
export function adoptStyles(root, cssText) {
  if (root.adoptedStyleSheets !== undefined && globalThis.CSSStyleSheet && 'replaceSync' in CSSStyleSheet.prototype) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(cssText);
    root.adoptedStyleSheets = [sheet];
  } else {
    const style = document.createElement('style');
    style.textContent = cssText;
    root.prepend(style);
  }
}

/**
 * The mixin's common part: an `api` property that falls back to the page-wide default, and a refresh when the
 * default adapter is set after the element connected.
 */
export function resolveApi(el) {
  return el._api || getDefaultApi();
}
