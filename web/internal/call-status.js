// What the dialer says about a call: a click-to-call is two legs, the agent's phone first (the voice_calls row
// POST /calls returns) and then the lead (the leg whose parent is the agent's call). Pure functions, no DOM.

export const LIVE = ['queued', 'initiated', 'ringing', 'in-progress'];
export const isLive = (status) => LIVE.includes(status);

/** "1:05" for 65 seconds. */
export function duration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * One sentence for the call's state. `call` is the agent leg, `lead` the lead's leg or null, `name` what to call
 * the lead, `queuedFor` how many seconds the call has been waiting to be placed, `now` for live durations (ms).
 */
export function describeCall({ call, lead = null, name = 'the lead', queuedFor = 0, now = Date.now() }) {
  if (!call) return '';
  const leadStatus = lead?.status;
  switch (call.status) {
    case 'queued':
      return queuedFor >= 15
        ? `Still waiting to place the call after ${Math.floor(queuedFor)} s: the dialer may be busy or not running. It will ring your phone first.`
        : 'Waiting to place the call. Your phone rings first, then we dial the lead.';
    case 'initiated':
      return `Calling your phone (${call.to_number || 'agent phone'})…`;
    case 'ringing':
      return 'Your phone is ringing: answer it to be connected.';
    case 'in-progress':
      if (leadStatus === 'in-progress') {
        const since = Date.parse(lead.answered_at || '') || null;
        return `Connected with ${name}${since ? ` · ${duration((now - since) / 1000)}` : ''}.`;
      }
      if (leadStatus === 'ringing') return `You answered. Ringing ${name}…`;
      if (leadStatus === 'completed' && lead.answered_at) {
        return `${name} hung up after ${duration(lead.duration_seconds)}. The call is ending.`;
      }
      if (leadStatus && !isLive(leadStatus)) return `${name} did not connect (${leadStatus.replace('-', ' ')}). You can hang up.`;
      return `You answered. Dialing ${name}…`;
    default:
      return endedText(call, lead, name);
  }
}

function endedText(call, lead, name) {
  const leadStatus = lead?.status;
  if (call.status === 'failed') {
    return `The call failed${call.error_message ? `: ${call.error_message}` : ''}${call.error_code ? ` (Twilio error ${call.error_code})` : ''}.`;
  }
  if (call.status === 'busy' || call.status === 'no-answer' || call.status === 'canceled') {
    return `Your phone did not take the call (${call.status.replace('-', ' ')}).`;
  }
  if (leadStatus === 'completed' || (lead && lead.answered_at)) {
    return `Call with ${name} ended after ${duration(lead.duration_seconds ?? call.duration_seconds)}.`;
  }
  if (leadStatus) return `Call ended: ${name} did not connect (${leadStatus.replace('-', ' ')}).`;
  return `Call ended${call.duration_seconds ? ` after ${duration(call.duration_seconds)}` : ''}.`;
}
