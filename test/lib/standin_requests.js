// Prints what the Twilio stand-in received, one request per line, for tests and the demo to show:
//   node test/lib/standin_requests.js [--method POST] [--path REGEX] [--fields To,Body,...] [--query] [--sort]
// Reads GET $STANDIN_URL/__requests. Bodies are form-decoded; only the named fields are shown, so tokens never
// appear (the stand-in never records passwords anyway); a field sent several times shows its values joined by
// commas; --query adds each request's query string. SIDs we generate and the date bound of a lookup's query are
// masked to keep outputs stable.
const http = require('http');
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const method = opt('--method', null);
const path = opt('--path', null);
const fields = (opt('--fields', '') || '').split(',').filter(Boolean);
const mask = s => String(s).replace(/\b(CA|CH|IM|MB|SM)[0-9a-f]{32}\b/g, '$1…').replace(/\/twilio\/[0-9a-f]{32}\//g, '/twilio/<key>/');
http.get(`${process.env.STANDIN_URL}/__requests`, res => {
    let data = '';
    res.on('data', d => (data += d)).on('end', () => {
        let lines = JSON.parse(data)
            .filter(r => (!method || r.method === method) && (!path || new RegExp(path).test(r.path)))
            .map(r => {
                const form = new URLSearchParams(r.body || '');
                const shown = fields.map(f => `${f}=${form.has(f) ? form.getAll(f).join(',') : '-'}`).join(' ');
                const query = args.includes('--query') && r.query ? `?${r.query}` : '';
                return mask(`${r.method} ${r.path}${query} as ${r.user}${shown ? ' ' + shown : ''}`);
            });
        if (args.includes('--sort')) lines.sort();
        console.log(lines.length ? lines.join('\n') : '(none)');
    });
}).on('error', e => { console.error(`stand-in unreachable: ${e.message}`); process.exit(1); });
