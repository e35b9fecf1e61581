import { launchChromium } from '../../helpers/browser.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { callTool, initialize } from '../../helpers/client.js';
import { auditRecords, eventually, PASSWORD, type OAuthSetup } from '../../helpers/oauth.js';
import { AdminClient, startAdminGateway } from '../../helpers/admin-http.js';

/**
 * The admin console in headless Chromium with JavaScript turned off (every action is a plain form). Screenshots
 * go to $WARDEN_SCREENSHOTS when set (docs/screenshots are made with WARDEN_SCREENSHOTS=docs/screenshots),
 * else to a temporary directory. Needs Chromium at /usr/bin/chromium, or at $CHROMIUM_PATH.
 */

const keepShots = Boolean(process.env.WARDEN_SCREENSHOTS);
const shots = keepShots ? resolve(process.env.WARDEN_SCREENSHOTS!) : mkdtempSync(join(tmpdir(), 'warden-admin-shots-'));
mkdirSync(shots, { recursive: true });

let setup: OAuthSetup;
let browser: Browser;
/** Every HTML page the browser received, to check that no secret is rendered twice. */
const pages: string[] = [];

before(async () => {
  setup = await startAdminGateway();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await setup?.close();
  if (!keepShots) rmSync(shots, { recursive: true, force: true });
});

async function newPage(viewport = { width: 1280, height: 900 }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ javaScriptEnabled: false, viewport, deviceScaleFactor: 1, colorScheme: 'light', locale: 'en-US' });
  const page = await context.newPage();
  page.on('response', async (r) => {
    if ((r.headers()['content-type'] ?? '').startsWith('text/html')) pages.push(await r.text().catch(() => ''));
  });
  return { context, page };
}

/** A full-page screenshot; a secret shown once is masked (the committed pictures hold no key, even a dead one). */
async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(shots, name), fullPage: true, mask: [page.locator('.secret code')] });
}

async function signIn(page: Page, username = 'root'): Promise<void> {
  await page.goto(`${setup.issuer}/admin`);
  assert.match(page.url(), /\/admin\/login$/, 'an anonymous visit goes to the sign-in page');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('an admin signs in, finds a user\'s key, revokes it, and the very next MCP call with that key is refused', async () => {
  const api = await AdminClient.signIn(setup.issuer);
  const { json } = await api.post('/keys', { subject: 'alice', name: 'laptop', scopes: ['notes:read'] });
  assert.equal((await callTool(setup.notes, json.key, 'list_notes')).status, 200, 'control: the key works');
  const denied = await callTool(setup.notes, json.key, 'delete_note', { id: 'welcome' });
  assert.equal(denied.status, 403);

  const { context, page } = await newPage();
  try {
    await page.goto(`${setup.issuer}/admin/login`);
    await shot(page, 'admin-login.png');
    await signIn(page);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Overview');
    assert.equal(await page.locator('script').count(), 0, 'no script on the page');
    assert.equal(await page.locator('svg.chart').count() >= 2, true, 'charts drawn on the server');
    await shot(page, 'admin-overview.png');

    await page.getByRole('link', { name: 'Users' }).click();
    await shot(page, 'admin-users.png');
    await page.getByRole('link', { name: 'alice' }).click();
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'User alice');
    await shot(page, 'admin-user.png');
    await page.getByRole('link', { name: 'API keys of alice' }).click();
    await shot(page, 'admin-keys.png');
    await page.getByRole('link', { name: json.view.id }).click();
    await shot(page, 'admin-key.png');
    await page.getByRole('button', { name: 'Revoke this key' }).click();
    assert.match(await page.getByRole('status').first().textContent() ?? '', new RegExp(`Key ${json.view.id} of alice is revoked`));

    assert.equal((await initialize(setup.notes, json.key)).status, 401, 'the very next MCP call is refused');
    const record = await eventually('revoke record', async () => (await auditRecords(setup.dbPath)).find((r) => r.method === 'keys.revoke' && r.target === json.view.id));
    assert.equal(record.subject, 'root');
    assert.equal(record.credential.kind, 'admin_session');
  } finally {
    await context.close();
  }
});

