/**
 * Receive our webhooks and verify them (Standard Webhooks) in NetSuite.
 *
 * Deploy as a Suitelet, "Available Without Login" (RESTlets need NetSuite authentication), and give
 * our webhook its External URL. Store the signing secret WITHOUT its whsec_ prefix as an API Secret
 * (Setup > Company > API Secrets) with the ID custsecret_webhook_signing, allowed for this script.
 * encoding BASE_64 is meant to make the key the secret's base64-decoded bytes, as Standard Webhooks
 * requires; Oracle's documentation does not say so outright: send a test event and check it once.
 *
 * @NApiVersion 2.1
 * @NScriptType Suitelet
 */
define(['N/cache', 'N/crypto', 'N/encode', 'N/error', 'N/log'], (cache, crypto, encode, error, log) => {
  const TOLERANCE_SECONDS = 5 * 60;

  // Returns why the delivery is not genuine, or null when it is.
  const verificationProblem = (headers, body) => {
    const id = headers['webhook-id']; // NetSuite advises lower-case header names
    const timestamp = headers['webhook-timestamp'];
    const signatures = headers['webhook-signature'];
    if (!id || !timestamp || !signatures) {
      return 'missing webhook-id, webhook-timestamp or webhook-signature header';
    }
    if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) {
      return 'webhook-timestamp is more than 5 minutes from now';
    }
    const key = crypto.createSecretKey({
      secret: 'custsecret_webhook_signing', encoding: encode.Encoding.BASE_64,
    });
    const hmac = crypto.createHmac({ algorithm: crypto.HashAlg.SHA256, key });
    hmac.update({ input: `${id}.${timestamp}.${body}`, inputEncoding: encode.Encoding.UTF_8 });
    const expected = hmac.digest({ outputEncoding: encode.Encoding.BASE_64 });
    // Two signatures during a secret rotation: either may match.
    const matches = signatures.split(' ')
      .some((signature) => signature.startsWith('v1,') && constantTimeEquals(signature.slice(3), expected));
    return matches ? null : 'no signature matches';
  };

  // SuiteScript has no constant-time comparison: compare every character.
  const constantTimeEquals = (a, b) => {
    if (a.length !== b.length) return false;
    let difference = 0;
    for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
    return difference === 0;
  };

  const handle = (event) => { // your work here
    log.audit({ title: 'received', details: `${event.type} ${event.id}` });
  };

  const onRequest = ({ request, response }) => {
    const problem = request.method === 'POST'
      ? verificationProblem(request.headers, request.body) : 'POST only';
    // A Suitelet cannot choose its HTTP status: throwing is the only way not to answer 200 (and so
    // to have us retry). Test once with a wrong secret and check the status in our Log History.
    if (problem) {
      throw error.create({ name: 'WEBHOOK_NOT_VERIFIED', message: problem, notifyOff: true });
    }
    // N/cache may evict entries: real code stores processed ids durably, e.g. in a custom record
    // whose External ID is the webhook-id (unique per record type).
    const processed = cache.getCache({ name: 'webhook_ids', scope: cache.Scope.PRIVATE });
    const id = request.headers['webhook-id']; // the same on every retry and resend
    if (processed.get({ key: id })) return response.write({ output: 'duplicate' });
    handle(JSON.parse(request.body)); // throws on failure: not marked processed, and we retry
    processed.put({ key: id, value: '1' }); // only once handled
    response.write({ output: 'ok' });
  };

  return { onRequest };
});
