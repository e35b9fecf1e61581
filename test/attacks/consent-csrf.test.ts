import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { FormBrowser, PASSWORD, registerClient, startOAuthGatewayForAttacks, type OAuthSetup } from '../helpers/oauth.js';
import { codeRequest, openInteraction, pkcePair, readInteraction } from '../helpers/oauth-flow.js';

/**
 * Consent CSRF (the forged-form cousin of RFC 9700 §4.16's clickjacking): a signed-in victim's browser is
 * made to post "Allow" to the consent form from another site, or with a token taken from another interaction. Refused with 403 and nothing
 * granted; the genuine form still works. After the POSTs that carry credentials or consent the answer is a
 * 303 (never a 307, which would re-post the form to the client, RFC 9700 §4.12).
 */

let setup: OAuthSetup;

before(async () => {
  setup = await startOAuthGatewayForAttacks();
});
after(async () => {
  await setup?.close();
});

/** A browser signed in as alice, on the consent page of a fresh request. */
async function atConsent() {
  const { client_id } = await registerClient(setup.issuer);
  const browser = new FormBrowser(setup.issuer);
  const login = await openInteraction(browser, codeRequest(setup.issuer, client_id, pkcePair(), { resource: setup.notes, scope: 'notes:read' }));
  const posted = await browser.request(login.action, { form: { csrf: login.csrf, username: 'alice', password: PASSWORD } });
  assert.equal(posted.status, 303, 'a POSTed password is answered with 303');
  let location = posted.headers.get('location')!;
  for (let hop = 0; hop < 5 && !location.includes('/oauth/interaction/'); hop++) {
    location = (await browser.request(location)).headers.get('location')!;
  }
  const consent = await readInteraction(browser, location);
  assert.match(consent.action, /\/consent$/);
  return { browser, consent };
}

test('consent CSRF: no token, another interaction\'s token, or a cross-site POST without cookies grants nothing', async () => {
  const victim = await atConsent();
  const other = await atConsent();
  for (const [label, browser, csrf, status] of [
    ['no csrf token', victim.browser, undefined, 403],
    ['the token of another interaction', victim.browser, other.consent.csrf, 403],
    ['a cross-site POST (SameSite cookies not sent)', new FormBrowser(setup.issuer), victim.consent.csrf, 400],
  ] as const) {
    const res = await browser.request(victim.consent.action, { form: { decision: 'allow', ...(csrf ? { csrf } : {}) } });
    assert.equal(res.status, status, label);
    assert.equal(res.headers.get('location'), null, `${label}: no redirect, no code`);
    assert.equal(res.headers.get('x-frame-options'), 'DENY', label);
  }
  // Still waiting for the victim's own decision: the consent page again, and the real form grants.
  const again = await readInteraction(victim.browser, victim.consent.url);
  assert.match(again.action, /\/consent$/);
  const allowed = await victim.browser.request(victim.consent.action, { form: { csrf: victim.consent.csrf, decision: 'allow' } });
  assert.equal(allowed.status, 303, 'a POSTed consent is answered with 303');
});