test('the audit page finds a denied call by tool name, and shows the record', async () => {
  const { context, page } = await newPage();
  try {
    await signIn(page);
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByLabel('Tool, resource or prompt').fill('delete_note');
    await page.getByLabel('Decision').selectOption('deny');
    await page.getByRole('button', { name: 'Search' }).click();
    assert.match(page.url(), /tool=delete_note/);
    const rows = page.locator('tbody tr');
    assert.ok(await rows.count() >= 1);
    assert.match(await rows.first().textContent() ?? '', /delete_note.*deny/s);
    await shot(page, 'admin-audit.png');
    await rows.first().getByRole('link').first().click();
    assert.match(await page.getByRole('heading', { level: 1 }).textContent() ?? '', /Audit record \d+/);
    assert.match(await page.locator('dl.record').textContent() ?? '', /delete_note/);
    await shot(page, 'admin-audit-record.png');

    await page.goto(`${setup.issuer}/admin/audit`);
    await page.getByRole('link', { name: 'Check the chain now' }).click();
    assert.match(await page.getByRole('status').first().textContent() ?? '', /Chain: intact \(\d+ records verified\)/);
    // Control: a tool nobody called finds nothing.
    await page.goto(`${setup.issuer}/admin/audit?tool=never_called`);
    assert.match(await page.locator('main').textContent() ?? '', /No record matches/);
  } finally {
    await context.close();
  }
});

test('a user without an admin role is refused the console', async () => {
  const { context, page } = await newPage();
  try {
    await signIn(page, 'bob');
    assert.match(await page.getByRole('alert').textContent() ?? '', /may not use the admin console/);
    assert.match(page.url(), /\/admin\/login$/);
    await page.goto(`${setup.issuer}/admin/keys`);
    assert.match(page.url(), /\/admin\/login$/, 'still not signed in');
    await eventually('refusal record', async () => (await auditRecords(setup.dbPath)).find((r) => r.method === 'admin.sign_in' && r.subject === 'bob' && r.decision === 'deny'));
    // Control: an administrator in the same browser gets in.
    await signIn(page, 'root');
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Overview');
  } finally {
    await context.close();
  }
});

test('a change without the CSRF token is refused; the same change from the form is made', async () => {
  const { context, page } = await newPage();
  try {
    await signIn(page);
    await page.goto(`${setup.issuer}/admin/users`);
    // The browser's own cookies, a form post without the token: what another tab or a forged form would send.
    const forged = await context.request.post(`${setup.issuer}/admin/users/disable`, { form: { username: 'bob' }, maxRedirects: 0 });
    assert.equal(forged.status(), 403);
    assert.match(await forged.text(), /CSRF token/);
    await eventually('csrf record', async () => (await auditRecords(setup.dbPath)).find((r) => r.method === 'admin.csrf' && r.subject === 'root'));
    const wrong = await context.request.post(`${setup.issuer}/admin/users/disable`, { form: { username: 'bob', csrf: 'x'.repeat(43) }, maxRedirects: 0 });
    assert.equal(wrong.status(), 403);
    assert.equal((await AdminClient.signIn(setup.issuer)).csrf !== undefined, true);
    // Re-authentication (asked for by destructive changes once the sign-in is older than admin.reauthAfter): a wrong
    // password is refused and recorded, the right one goes back to the console section it names, never elsewhere.
    const csrf = (await page.locator('form.signout input[name=csrf]').getAttribute('value'))!;
    const wrongPassword = await context.request.post(`${setup.issuer}/admin/reauth`, { form: { csrf, password: 'not the password!', back: '/admin/users' }, maxRedirects: 0 });
    assert.equal(wrongPassword.status(), 401);
    assert.match(await wrongPassword.text(), /Wrong username or password/);
    const confirmed = await context.request.post(`${setup.issuer}/admin/reauth`, { form: { csrf, password: PASSWORD, back: 'https://evil.example/admin' }, maxRedirects: 0 });
    assert.equal(confirmed.status(), 303);
    assert.equal(confirmed.headers().location, '/admin');
    const back = await context.request.post(`${setup.issuer}/admin/reauth`, { form: { csrf, password: PASSWORD, back: '/admin/users' }, maxRedirects: 0 });
    assert.equal(back.headers().location, '/admin/users');
    await page.getByRole('button', { name: 'Disable bob' }).click();
    assert.match(await page.getByRole('status').first().textContent() ?? '', /User bob is disabled/);
    await page.getByRole('button', { name: 'Enable bob' }).click();
    assert.match(await page.getByRole('status').first().textContent() ?? '', /User bob is enabled/);
  } finally {
    await context.close();
  }
});

