// Registers every byo_twilio element under its default tag and re-exports the classes and helpers.
//
//   <script type="module">
//     import { setDefaultApi } from '/ui/index.js';
//     import { createRelayApi } from '/ui/adapters/relay.js';
//     setDefaultApi(createRelayApi({ baseUrl: '', getToken, userId }));
//   </script>
import { ByoTwilioStatusElement } from './elements/byo-twilio-status.js';
import { ByoTwilioSettingsElement } from './elements/byo-twilio-settings.js';
import { ByoTwilioComposerGateElement } from './elements/byo-twilio-composer-gate.js';
import { ByoTwilioAnalyticsElement } from './elements/byo-twilio-analytics.js';
import { ByoTwilioDialerElement } from './elements/byo-twilio-dialer.js';

export { ByoTwilioStatusElement, ByoTwilioSettingsElement, ByoTwilioComposerGateElement, ByoTwilioAnalyticsElement,
  ByoTwilioDialerElement };
export { setDefaultApi, getDefaultApi, ByoTwilioError } from './internal/base.js';
export { sealToken } from './seal-token.js';

export function defineAll(registry = globalThis.customElements) {
  ByoTwilioStatusElement.define('byo-twilio-status', registry);
  ByoTwilioSettingsElement.define('byo-twilio-settings', registry);
  ByoTwilioComposerGateElement.define('byo-twilio-composer-gate', registry);
  ByoTwilioAnalyticsElement.define('byo-twilio-analytics', registry);
  ByoTwilioDialerElement.define('byo-twilio-dialer', registry);
}

defineAll();
