// Seals a token as an app's front end would (web/seal-token.js), for the demo and shell tests.
// Usage: node seal_token.js KEY_JSON OWNER ACCOUNT_SID TOKEN   (KEY_JSON: twilio.token_sealing_key()'s result)
const [keyJson, owner, accountSid, token] = process.argv.slice(2);
import('../../web/seal-token.js')
  .then(({ sealToken }) => sealToken({ key: JSON.parse(keyJson), owner, accountSid, token }))
  .then((sealed) => console.log(sealed))
  .catch((e) => {
    console.error(`seal_token: ${e.message}`);
    process.exit(1);
  });
