import { escapeHtml } from '../../src/shared/html.js';
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  PAGE_HEADERS, httpsHost, loginPage, consentPage, deviceInputPage, deviceConfirmPage, deviceSuccessPage,
  deviceErrorMessage, errorPage, type ConsentScope,
} from '../../src/authorization-server/pages.js';

// The forms oidc-provider itself hands to the device-flow hooks, so a change of its markup shows up here.
// (A non-literal specifier: the helper has no type declarations.)
const formHelperPath = 'oidc-provider/lib/helpers/user_code_form.js';
const providerForms = (await import(formHelperPath)) as {
  input(action: string, csrf: string, code: string | undefined, charset: string): string;
  confirm(action: string, csrf: string, code: string): string;
};
const inputForm = providerForms.input('/device', 'xsrf-secret', undefined, 'base-20');
const confirmForm = providerForms.confirm('/device', 'xsrf-secret', 'BCDF-GHJK');

const HOSTILE = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "' onmouseover='alert(1)",
  '</style><script src=//evil.example/x.js></script>',
];
const hostile = HOSTILE.join(' ');

const ELEMENTS = new Set(['!doctype', 'html', 'head', 'meta', 'title', 'style', 'body', 'main', 'h1', 'p', 'strong', 'code', 'div', 'ul', 'li', 'form', 'label', 'input', 'button']);

