import { launchChromium } from '../helpers/browser.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { PASSWORD, REDIRECT, registerClient, startOAuthGateway, type OAuthSetup } from '../helpers/oauth.js';
import { DEVICE_CODE_GRANT, codeRequest, exchangeCode, pkcePair, postForm, tokenRequest, type PkcePair } from '../helpers/oauth-flow.js';

/**
 * The sign-in, consent and device-code pages in a real browser: headless Chromium with JavaScript turned off,
 * since the pages promise to work without it. Screenshots go to $WARDEN_SCREENSHOTS when set (the committed
 * ones in docs/screenshots are made with WARDEN_SCREENSHOTS=docs/screenshots), else to a temporary directory.
 *
 * Needs Chromium at /usr/bin/chromium (Debian: apt-get install -y chromium), or at $CHROMIUM_PATH.
 */

const TIMEOUT = 60_000;

const keepShots = Boolean(process.env.WARDEN_SCREENSHOTS);
const shots = keepShots ? resolve(process.env.WARDEN_SCREENSHOTS!) : mkdtempSync(join(tmpdir(), 'warden-screenshots-'));
mkdirSync(shots, { recursive: true });

let setup: OAuthSetup;
let browser: Browser;

before(async () => {
  setup = await startOAuthGateway();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await setup?.close();
  if (!keepShots) rmSync(shots, { recursive: true, force: true });
});

/** A fresh browser profile (no session cookies) with scripts off, the client's redirect URI answered locally. */
async function newPage(): Promise<{ context: BrowserContext; page: Page; callbacks: string[] }> {
  const context = await browser.newContext({
    javaScriptEnabled: false,
    viewport: { width: 900, height: 800 },
    deviceScaleFactor: 1,
    colorScheme: 'light',
    locale: 'en-US',
  });
  const callbacks: string[] = [];
  // Nothing listens on the redirect URI; the browser's arrival there is the authorization response.
  await context.route('http://127.0.0.1:9999/**', async (route) => {
    callbacks.push(route.request().url());
    await route.fulfill({ status: 200, contentType: 'text/plain', body: 'ok' });
  });
  const page = await context.newPage();
  return { context, page, callbacks };
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(shots, name), fullPage: true });
}

/** No JavaScript: none on the page, and none could run (the context has it turned off). */
async function assertNoScript(page: Page, label: string): Promise<void> {
  assert.equal(await page.locator('script').count(), 0, `${label}: no <script> element`);
}

/** A fresh public client, and a fresh page at its authorization request for notes with `scope` and a random state. */
async function startCodeFlow(scope: string): Promise<{ clientId: string; pkce: PkcePair; state: string; context: BrowserContext; page: Page; callbacks: string[] }> {
  const { client_id: clientId } = await registerClient(setup.issuer, { redirect_uris: [REDIRECT] });
  const pkce = pkcePair();
  const state = randomBytes(12).toString('base64url');
  const opened = await newPage();
  try {
    await opened.page.goto(codeRequest(setup.issuer, clientId, pkce, { scope, resource: setup.notes, state }));
  } catch (error) {
    await opened.context.close();
    throw error;
  }
  return { clientId, pkce, state, ...opened };
}

const INTERACTION = /\/oauth\/interaction\/[A-Za-z0-9_-]+$/;

async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('authorization code flow in Chromium without JavaScript: sign-in, a wrong password, consent, the redirect, tokens', { timeout: TIMEOUT }, async () => {
  const { clientId, pkce, state, context, page, callbacks } = await startCodeFlow('notes:read notes:write');
  try {
    assert.match(page.url(), INTERACTION, `the authorization request lands on the sign-in page: ${page.url()}`);
    assert.match(await page.title(), /Sign in/);
    await assertNoScript(page, 'sign-in');
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign in');
    assert.match(await page.locator('main').innerText(), /Sign in to continue to Test Client/);
    await screenshot(page, 'login.png');

    await signIn(page, 'alice', 'not the password');
    await page.waitForURL(/\/login$/);
    const alert = page.getByRole('alert');
    assert.equal((await alert.textContent())?.trim(), 'Wrong username or password.');
    assert.equal(await page.getByLabel('Username').inputValue(), 'alice', 'the username is kept after a failed attempt');
    assert.equal(await page.getByLabel('Password').inputValue(), '', 'the password is not echoed back');
    await assertNoScript(page, 'sign-in after a wrong password');
    await screenshot(page, 'login-error.png');

    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(INTERACTION);
    assert.match(await page.title(), /Allow access\?/);
    await assertNoScript(page, 'consent');
    const consent = await page.locator('main').innerText();
    assert.match(consent, /Test Client wants to use notes as alice/);
    const scopes = page.locator('ul.scopes > li');
    assert.equal(await scopes.count(), 2);
    const read = await scopes.nth(0).innerText();
    assert.match(read, /notes:read/);
    assert.match(read, /Read your notes/);
    assert.match(read, /call the tools list_notes, search_notes, get_note/);
    assert.match(read, /read resources note:\/\/\*/);
    const write = await scopes.nth(1).innerText();
    assert.match(write, /notes:write/);
    assert.match(write, /call the tools add_note, delete_note/);
    assert.doesNotMatch(consent, /Not granted/, 'alice, a writer, may grant both scopes');
    await screenshot(page, 'consent.png');

    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((url) => url.href.startsWith(REDIRECT));
    assert.equal(callbacks.length, 1, `one authorization response: ${callbacks.join(', ')}`);
    const callback = new URL(callbacks[0]!);
    const code = callback.searchParams.get('code');
    assert.ok(code, `the redirect carries a code: ${callback.href}`);
    assert.equal(callback.searchParams.get('state'), state);
    assert.equal(callback.searchParams.get('iss'), setup.issuer, 'RFC 9207 iss');
    assert.equal(callback.searchParams.get('error'), null);

    const token = await exchangeCode(setup.issuer, { clientId, code, pkce });
    assert.equal(token.status, 200, JSON.stringify(token.json));
    assert.equal(typeof token.json.access_token, 'string');
    assert.ok(token.json.access_token.length > 0);
    assert.equal(String(token.json.token_type).toLowerCase(), 'bearer');
    assert.deepEqual(String(token.json.scope).split(' ').sort(), ['notes:read', 'notes:write']);
  } finally {
    await context.close();
  }
});

