import { launchChromium } from '../../helpers/browser.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../../helpers/upstreams.js';
import { callTool, freePort } from '../../helpers/client.js';
import { createKey } from '../../helpers/keys.js';
import { withStore } from '../../helpers/store.js';
import { IDP_SSO, startIdp, tempStore, type TestIdp } from '../../helpers/idp.js';
import { AdminClient } from '../../helpers/admin-http.js';

/**
 * Issue 19's "or SSO through the company IdP": administrators sign in to the console through the same company
 * sign-in as the authorization server (sso.ts, a real oidc-provider IdP), in headless Chromium. Local passwords
 * are off, so the console offers no password form. The IdP's groups map to warden roles; only `admin` opens
 * the console.
 */

describe('admin console sign-in through the company IdP', () => {
  let idp: TestIdp;
  let web: RunningHttpUpstream;
  let gw: TestGateway;
  let browser: Browser;
  let issuer: string;
  let dbPath: string;

  before(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    idp = await startIdp({ ssoRedirect: `${issuer}/oauth/sso/callback` });
    idp.groups.set('dana', ['it-admins', 'mcp-readers']);
    idp.groups.set('erin', ['mcp-readers']);
    idp.groups.set('frank', ['it-admins']);
    web = await startHttpUpstream({ stateful: false, json: true });
    const store = tempStore();
    dbPath = store.sqlite;
    gw = await startGateway({
      listen: { host: '127.0.0.1', port },
      store,
      auth: {
        apiKeys: {},
        oauth: { localPasswords: false },
        jwt: { issuers: [{ issuer: idp.issuer, use: ['sso'], sso: { clientId: IDP_SSO.id, clientSecret: IDP_SSO.secret, scopes: ['openid', 'groups'], label: 'Sign in with Acme' }, claims: { roles: 'groups' }, roles: { 'mcp-readers': ['reader'], 'it-admins': ['admin'] } }] },
      },
      authorization: { scopes: { 'echo:use': { upstreams: ['web'], tools: ['echo'] } }, roles: { reader: ['echo:use'], admin: [] } },
      admin: { roles: ['admin'], perIp: { requestsPerSecond: 100, burst: 1_000 } },
      upstreams: { web: { url: web.url } },
    }, [IDP_SSO.secret]);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
    await web?.close();
    await idp?.close();
  });

  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ javaScriptEnabled: false });
    // The IdP's development pages import a web font; a closed network need not wait for it.
    await context.route('https://fonts.googleapis.com/**', (route) => route.abort());
    return { context, page: await context.newPage() };
  }

  async function submit(page: Page, selector: string): Promise<void> {
    await page.click(selector);
    await page.waitForLoadState('load');
  }

  /** From /admin through the IdP's login as `username`, back to the console's answer. */
  async function signIn(username: string): Promise<{ context: BrowserContext; page: Page }> {
    const { context, page } = await newPage();
    await page.goto(`${issuer}/admin`);
    assert.match(page.url(), /\/admin\/login$/);
    assert.equal(await page.getByLabel('Password').count(), 0, 'no password form: auth.oauth.localPasswords is false');
    await page.getByRole('link', { name: 'Sign in with Acme' }).click();
    await page.waitForLoadState('load');
    assert.ok(page.url().startsWith(idp.issuer), `at the IdP, not ${page.url()}`);
    await page.fill('input[name=login]', username);
    await page.fill('input[name=password]', 'anything');
    await submit(page, 'button[type=submit]');
    if (page.url().startsWith(idp.issuer) && (await page.locator('input[name=prompt][value=consent]').count()) > 0) await submit(page, 'button[type=submit]');
    return { context, page };
  }

  const signInRecords = (from: number) => gw.audit.records.slice(from).filter((r) => r.method === 'admin.sign_in');

  let danaSession: BrowserContext | undefined;

  test('an IdP user with the admin role signs in and revokes a key; the next MCP call with it is refused', async () => {
    const { id, key } = await createKey(dbPath, { subject: 'erin', scopes: ['echo:use'] });
    assert.equal((await callTool(`${gw.url}/mcp/web`, key, 'echo', { text: 'before' })).status, 200, 'control: the key works');
    const from = gw.audit.records.length;
    const { context, page } = await signIn('dana');
    danaSession = context;
    assert.match(await page.getByRole('status').textContent() ?? '', /Signed in as dana through your company account/);
    await page.getByRole('link', { name: 'Continue to the console' }).click();
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Overview');
    assert.match(await page.locator('.signout').textContent() ?? '', /Signed in as dana/);
    const [record] = signInRecords(from);
    assert.equal(record?.decision, 'allow');
    assert.match(record?.reason ?? '', /company sign-in at http:\/\/127\.0\.0\.1/);
    assert.deepEqual((await withStore(dbPath, (s) => s.users.get('dana')))?.roles.sort(), ['admin', 'reader'], 'the user was made with the mapped roles');

    await page.goto(`${issuer}/admin/keys/show?id=${encodeURIComponent(id)}`);
    await page.getByRole('button', { name: 'Revoke this key' }).click();
    assert.match(await page.getByRole('status').first().textContent() ?? '', new RegExp(`Key ${id} of erin is revoked`));
    assert.equal((await callTool(`${gw.url}/mcp/web`, key, 'echo', { text: 'after' })).status, 401, 'the revoked key is refused');
    const revoked = gw.audit.records.find((r) => r.method === 'keys.revoke' && r.target === id);
    assert.equal(revoked?.subject, 'dana', 'the change is recorded under the administrator\'s name');
  });

  test('refused: an IdP user without the admin role gets no console session', async () => {
    const from = gw.audit.records.length;
    const { context, page } = await signIn('erin');
    try {
      assert.match(page.url(), /\/admin\/sso\/done/);
      assert.match(await page.getByRole('alert').textContent() ?? '', /may not use the admin console/);
      const [record] = signInRecords(from);
      assert.equal(record?.decision, 'deny');
      assert.match(record?.reason ?? '', /not an administrator/);
      await page.goto(`${issuer}/admin`);
      assert.match(page.url(), /\/admin\/login$/, 'no session was opened');
    } finally {
      await context.close();
    }
    // The control: an administrator's session still works.
    const control = await danaSession!.newPage();
    await control.goto(`${issuer}/admin/keys`);
    assert.equal(await control.getByRole('heading', { level: 1 }).textContent(), 'API keys');
  });

  test('refused: a user disabled at the gateway, though the IdP still gives it the admin role', async () => {
    await signIn('frank').then(({ context }) => context.close());
    await withStore(dbPath, (s) => s.users.update('frank', { disabledAt: Date.now() }));
    const from = gw.audit.records.length;
    const { context, page } = await signIn('frank');
    try {
      assert.match(await page.getByRole('alert').textContent() ?? '', /disabled/);
      assert.match(signInRecords(from)[0]?.reason ?? '', /disabled/);
    } finally {
      await context.close();
      await withStore(dbPath, (s) => s.users.update('frank', { disabledAt: null }));
    }
    const again = await signIn('frank');
    assert.match(await again.page.getByRole('status').textContent() ?? '', /Signed in as frank/, 'control: enabled again, frank gets in');
    await again.context.close();
  });

  test('the admin role removed at the IdP: the next sign-in is refused, and the open session ends at once', async () => {
    idp.groups.set('dana', ['mcp-readers']);
    try {
      const from = gw.audit.records.length;
      const { context, page } = await signIn('dana');
      assert.match(await page.getByRole('alert').textContent() ?? '', /may not use the admin console/);
      await context.close();
      assert.equal(signInRecords(from)[0]?.decision, 'deny');
      assert.deepEqual((await withStore(dbPath, (s) => s.users.get('dana')))?.roles, ['reader'], 'the roles follow the IdP');
      const open = await danaSession!.newPage();
      await open.goto(`${issuer}/admin/keys`);
      assert.match(open.url(), /\/admin\/login$/, 'the session opened while dana was an administrator is over');
    } finally {
      idp.groups.set('dana', ['it-admins', 'mcp-readers']);
      await danaSession?.close();
    }
  });

  test('refused: a password sign-in, by form or API, when local passwords are off; a return without the starting browser\'s cookie', async () => {
    const api = new AdminClient(issuer);
    const answer = await api.signIn('dana', 'anything');
    assert.equal(answer.status, 403);
    assert.match(answer.json.message, /localPasswords: false/);
    // A sign-in started in one browser and finished in another (login CSRF): the state is not this browser's.
    const start = await fetch(`${issuer}/admin/sso/0`, { redirect: 'manual' });
    assert.equal(start.status, 303);
    const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
    const done = await fetch(`${issuer}/admin/sso/done?state=${encodeURIComponent(state)}`, { headers: { cookie: 'warden_admin_sso=someone-else' } });
    assert.equal(done.status, 400);
    assert.match(await done.text(), /expired or belongs to another sign-in/);
    assert.equal((await fetch(`${issuer}/admin/sso/7`, { redirect: 'manual' })).status, 404, 'no such IdP');
    // The control: the console still answers.
    assert.equal((await fetch(`${issuer}/admin/login`)).status, 200);
  });

  test('the IdP client secret reached neither the log nor the audit records', () => {
    const text = `${gw.logs.text}\n${JSON.stringify(gw.audit.records)}`;
    assert.ok(text.includes('admin.sign_in'), 'control: the records are there');
    assert.ok(!text.includes(IDP_SSO.secret));
  });
});