/** Tags of the document with their quoted attribute values removed: what a browser would treat as markup. */
function tags(page: string): string[] {
  return [...page.matchAll(/<[^>]*>/g)].map((m) => m[0].replace(/"[^"]*"/g, '""'));
}

function assertInert(page: string, trustedForm = ''): void {
  const own = trustedForm ? page.replace(trustedForm, '') : page;
  assert.doesNotMatch(page, /<script/i, 'no script tag');
  assert.doesNotMatch(page, /<img/i, 'no img tag');
  for (const tag of tags(own)) {
    assert.doesNotMatch(tag, /\son\w+\s*=/i, `event handler in ${tag}`);
    assert.doesNotMatch(tag, /\s(src|href|style)\s*=/i, `external or inline-styled markup in ${tag}`);
    const element = /^<\/?([!a-z0-9]+)/i.exec(tag)?.[1]?.toLowerCase() ?? tag;
    assert.ok(ELEMENTS.has(element), `unexpected element ${tag}`);
  }
  assert.equal((page.match(/<style>/g) ?? []).length, 1, 'exactly the one stylesheet');
  assert.equal((page.match(/<\/style>/g) ?? []).length, 1, 'no early </style>');
}

function text(page: string): string {
  return page.replace(/<style>[^]*<\/style>/, '').replace(/<[^>]*>/g, '').replace(/\s+/g, ' ');
}

const scopes: ConsentScope[] = [
  { name: 'notes:read', description: 'Read notes', tools: ['search_notes', 'get_note'], resources: ['note://*'], prompts: [] },
  { name: 'notes:admin', tools: ['*'], resources: [], prompts: ['*'], upstreams: ['notes'] },
  { name: 'empty', tools: [], resources: [], prompts: [] },
];

function consent(overrides: Partial<Parameters<typeof consentPage>[0]> = {}): string {
  return consentPage({
    action: '/interaction/abc/consent', csrf: 'csrf-token', clientName: 'Claude', clientHost: 'claude.ai',
    username: 'alice', resourceName: 'Notes', scopes, withheld: [], ...overrides,
  });
}

const everyPage = (): [string, string, string?][] => [
  ['login', loginPage({ action: '/i/1/login', csrf: 'c', clientName: 'App', username: 'u', error: 'e' })],
  ['consent', consent({ withheld: ['x'] })],
  ['consent, nothing', consent({ scopes: [] })],
  ['device input', deviceInputPage({ form: inputForm, error: 'e' }), inputForm],
  ['device confirm', deviceConfirmPage({ form: confirmForm, clientName: 'App', userCode: 'BCDF-GHJK' }), confirmForm],
  ['device success', deviceSuccessPage({ clientName: 'App' })],
  ['error', errorPage({ title: 'Oops', message: 'm', requestId: 'r' })],
];

describe('escapeHtml', () => {
  test('the five characters that matter, and nothing else', () => {
    assert.equal(escapeHtml(`<a href="x" title='y'>&</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
    assert.equal(escapeHtml('plain — text'), 'plain — text');
    assert.equal(escapeHtml(undefined), '');
    assert.equal(escapeHtml(3), '3');
  });
});

describe('PAGE_HEADERS', () => {
  test('no framing, no sniffing, no caching, no scripts; no form-action', () => {
    assert.equal(PAGE_HEADERS['content-type'], 'text/html; charset=utf-8');
    assert.equal(PAGE_HEADERS['cache-control'], 'no-store');
    assert.equal(PAGE_HEADERS['x-frame-options'], 'DENY');
    assert.equal(PAGE_HEADERS['referrer-policy'], 'no-referrer');
    assert.equal(PAGE_HEADERS['x-content-type-options'], 'nosniff');
    const csp = PAGE_HEADERS['content-security-policy'] ?? '';
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /base-uri 'none'/);
    assert.doesNotMatch(csp, /form-action/);
    assert.doesNotMatch(csp, /script-src/);
  });
});

describe('every page', () => {
  test('is a complete, script-free document', () => {
    for (const [name, page, form] of everyPage()) {
      assert.match(page, /^<!DOCTYPE html>\n<html lang="en">/, name);
      assert.match(page, /<meta name="viewport"/, name);
      assert.match(page, /<title>[^<]+ · mcp-warden<\/title>/, name);
      assert.match(page, /<main>/, name);
      assertInert(page, form);
    }
  });
});

describe('loginPage', () => {
  const page = loginPage({ action: '/interaction/abc/login', csrf: 'csrf-token', clientName: 'Claude' });

  test('posts username and password with the csrf token', () => {
    assert.match(page, /<form method="post" action="\/interaction\/abc\/login">/);
    assert.match(page, /<input type="hidden" name="csrf" value="csrf-token">/);
    assert.match(page, /<label for="username">Username<\/label>/);
    assert.match(page, /<input id="username" name="username" type="text" value="" autocomplete="username"[^>]* required autofocus>/);
    assert.match(page, /<label for="password">Password<\/label>/);
    assert.match(page, /<input id="password" name="password" type="password" autocomplete="current-password" required>/);
    assert.match(page, /<button type="submit" class="primary block">Sign in<\/button>/);
    assert.match(page, /<button type="submit" name="cancel" value="1" formnovalidate class="link">Cancel<\/button>/);
    assert.ok(page.indexOf('>Sign in</button>') < page.indexOf('>Cancel</button>'), 'Enter submits Sign in, not Cancel');
    assert.match(text(page), /Sign in to continue to Claude/);
    assert.doesNotMatch(page, /role="alert"/);
  });

  test('after a failure: the error, the username kept, the password focused', () => {
    const again = loginPage({ action: '/l', csrf: 'c', clientName: 'Claude', username: 'alice', error: 'Too many failed sign-ins; try again after 14:05 UTC' });
    assert.match(again, /<div class="alert" role="alert">Too many failed sign-ins; try again after 14:05 UTC<\/div>/);
    assert.match(again, /name="username" type="text" value="alice"[^>]*required>/);
    assert.match(again, /name="password"[^>]* required autofocus>/);
  });

  test('hostile client name, username, error, csrf and action are inert', () => {
    const evil = loginPage({ action: hostile, csrf: hostile, clientName: hostile, username: hostile, error: hostile });
    assertInert(evil);
    assert.ok(evil.split(escapeHtml(hostile)).length - 1 >= 5, 'each one rendered, escaped');
  });
});

describe('consentPage', () => {
  test('who, as whom, for what; both decisions with the csrf token', () => {
    const page = consent();
    const words = text(page);
    assert.match(words, /Claude wants to use Notes as alice\./);
    assert.match(words, /App website: claude\.ai/);
    assert.match(page, /<input type="hidden" name="csrf" value="csrf-token">/);
    assert.match(page, /<button type="submit" name="decision" value="allow" class="primary">Allow<\/button>/);
    assert.match(page, /<button type="submit" name="decision" value="deny" class="secondary">Deny<\/button>/);
  });

  test('each scope in plain words', () => {
    const words = text(consent());
    assert.match(words, /notes:read — Read notes Lets the app call the tools search_notes, get_note; read resources note:\/\/\*\./);
    assert.match(words, /notes:admin Lets the app call any tool; use any prompt\. Only on the server notes\./);
    assert.match(words, /empty Lets the app do nothing\./);
    const single = text(consent({ scopes: [{ name: 's', tools: ['get_*'], resources: ['file:///a'], prompts: ['p'], upstreams: ['*'] }] }));
    assert.match(single, /s Lets the app call the tools get_\*; read the resource file:\/\/\/a; use the prompt p\./);
    assert.doesNotMatch(single, /Only on/);
  });

  test('withheld scopes are named', () => {
    assert.match(text(consent({ withheld: ['admin'] })), /Not granted: your account does not have the scope admin, so the app will not get it\./);
    assert.match(text(consent({ withheld: ['a', 'b'] })), /does not have the scopes a, b, so the app will not get them\./);
    assert.doesNotMatch(text(consent()), /Not granted/);
  });

  test('nothing to grant: no Allow, only a way back', () => {
    const page = consent({ scopes: [], withheld: ['notes:write'] });
    assert.doesNotMatch(page, /value="allow"/);
    assert.match(page, /<button type="submit" name="decision" value="deny" class="primary block">Back to the app<\/button>/);
    assert.match(text(page), /would get no access/);
    assert.match(text(page), /does not have the scope notes:write/);
  });

  test('hostile names, descriptions, tools, resources, prompts, servers and withheld scopes are inert', () => {
    const evil = consentPage({
      action: hostile, csrf: hostile, clientName: hostile, clientHost: hostile, username: hostile, resourceName: hostile,
      scopes: [{ name: hostile, description: hostile, tools: [hostile, 'ok'], resources: [hostile], prompts: [hostile], upstreams: [hostile] }],
      withheld: [hostile],
    });
    assertInert(evil);
    assert.ok(evil.split(escapeHtml(hostile)).length - 1 >= 12, 'each one rendered, escaped');
  });
});

describe('httpsHost', () => {
  test('a host only from an https URL', () => {
    assert.equal(httpsHost('https://claude.ai/some/path?q=1'), 'claude.ai');
    assert.equal(httpsHost('https://example.com:8443'), 'example.com:8443');
    assert.equal(httpsHost('http://example.com'), undefined);
    assert.equal(httpsHost('javascript:alert(1)'), undefined);
    assert.equal(httpsHost('not a url'), undefined);
    assert.equal(httpsHost(undefined), undefined);
  });
});

describe('device flow pages', () => {
  test('input: the provider form embedded with its field labelled and its inline handler dropped, submitted by a button naming its id', () => {
    const page = deviceInputPage({ form: inputForm });
    assert.ok(page.includes('<form id="op.deviceInputForm"'));
    assert.match(page, /id="user_code" name="user_code" aria-label="Code"/);
    assert.match(page, /<label for="user_code">/);
    assert.doesNotMatch(page, /onfocus=/);
    assert.match(inputForm, /id="op\.deviceInputForm"/);
    assert.match(page, /<button type="submit" form="op\.deviceInputForm" class="primary block">Continue<\/button>/);
    assert.match(text(page), /Enter the code shown on your device/);
    assert.doesNotMatch(page, /role="alert"/);
  });

  test('input: whatever id the provider uses is the one referenced', () => {
    const form = '<form id="other.id" method="post" action="/d"><input type="hidden" name="xsrf" value="s"/></form>';
    assert.match(deviceInputPage({ form }), /form="other\.id"/);
  });

  test('input: errors in words, escaped', () => {
    assert.equal(deviceErrorMessage(undefined), undefined);
    for (const name of ['NoCodeError', 'NotFoundError', 'ExpiredError', 'AlreadyUsedError', 'AbortedError', 'InvalidRequest']) {
      const message = deviceErrorMessage({ name });
      assert.ok(message && message.length < 80, name);
      assert.ok(deviceInputPage({ form: inputForm, error: message }).includes(`<div class="alert" role="alert">${escapeHtml(message)}</div>`), name);
    }
    assert.notEqual(deviceErrorMessage({ name: 'NotFoundError' }), deviceErrorMessage({ name: 'ExpiredError' }));
    const evil = deviceInputPage({ form: inputForm, error: hostile });
    assertInert(evil, inputForm);
    assert.ok(evil.includes(escapeHtml(hostile)));
  });

  test('confirm: the code to compare, Continue and Abort on the provider form', () => {
    const page = deviceConfirmPage({ form: confirmForm, clientName: 'TV app', userCode: 'BCDF-GHJK' });
    assert.ok(page.includes(confirmForm));
    assert.match(page, /<p class="code">BCDF-GHJK<\/p>/);
    assert.match(text(page), /TV app wants to sign in on a device\. Check that your device shows this code/);
    assert.match(page, /<button type="submit" form="op\.deviceConfirmForm" class="primary">Continue<\/button>/);
    assert.match(page, /<button type="submit" form="op\.deviceConfirmForm" name="abort" value="yes" class="secondary">Abort<\/button>/);
    assert.doesNotMatch(page.replace(confirmForm, ''), /autofocus/);
    const evil = deviceConfirmPage({ form: confirmForm, clientName: hostile, userCode: hostile });
    assertInert(evil, confirmForm);
    assert.equal(evil.split(escapeHtml(hostile)).length - 1, 2);
  });

  test('success', () => {
    const page = deviceSuccessPage({ clientName: 'TV app' });
    assert.match(text(page), /signed in to TV app on your device\. You can close this window and return to your device\./);
    const evil = deviceSuccessPage({ clientName: hostile });
    assertInert(evil);
    assert.ok(evil.includes(escapeHtml(hostile)));
  });
});

describe('errorPage', () => {
  test('title, message and reference, all escaped', () => {
    const page = errorPage({ title: 'Sign-in failed', message: 'The request has expired.', requestId: 'req-42' });
    assert.match(page, /<h1>Sign-in failed<\/h1>/);
    assert.match(page, /<p>The request has expired\.<\/p>/);
    assert.match(page, /Reference: <code>req-42<\/code>/);
    assert.doesNotMatch(errorPage({ title: 't', message: 'm' }), /Reference/);
    const evil = errorPage({ title: hostile, message: hostile, requestId: hostile });
    assertInert(evil);
    assert.equal(evil.split(escapeHtml(hostile)).length - 1, 4, 'title twice, message, reference');
  });
});
