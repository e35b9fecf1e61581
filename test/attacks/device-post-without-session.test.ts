import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DEVICE_CODE_GRANT, parseForm, postForm } from '../helpers/oauth-flow.js';
import { FormBrowser, registerClient, startOAuthGatewayForAttacks, type OAuthSetup } from '../helpers/oauth.js';

/**
 * A user code posted to /oauth/device by a browser without the device page's session — a cross-site form,
 * a cookie that expired or was cleared, a script posting directly. It answered 500 (oidc-provider throws
 * saving a session it never created); now a 400 page that says what to do, and the code is not looked at.
 */

let setup: OAuthSetup;

before(async () => {
  setup = await startOAuthGatewayForAttacks();
});
after(async () => {
  await setup?.close();
});

test('POST /oauth/device without its session cookie (none, forged, expired) is a 400 page; the real form then confirms the code', async () => {
  const device = await registerClient(setup.issuer, { grant_types: [DEVICE_CODE_GRANT], response_types: [], redirect_uris: [] });
  const started = await postForm(setup.issuer, 'device_authorization', { client_id: device.client_id, scope: 'notes:read', resource: setup.notes });
  const userCode = String(started.json.user_code);

  const page = new FormBrowser(setup.issuer);
  const form = parseForm(await (await page.request('/oauth/device')).text());
  assert.ok(form.fields.xsrf);
  const session = page.cookies.get('warden_session');
  assert.ok(session, 'the device page set its session cookie');

  for (const [label, cookie] of [
    ['no cookie', ''],
    ['a made-up session id', 'warden_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['a session id without its signature', `warden_session=${session}`],
  ] as const) {
    const res = await fetch(`${setup.issuer}/oauth/device`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
      body: new URLSearchParams({ xsrf: form.fields.xsrf!, user_code: userCode }).toString(),
    });
    const html = await res.text();
    assert.equal(res.status, 400, `${label}: ${html.slice(0, 300)}`);
    assert.match(html, /expired or was opened in another browser/, label);
    assert.doesNotMatch(html, /Confirm the device/, `${label}: the code was not looked up`);
    assert.equal(res.headers.get('x-frame-options'), 'DENY', label);
    assert.match(res.headers.get('cache-control') ?? '', /no-store/, label);
  }
  assert.equal(setup.gw.logs.lines.filter((l) => /persist can only be called/.test(l)).length, 0, 'no server error was logged');

  // Control: the browser that opened the page confirms the code with the same form.
  const confirm = await page.request(form.action!, { form: { xsrf: form.fields.xsrf!, user_code: userCode } });
  assert.equal(confirm.status, 200);
  assert.match(await confirm.text(), /Confirm the device/);
});
