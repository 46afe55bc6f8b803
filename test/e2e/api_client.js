// JWTs for test/e2e/api_test.sh, made by the npm `jose` library (not by the relay's own code).
//   node api_client.js keys DIR
//       writes DIR/jwks.json (public ES256 key "es1" and RS256 key "rs1"), DIR/private.json (their private JWKs)
//       and DIR/other.json (an ES256 private key with kid "es1" that the JWKS does not hold); for a key rotation,
//       DIR/rotated.json (the JWKS with "es1" and a new ES256 key "es2") and DIR/next.json (es2's private JWK)
//   node api_client.js token --alg HS256|ES256|RS256|none [--key DIR/private.json|DIR/other.json] [--sub UUID]
//       [--role R] [--aud A] [--exp SECONDS_FROM_NOW] [--nbf SECONDS_FROM_NOW] [--kid K] [--no-kid]
//       prints a token; HS256 takes its secret from the environment variable JWT_SECRET_ENV names (default
//       BYO_TWILIO_JWT_SECRET), never from the command line.
const fs = require('fs');
const path = require('path');

async function main() {
  const jose = await import('jose');
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === 'keys') {
    const dir = rest[0];
    const es = await jose.generateKeyPair('ES256', { extractable: true });
    const rs = await jose.generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
    const other = await jose.generateKeyPair('ES256', { extractable: true });
    const pub = async (k, kid, alg) => ({ ...(await jose.exportJWK(k)), kid, alg, use: 'sig' });
    fs.writeFileSync(path.join(dir, 'jwks.json'),
      JSON.stringify({ keys: [await pub(es.publicKey, 'es1', 'ES256'), await pub(rs.publicKey, 'rs1', 'RS256')] }));
    fs.writeFileSync(path.join(dir, 'private.json'), JSON.stringify({
      ES256: await pub(es.privateKey, 'es1', 'ES256'), RS256: await pub(rs.privateKey, 'rs1', 'RS256') }));
    fs.writeFileSync(path.join(dir, 'other.json'), JSON.stringify({ ES256: await pub(other.privateKey, 'es1', 'ES256') }));
    // A rotation: the issuer adds key "es2" (the JWKS then holds es1 and es2); next.json signs with it.
    const next = await jose.generateKeyPair('ES256', { extractable: true });
    fs.writeFileSync(path.join(dir, 'rotated.json'),
      JSON.stringify({ keys: [await pub(es.publicKey, 'es1', 'ES256'), await pub(next.publicKey, 'es2', 'ES256')] }));
    fs.writeFileSync(path.join(dir, 'next.json'), JSON.stringify({ ES256: await pub(next.privateKey, 'es2', 'ES256') }));
    return;
  }
  if (cmd !== 'token') throw new Error(`unknown command ${cmd}`);
  const opt = { alg: 'HS256', role: 'authenticated', aud: 'authenticated', exp: '3600' };
  for (let i = 0; i < rest.length; i++) {
    const name = rest[i].replace(/^--/, '');
    if (name === 'no-kid') opt.noKid = true;
    else opt[name] = rest[++i];
  }
  const now = Math.floor(Date.now() / 1000);
  const claims = { role: opt.role, aud: opt.aud, iat: now, exp: now + Number(opt.exp), email: 'user@example.com' };
  if (opt.sub) claims.sub = opt.sub;
  if (opt.nbf) claims.nbf = now + Number(opt.nbf);
  if (opt.alg === 'none') {
    process.stdout.write(new jose.UnsecuredJWT(claims).encode());
    return;
  }
  let key;
  const header = { alg: opt.alg, typ: 'JWT' };
  if (opt.alg === 'HS256') {
    key = new TextEncoder().encode(process.env[process.env.JWT_SECRET_ENV || 'BYO_TWILIO_JWT_SECRET']);
  } else {
    const jwk = JSON.parse(fs.readFileSync(opt.key, 'utf8'))[opt.alg];
    key = await jose.importJWK(jwk, opt.alg);
    header.kid = opt.kid || jwk.kid;
  }
  if (opt.noKid) delete header.kid;
  process.stdout.write(await new jose.SignJWT(claims).setProtectedHeader(header).sign(key));
}

main().catch((e) => {
  console.error(`api_client: ${e.message}`);
  process.exit(1);
});
