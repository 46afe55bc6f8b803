// Media routes of the Twilio stand-in: what byo_twilio's media links ask for. A message's media resource
// (2010 API, no .json) answers as Twilio does, with a redirect to a short-lived URL on another host; a
// Conversations media resource (Media Content Service) answers JSON whose links.content_direct_temporary is that
// URL. Neither ever serves bytes. Loaded by twilio_standin.js.
'use strict';

const MMS_RE = /^\/2010-04-01\/Accounts\/(AC[0-9a-fA-F]{32})\/Messages\/((?:SM|MM)[0-9a-fA-F]{32})\/Media\/(ME[0-9a-fA-F]{32})$/;
const MCS_RE = /^\/v1\/Services\/(IS[0-9a-fA-F]{32})\/Media\/(ME[0-9a-fA-F]{32})$/;
// ME...ffff is media Twilio no longer has (deleted): 404, as Twilio answers.
const GONE = /f{32}$/;

module.exports = function makeMedia({ send, notFound }) {
  // A temporary URL as Twilio's look: another host, an expiry and a signature in the query.
  const temporary = (me) =>
    `https://media.standin.invalid/${me}?Expires=${Math.floor(Date.now() / 1000) + 300}&Signature=standin`;

  function route(req, res, c) {
    let m;
    if ((m = MMS_RE.exec(c.path))) {
      if (req.method !== 'GET' || m[1] !== c.acctSid || GONE.test(m[3])) notFound(res, c.path);
      else {
        res.writeHead(307, { Location: temporary(m[3]), 'Content-Type': 'text/plain' });
        res.end('Temporary Redirect');
      }
      return true;
    }
    if ((m = MCS_RE.exec(c.path))) {
      if (req.method !== 'GET' || !(c.acct.conversations_services || []).includes(m[1]) || GONE.test(m[2])) {
        notFound(res, c.path);
      } else {
        send(res, 200, {
          sid: m[2], service_sid: m[1], account_sid: c.acctSid, content_type: 'image/png', filename: 'standin.png',
          size: 1024, url: `/v1/Services/${m[1]}/Media/${m[2]}`,
          links: { content: `/v1/Services/${m[1]}/Media/${m[2]}/Content`, content_direct_temporary: temporary(m[2]) },
        });
      }
      return true;
    }
    return false;
  }
  return { route };
};