test('consent for a reader: notes:write is listed as not granted, and the token has notes:read only', { timeout: TIMEOUT }, async () => {
  const { clientId, pkce, state, context, page, callbacks } = await startCodeFlow('notes:read notes:write');
  try {
    await signIn(page, 'bob', PASSWORD);
    await page.waitForURL(INTERACTION);
    assert.match(await page.title(), /Allow access\?/);
    const scopes = page.locator('ul.scopes > li');
    assert.equal(await scopes.count(), 1, 'only what bob may grant is offered');
    assert.match(await scopes.nth(0).innerText(), /notes:read/);
    const consent = await page.locator('main').innerText();
    assert.match(consent, /Not granted: your account does not have the scope notes:write, so the app will not get it\./);

    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((url) => url.href.startsWith(REDIRECT));
    const callback = new URL(callbacks[0]!);
    const code = callback.searchParams.get('code');
    assert.ok(code, callback.href);
    assert.equal(callback.searchParams.get('state'), state);
    const token = await exchangeCode(setup.issuer, { clientId, code, pkce });
    assert.equal(token.status, 200, JSON.stringify(token.json));
    assert.equal(token.json.scope, 'notes:read');
  } finally {
    await context.close();
  }
});

test('device flow in Chromium without JavaScript: code entry, confirmation, sign-in and consent, then the device gets tokens', { timeout: TIMEOUT }, async () => {
  const { client_id } = await registerClient(setup.issuer, {
    client_name: 'Test Device',
    grant_types: [DEVICE_CODE_GRANT, 'refresh_token'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'none',
  });
  const authorization = await postForm(setup.issuer, 'device_authorization', { client_id, scope: 'notes:read', resource: setup.notes });
  assert.equal(authorization.status, 200, JSON.stringify(authorization.json));
  const { device_code, user_code, verification_uri } = authorization.json as { device_code: string; user_code: string; verification_uri: string };
  assert.ok(device_code && user_code);
  assert.equal(verification_uri, `${setup.issuer}/oauth/device`);

  // Before anyone approves, the device is told to keep polling.
  const early = await tokenRequest(setup.issuer, { grant_type: DEVICE_CODE_GRANT, client_id, device_code });
  assert.equal(early.json.error, 'authorization_pending');

  const { context, page } = await newPage();
  try {
    await page.goto(verification_uri);
    assert.match(await page.title(), /Connect a device/);
    await assertNoScript(page, 'device code entry');
    assert.match(await page.locator('main').innerText(), /Enter the code shown on your device/);
    await screenshot(page, 'device-code.png');

    await page.locator('input[name=user_code]').fill(user_code);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForLoadState();
    assert.match(await page.title(), /Confirm the device/);
    await assertNoScript(page, 'device confirmation');
    assert.equal((await page.locator('.code').textContent())?.trim(), user_code, 'the code to compare is the one the device shows');
    assert.match(await page.locator('main').innerText(), /Test Device wants to sign in on a device/);
    await page.getByRole('button', { name: 'Continue' }).click();

    await page.waitForURL(INTERACTION);
    assert.match(await page.title(), /Sign in/);
    assert.match(await page.locator('main').innerText(), /Sign in to continue to Test Device/);
    await signIn(page, 'bob', PASSWORD);
    await page.waitForURL(INTERACTION);
    assert.match(await page.title(), /Allow access\?/);
    assert.match(await page.locator('main').innerText(), /Test Device wants to use notes as bob/);
    await page.getByRole('button', { name: 'Allow' }).click();

    await page.getByRole('heading', { name: 'Device connected' }).waitFor();
    assert.match(await page.title(), /Device connected/);
    const success = await page.locator('main').innerText();
    assert.match(success, /You are signed in to Test Device on your device/);
    assert.match(success, /return to your device/);
    await assertNoScript(page, 'device success');
  } finally {
    await context.close();
  }

  const token = await tokenRequest(setup.issuer, { grant_type: DEVICE_CODE_GRANT, client_id, device_code });
  assert.equal(token.status, 200, JSON.stringify(token.json));
  assert.equal(typeof token.json.access_token, 'string');
  assert.equal(token.json.scope, 'notes:read');
  assert.equal(typeof token.json.refresh_token, 'string', 'refresh_token is among the client\'s grant types');
});
