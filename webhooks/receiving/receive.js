// Receive our webhooks and verify them (Standard Webhooks), with Node's standard library.
// Run: WEBHOOK_SECRET=whsec_... PORT=8000 node receive.js
// (With Express, read the raw body: app.post('/webhooks', express.raw({ type: '*/*' }), ...).)
const crypto = require('crypto');
const http = require('http');

const SECRET = Buffer.from(process.env.WEBHOOK_SECRET.replace(/^whsec_/, ''), 'base64');
const TOLERANCE_SECONDS = 5 * 60;
const processed = new Set(); // real code stores processed ids durably, e.g. in a unique column

// Return why the delivery is not genuine, or null when it is. body: the raw bytes (a Buffer).
function verificationProblem(headers, body) {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (!id || !timestamp || !signatures) {
    return 'missing webhook-id, webhook-timestamp or webhook-signature header';
  }
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) {
    return 'webhook-timestamp is more than 5 minutes from now';
  }
  const expected = Buffer.from(
    crypto.createHmac('sha256', SECRET).update(`${id}.${timestamp}.`).update(body).digest('base64'));
  // Two signatures during a secret rotation: either may match.
  const matches = signatures.split(' ').some((signature) => {
    const [version, value = ''] = signature.split(',');
    const given = Buffer.from(value);
    return version === 'v1' && given.length === expected.length && crypto.timingSafeEqual(given, expected);
  });
  return matches ? null : 'no signature matches';
}

function handle(event) {
  console.log('received', event.type, event.id); // your work here
}

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const answer = (status, text) => res.writeHead(status, { 'Content-Type': 'text/plain' }).end(text);
    if (req.method !== 'POST' || req.url !== '/webhooks') return answer(404, 'not found');
    const body = Buffer.concat(chunks);
    const problem = verificationProblem(req.headers, body);
    if (problem) return answer(400, problem);
    const id = req.headers['webhook-id']; // the same on every retry and resend
    if (processed.has(id)) return answer(200, 'duplicate');
    try {
      handle(JSON.parse(body));
    } catch (error) {
      console.error(error);
      return answer(500, 'handling failed'); // not marked processed: we retry
    }
    processed.add(id); // only once handled
    return answer(200, 'ok');
  });
}).listen(Number(process.env.PORT || 8000), '127.0.0.1');