test('a key created in the console is shown once; pages carry strict headers; other pages render', async () => {
  const { context, page } = await newPage();
  try {
    await signIn(page);
    const res = await page.goto(`${setup.issuer}/admin/keys`);
    const headers = res!.headers();
    assert.match(headers['content-security-policy']!, /default-src 'none'/);
    assert.doesNotMatch(headers['content-security-policy']!, /unsafe-inline|script-src/);
    assert.equal(headers['x-frame-options'], 'DENY');
    assert.equal(headers['cache-control'], 'no-store');
    await page.getByLabel('Subject (who uses it)').fill('console-made');
    await page.getByLabel('notes:read').check();
    await page.getByLabel('Expires in (e.g. 90d; empty: never)').fill('3d');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = (await page.locator('.secret code').textContent())!;
    assert.match(secret, /^wdn_/);
    await shot(page, 'admin-key-created.png');
    await page.reload().catch(() => {});
    for (const [path, file] of [['/clients?includeIdle=true', 'admin-clients.png'], ['/sessions', 'admin-sessions.png'], ['/scopes', 'admin-scopes.png'], ['/?window=day', 'admin-overview-day.png'], ['/keys', '']] as const) {
      const answer = await page.goto(`${setup.issuer}/admin${path}`);
      assert.equal(answer!.status(), 200, path);
      if (file) await shot(page, file);
    }
    assert.match(await page.locator('main').textContent() ?? '', /console-made/);
    await page.goto(`${setup.issuer}/admin/scopes`);
    const readScope = await page.locator('h2:has-text("notes:read") + p + ul').textContent();
    assert.match(readScope ?? '', /list_notes, search_notes, get_note/, 'tools read from the live stdio upstream');
    assert.doesNotMatch(readScope ?? '', /delete_note|add_note/, 'only what the scope opens');
    await page.goto(`${setup.issuer}/admin/keys`);
    const shown = pages.filter((html) => html.includes(secret)).length;
    assert.equal(shown, 1, 'the new key is in exactly one page: the answer that created it');
  } finally {
    await context.close();
  }
});

test('keyboard and phone: the skip link comes first, every field has a label, tables scroll on a narrow screen', async () => {
  const { context, page } = await newPage({ width: 390, height: 844 });
  try {
    await signIn(page);
    await page.goto(`${setup.issuer}/admin`);
    await page.keyboard.press('Tab');
    // Strings, not functions: the test files are typed without the DOM library.
    assert.equal(await page.evaluate('document.activeElement && document.activeElement.textContent'), 'Skip to content');
    await page.goto(`${setup.issuer}/admin/audit`);
    const unlabelled = await page.evaluate('[...document.querySelectorAll("input:not([type=hidden]), select")].filter((e) => !e.labels || e.labels.length === 0).length');
    assert.equal(unlabelled, 0);
    const width = Number(await page.evaluate('document.documentElement.scrollWidth'));
    assert.ok(width <= 390, `the page itself does not scroll sideways (${width}px)`);
    await shot(page, 'admin-phone-audit.png');
    await page.goto(`${setup.issuer}/admin`);
    await shot(page, 'admin-phone-overview.png');
  } finally {
    await context.close();
  }
});
