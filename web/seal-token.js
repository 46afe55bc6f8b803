// Seals a Twilio auth token for byo_twilio's save_settings / set_platform_account, in the browser or in Node 20+
// (Web Crypto only, no dependencies). The token is encrypted to the server's public key from
// twilio.token_sealing_key(), bound to the user (or "platform") and the account SID, so what reaches SQL, logs and
// pg_stat_statements is ciphertext that opens for nobody else. The format is in src/core/token_seal.hpp.
//
//   const key = await supabase.schema('twilio').rpc('token_sealing_key');
//   const auth_token = await sealToken({ key: key.data, owner: user.id, accountSid, token });
//   await supabase.schema('twilio').rpc('save_settings', { account_sid: accountSid, auth_token, ... });

const SEAL_INFO = 'byo_twilio sealed token v1';
const AAD_LABEL = 'byo_twilio.sealed_token';

const utf8 = (s) => new TextEncoder().encode(s);

function fromBase64(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) out[i] = bin.charCodeAt(i);
  return out;
}

function toBase64(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * @param {object} args
 * @param {{format: string, key_id: string, public_key: string}} args.key  twilio.token_sealing_key()'s result
 * @param {string} args.owner       the user's id (auth.uid()), or "platform" for set_platform_account
 * @param {string} args.accountSid  the Account SID the token belongs to (AC...)
 * @param {string} args.token       the auth token
 * @returns {Promise<string>} "bt1:..." to pass as auth_token
 */
export async function sealToken({ key, owner, accountSid, token }) {
  if (!key || key.format !== 'bt1' || !key.key_id || !key.public_key) {
    throw new TypeError('sealToken: key must be the result of twilio.token_sealing_key()');
  }
  for (const [name, value] of [['owner', owner], ['accountSid', accountSid], ['token', token]]) {
    if (typeof value !== 'string' || value.trim() === '') throw new TypeError(`sealToken: ${name} is required`);
  }
  const { subtle } = globalThis.crypto;
  const serverPublic = fromBase64(key.public_key);
  const server = await subtle.importKey('raw', serverPublic, { name: 'X25519' }, false, []);
  const ephemeral = await subtle.generateKey({ name: 'X25519' }, true, ['deriveBits']);
  const ephemeralPublic = new Uint8Array(await subtle.exportKey('raw', ephemeral.publicKey));
  const shared = await subtle.deriveBits({ name: 'X25519', public: server }, ephemeral.privateKey, 256);

  const hkdfKey = await subtle.importKey('raw', shared, 'HKDF', false, ['deriveBits']);
  const okm = new Uint8Array(await subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: concat(ephemeralPublic, serverPublic), info: utf8(SEAL_INFO) },
    hkdfKey, (32 + 12) * 8));
  const aesKey = await subtle.importKey('raw', okm.slice(0, 32), 'AES-GCM', false, ['encrypt']);
  const zero = new Uint8Array([0]);
  const aad = concat(utf8(AAD_LABEL), zero, utf8(key.key_id), zero, utf8(owner.trim()), zero,
    utf8(accountSid.trim()));
  const box = new Uint8Array(await subtle.encrypt(
    { name: 'AES-GCM', iv: okm.slice(32), additionalData: aad, tagLength: 128 }, aesKey, utf8(token.trim())));
  okm.fill(0);
  return `bt1:${key.key_id}:${toBase64(ephemeralPublic)}:${toBase64(box)}`;
}
