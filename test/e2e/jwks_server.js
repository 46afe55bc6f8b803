// A JWKS over HTTPS for test/e2e/api_test.sh, as Supabase serves its signing keys:
//   node jwks_server.js CERT KEY FILE
// serves FILE (read on every request, so the test rotates keys by rewriting it) at
// /auth/v1/.well-known/jwks.json on 127.0.0.1, a free port; prints "port N" once listening.
const fs = require('fs');
const https = require('https');

const [cert, key, file] = process.argv.slice(2);
const server = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
  if (req.method !== 'GET' || req.url !== '/auth/v1/.well-known/jwks.json') {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'Content-Type': 'application/json' }).end(fs.readFileSync(file));
});
server.listen(0, '127.0.0.1', () => console.log(`port ${server.address().port}`));
