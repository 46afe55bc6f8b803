// Prints `export NAME=value` lines for the stand-in's fixture accounts, so tests refer to tokens through
// environment variables (psql \getenv) and never spell them out in test files or outputs.
const fixtures = require(require('path').resolve(process.argv[2]));
for (const [sid, acct] of Object.entries(fixtures.accounts)) {
    const name = String(acct.friendly_name || sid).toUpperCase().replace(/[^A-Z0-9]/g, '_');
    console.log(`export ${name}_SID=${sid}`);
    console.log(`export ${name}_TOKEN=${acct.token}`);
}
