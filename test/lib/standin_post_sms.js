// Creates SMS (or calls) at the Twilio stand-in directly, as other clients of the same account would, one after
// another (so they are listed newest first in this order):
//   node test/lib/standin_post_sms.js --account ALICE --to +1... --count N --body TEXT
//   node test/lib/standin_post_sms.js --account ALICE --to +1... --count N --calls-from +1...
// An SMS is --body with " <i>" appended, from the account's Messaging service (MG + the account SID's hex); a call
// goes from --calls-from with a one-word TwiML. Prints "posted N", or for calls the SIDs created (space-separated).
// The account's SID and token come from the environment (<ACCOUNT>_SID / _TOKEN, see fixture_env.js).
const http = require('http');
const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const account = opt('--account'), to = opt('--to'), body = opt('--body'), callsFrom = opt('--calls-from');
const count = parseInt(opt('--count'), 10);
const sid = process.env[`${account}_SID`], token = process.env[`${account}_TOKEN`];
if (!sid || !token || !to || !(body || callsFrom) || !(count > 0)) {
    console.error('usage: standin_post_sms.js --account NAME --to NUMBER --count N (--body TEXT | --calls-from NUMBER)');
    process.exit(2);
}
const url = new URL(`/2010-04-01/Accounts/${sid}/${callsFrom ? 'Calls' : 'Messages'}.json`, process.env.STANDIN_URL);
const auth = 'Basic ' + Buffer.from(`${sid}:${token}`).toString('base64');
const made = [];

function post(i) {
    if (i > count) return console.log(callsFrom ? made.join(' ') : `posted ${count}`);
    const form = new URLSearchParams(callsFrom
        ? { To: to, From: callsFrom, Twiml: '<Response><Hangup/></Response>' }
        : { To: to, MessagingServiceSid: `MG${sid.slice(2)}`, Body: `${body} ${i}` });
    const req = http.request(url, { method: 'POST', headers: {
        authorization: auth, 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
        let data = '';
        res.on('data', (d) => (data += d)).on('end', () => {
            if (res.statusCode !== 201) { console.error(`HTTP ${res.statusCode}`); process.exit(1); }
            made.push(JSON.parse(data).sid);
            post(i + 1);
        });
    });
    req.on('error', (e) => { console.error(`stand-in unreachable: ${e.message}`); process.exit(1); });
    req.end(form.toString());
}
post(1);
