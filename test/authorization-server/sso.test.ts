import { launchChromium } from '../helpers/browser.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../helpers/upstreams.js';
import { callTool, freePort } from '../helpers/client.js';
import { registerClient } from '../helpers/oauth.js';
import { codeRequest, exchangeCode, pkcePair, refresh, remember, seenSecrets } from '../helpers/oauth-flow.js';
import { withStore } from '../helpers/store.js';
import { IDP_SSO, startIdp, tempStore, type TestIdp } from '../helpers/idp.js';

/**
 * Part 2 of issue 15: company sign-in at the embedded authorization server, in headless Chromium, from an MCP
 * client's authorization request through the IdP's own login page (a real oidc-provider) back to the
 * gateway's consent page, ending in a tool call. Local passwords are off. A role removed at the IdP takes
 * the user's access away at the next sign-in; a user disabled at the IdP cannot sign in again.
 */


describe('company sign-in (SSO) at the embedded authorization server', () => {
  let idp: TestIdp;
  let web: RunningHttpUpstream;
  let gw: TestGateway;
  let browser: Browser;
  let issuer: string;
  let resource: string;
  let dbPath: string;
  /** The MCP client's redirect URI: a loopback server that notes each authorization response it receives. */
  let redirect: string;
  let client: Server;
  const clientCallbacks: string[] = [];

  before(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    idp = await startIdp({ ssoRedirect: `${issuer}/oauth/sso/callback` });
    idp.groups.set('alice', ['mcp-readers']);
    web = await startHttpUpstream({ stateful: false, json: true });
    const store = tempStore();
    dbPath = store.sqlite;
    gw = await startGateway({
      listen: { host: '127.0.0.1', port },
      store,
      auth: {
        oauth: { localPasswords: false },
        jwt: { issuers: [{ issuer: idp.issuer, use: ['sso'], sso: { clientId: IDP_SSO.id, clientSecret: IDP_SSO.secret, scopes: ['openid', 'email', 'groups'] }, claims: { roles: 'groups', tenant: 'tid' }, roles: { 'mcp-readers': ['reader'] } }] },
      },
      authorization: { scopes: { 'echo:use': { upstreams: ['web'], tools: ['echo'], description: 'Echo things' } }, roles: { reader: ['echo:use'] } },
      upstreams: { web: { url: web.url } },
    }, [IDP_SSO.secret]);
    resource = `${gw.url}/mcp/web`;
    client = createServer((req, res) => {
      clientCallbacks.push(new URL(req.url ?? '/', redirect).href);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
    await new Promise<void>((r) => client.listen(0, '127.0.0.1', r));
    redirect = `http://127.0.0.1:${(client.address() as AddressInfo).port}/callback`;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
    await web?.close();
    await idp?.close();
    client?.close();
  });

  async function newPage(): Promise<{ context: BrowserContext; page: Page; callbacks: string[] }> {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const callbacks = clientCallbacks;
    // The IdP's development pages import a web font; a closed network need not wait for it.
    await context.route('https://fonts.googleapis.com/**', (route) => route.abort());
    return { context, page: await context.newPage(), callbacks };
  }

  /** An MCP client's authorization request, through the IdP's login as `username`, to the gateway's consent and back. */
  async function signIn(username: string): Promise<{ page: Page; context: BrowserContext; code?: string; pkce: ReturnType<typeof pkcePair>; clientId: string }> {
    const { client_id: clientId } = await registerClient(issuer, { redirect_uris: [redirect] });
    const pkce = pkcePair();
    const { context, page, callbacks } = await newPage();
    callbacks.length = 0;
    await page.goto(codeRequest(issuer, clientId, pkce, { scope: 'echo:use', resource, redirect_uri: redirect }), { waitUntil: 'load' });
    // No password form at the gateway: the browser is at the IdP's login page.
    assert.ok(page.url().startsWith(idp.issuer), `at the IdP, not ${page.url()}`);
    await page.fill('input[name=login]', username);
    await page.fill('input[name=password]', 'anything');
    await submit(page, 'button[type=submit]');
    if (page.url().startsWith(idp.issuer) && (await page.locator('input[name=prompt][value=consent]').count()) > 0) await submit(page, 'button[type=submit]');
    if (page.url().startsWith(`${issuer}/oauth/interaction/`) && (await page.locator('button[name=decision][value=allow]').count()) > 0) {
      assert.match(await page.content(), /Echo things/, "the gateway's consent page lists the scope");
      await submit(page, 'button[name=decision][value=allow]');
    }
    const callback = callbacks.find((c) => c.startsWith(redirect));
    const code = callback ? new URL(callback).searchParams.get('code') ?? undefined : undefined;
    remember(code, pkce.verifier);
    return { page, context, ...(code ? { code } : {}), pkce, clientId };
  }

  /** Clicks, and waits for the redirects that follow to end in a loaded page. */
  async function submit(page: Page, selector: string): Promise<void> {
    await page.click(selector);
    await page.waitForLoadState('load');
  }

  let first: { access_token: string; refresh_token: string; clientId: string };

  test('from the MCP client through the IdP login to the gateway consent, ending in a tool call; the user is created with mapped roles', async () => {
    const from = gw.audit.records.length;
    const { code, pkce, clientId, context } = await signIn('alice');
    await context.close();
    assert.ok(code, 'the MCP client got a code');
    const tokens = await exchangeCode(issuer, { clientId, code: code!, pkce }, { resource, redirect_uri: redirect });
    assert.equal(tokens.status, 200, tokens.text);
    first = { ...tokens.json, clientId };
    const call = await callTool(resource, tokens.json.access_token, 'echo', { text: 'sso' });
    assert.equal(call.status, 200, call.text);
    assert.equal(call.json.result.content[0].text, 'sso');
    const user = await withStore(dbPath, (s) => s.users.get('alice'));
    assert.deepEqual(user?.roles, ['reader']);
    assert.equal(user?.tenant, 'acme');
    const signedIn = gw.audit.records.slice(from).find((r) => r.method === 'oauth.sign_in');
    assert.match(signedIn?.reason ?? '', /company sign-in at http:\/\/127\.0\.0\.1/);
  });

  test('refused: a password sign-in when local passwords are off', async () => {
    const { client_id: clientId } = await registerClient(issuer, { redirect_uris: [redirect] });
    const res = await fetch(codeRequest(issuer, clientId, pkcePair(), { scope: 'echo:use', resource, redirect_uri: redirect }), { redirect: 'manual' });
    const interaction = new URL(res.headers.get('location')!, issuer);
    const cookies = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const post = await fetch(`${interaction.href}/login`, { method: 'POST', headers: { cookie: cookies, 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=x&username=alice&password=y' });
    assert.equal(post.status, 403);
    assert.match(await post.text(), /Password sign-in is turned off/);
  });

  test('a role removed at the IdP: the next sign-in is refused and the earlier grant stops working (refresh and access token)', async () => {
    idp.groups.set('alice', ['marketing']);
    try {
      const from = gw.audit.records.length;
      const { page, code, context } = await signIn('alice');
      assert.equal(code, undefined, 'no code for the client');
      assert.match(await page.content(), /no role that gives access here/);
      await context.close();
      const refused = gw.audit.records.slice(from).find((r) => r.method === 'oauth.sign_in_failed');
      assert.match(refused?.reason ?? '', /maps to a warden role.*; earlier grants revoked/);
      assert.deepEqual((await withStore(dbPath, (s) => s.users.get('alice')))?.roles, []);
      assert.equal((await refresh(issuer, first.clientId, first.refresh_token)).status, 400, 'the refresh token died with the grant');
      assert.equal((await callTool(resource, first.access_token, 'echo', { text: 'x' })).status, 401, 'the access token of the revoked grant is refused');
    } finally {
      idp.groups.set('alice', ['mcp-readers']);
    }
    // The control: with the role back at the IdP, the next sign-in works again.
    const again = await signIn('alice');
    await again.context.close();
    assert.ok(again.code);
  });

  test('a user disabled at the IdP cannot sign in: no code reaches the MCP client', async () => {
    idp.groups.set('carol', ['mcp-readers']);
    idp.disabled.add('carol');
    const { code, context } = await signIn('carol');
    await context.close();
    assert.equal(code, undefined);
    assert.equal(await withStore(dbPath, (s) => s.users.get('carol')), undefined, 'no warden user was made');
  });

  test('no token, code or secret reached the log or the audit records', () => {
    const text = `${gw.logs.text}\n${JSON.stringify(gw.audit.records)}`;
    for (const secret of [...seenSecrets, IDP_SSO.secret]) assert.ok(!text.includes(secret), 'a secret leaked');
  });
});
