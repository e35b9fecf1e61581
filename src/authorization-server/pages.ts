/**
 * The authorization server's HTML pages, as pure functions from data to a document. No JavaScript: every page
 * is a plain form, so it works in any browser and the CSP below can forbid scripts outright.
 *
 * Everything interpolated goes through the `html` template, which escapes by default; only markup built here,
 * and the forms oidc-provider hands to the device-flow hooks, are passed through untouched (`Raw`).
 */

import { Html as Raw, html } from '../shared/html.js';

/**
 * Headers for every page. No `form-action`: Chrome applies it to the redirect that follows a form post, which
 * would block the redirect back to the client's redirect_uri.
 */
export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
});


/**
 * The host of a client's `client_uri`, only when it is https: a client registers whatever it likes, and a
 * `javascript:` or plain-http URI says nothing trustworthy about who runs it.
 */
export function httpsHost(uri: string | undefined): string | undefined {
  if (!uri) return undefined;
  try {
    const url = new URL(uri);
    return url.protocol === 'https:' && url.host ? url.host : undefined;
  } catch {
    return undefined;
  }
}

const STYLE = `
:root{color-scheme:light dark;--bg:#f3f4f6;--card:#fff;--text:#1f2328;--muted:#59636e;--border:#d1d9e0;--accent:#0b5cad;--accent-hover:#094a8c;--on-accent:#fff;--alert-bg:#fff0ee;--alert-border:#cf222e;--alert-text:#82071e;--code-bg:#eff2f5;--focus:#0b5cad}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--card:#161b22;--text:#e6edf3;--muted:#9ea8b3;--border:#3d444d;--accent:#1f6feb;--accent-hover:#1858c4;--on-accent:#fff;--alert-bg:#2d1215;--alert-border:#f85149;--alert-text:#ffc1bc;--code-bg:#262c36;--focus:#4493f8}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;min-height:100vh;display:flex;flex-direction:column;align-items:center;justify-content:center;padding:24px 16px;background:var(--bg);color:var(--text);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif}
main>:last-child{margin-bottom:0}
main{width:100%;max-width:440px;background:var(--card);border:1px solid var(--border);border-radius:12px;padding:32px;box-shadow:0 1px 3px rgba(0,0,0,.06),0 8px 24px rgba(0,0,0,.06);overflow-wrap:anywhere}
.brand{margin:0 0 20px;font-size:.875rem;font-weight:600;letter-spacing:.02em;color:var(--muted)}
h1{margin:0 0 8px;font-size:1.5rem;line-height:1.25}
p{margin:0 0 16px}
.muted{color:var(--muted);font-size:.875rem}
.alert{margin:0 0 16px;padding:10px 14px;border:1px solid var(--alert-border);border-left-width:4px;border-radius:6px;background:var(--alert-bg);color:var(--alert-text)}
label{display:block;margin:0 0 4px;font-weight:600;font-size:.9375rem}
input[type=text],input[type=password]{display:block;width:100%;height:44px;margin:0 0 16px;padding:0 12px;font:inherit;color:var(--text);background:var(--card);border:1px solid var(--border);border-radius:6px}
input[name=user_code]{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:1.25rem;letter-spacing:.15em;text-align:center;text-transform:uppercase}
input[name=user_code]::placeholder{letter-spacing:normal;text-transform:none}
button{display:inline-flex;align-items:center;justify-content:center;min-height:44px;padding:0 18px;font:inherit;font-weight:600;border-radius:6px;cursor:pointer;border:1px solid var(--border);background:var(--card);color:var(--text)}
button.primary{background:var(--accent);border-color:var(--accent);color:var(--on-accent)}
button.primary:hover{background:var(--accent-hover);border-color:var(--accent-hover)}
button.secondary:hover{background:var(--code-bg)}
button.link{min-height:0;padding:4px 0;border:0;background:none;color:var(--muted);font-weight:400;text-decoration:underline}
input:focus-visible,button:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.block{width:100%}
a.button{display:flex;align-items:center;justify-content:center;min-height:44px;padding:0 18px;font-weight:600;border-radius:6px;text-decoration:none;background:var(--accent);color:var(--on-accent)}
.actions{display:flex;gap:12px;margin-top:8px}
.actions button{flex:1}
.center{text-align:center}
.cancel{margin:12px 0 0}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.875em;background:var(--code-bg);padding:1px 5px;border-radius:4px}
.code{margin:0 0 16px;padding:14px;text-align:center;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:1.75rem;font-weight:600;letter-spacing:.15em;background:var(--code-bg);border-radius:8px}
ul.scopes{list-style:none;margin:0 0 16px;padding:0;border:1px solid var(--border);border-radius:8px}
ul.scopes li{padding:12px 14px}
ul.scopes li+li{border-top:1px solid var(--border)}
ul.scopes p{margin:0}
ul.scopes p+p{margin-top:4px}
@media (max-width:480px){body{padding:0;justify-content:flex-start}main{border-radius:0;border-width:0 0 1px;box-shadow:none;padding:24px 20px}}
`;

function page(title: string, body: Raw): string {
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>${title} · mcp-warden</title>
<style>${new Raw(STYLE)}</style>
</head>
<body>
<main>
<p class="brand">mcp-warden</p>
${body}
</main>
</body>
</html>
`.text;
}

function alert(message: string | undefined): Raw {
  return message ? html`<div class="alert" role="alert">${message}</div>` : html``;
}

export interface LoginPageInput {
  action: string;
  csrf: string;
  clientName: string;
  username?: string;
  error?: string;
  /** Company sign-in (sso.ts): one link per IdP, above the password form. */
  companySignIn?: { href: string; label: string }[];
  /** False: no password form (auth.oauth.localPasswords: false), only the company sign-in and Cancel. */
  passwords?: boolean;
}

export function loginPage({ action, csrf, clientName, username, error, companySignIn = [], passwords = true }: LoginPageInput): string {
  // After a failed attempt the username is kept, so the field to type into is the password.
  const focusPassword = Boolean(username);
  const company = companySignIn.map((c) => html`<p><a class="button primary block" href="${c.href}">${c.label}</a></p>`);
  // With local passwords off the page offers the company sign-in only (and Cancel).
  const fields = passwords ? html`<label for="username">Username</label>
<input id="username" name="username" type="text" value="${username ?? ''}" autocomplete="username" autocapitalize="none" autocorrect="off" spellcheck="false" required${new Raw(focusPassword ? '' : ' autofocus')}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${new Raw(focusPassword ? ' autofocus' : '')}>
<button type="submit" class="primary block">Sign in</button>
` : undefined;
  return page('Sign in', html`<h1>Sign in</h1>
<p>Sign in to continue to <strong>${clientName}</strong></p>
${alert(error)}
${company}
<form method="post" action="${action}">
<input type="hidden" name="csrf" value="${csrf}">
${fields}<p class="center cancel"><button type="submit" name="cancel" value="1" formnovalidate class="link">Cancel</button></p>
</form>`);
}

export interface ConsentScope {
  name: string;
  description?: string;
  tools: string[];
  resources: string[];
  prompts: string[];
  upstreams?: string[];
}

export interface ConsentPageInput {
  action: string;
  csrf: string;
  clientName: string;
  /** Only ever shown as text; derive it with `httpsHost`. */
  clientHost?: string;
  username: string;
  resourceName: string;
  scopes: ConsentScope[];
  withheld: string[];
}

function codeList(items: string[]): Raw {
  return html`${items.map((item, i) => html`${i > 0 ? ', ' : ''}<code>${item}</code>`)}`;
}

/** "the tools a, b", "any tool": `*` anywhere in the list opens everything, so that is what the user is told. */
function what(items: string[], verb: string, one: string, many: string, anything: string): Raw | undefined {
  if (items.length === 0) return undefined;
  if (items.includes('*')) return html`${verb} ${anything}`;
  // A glob may stand for many: "the resource note://*" would undersell it.
  const single = items.length === 1 && !/[*?]/.test(items[0] ?? '');
  return html`${verb} ${single ? one : many} ${codeList(items)}`;
}

/** What a scope opens, in words a person can check before clicking Allow. */
function describeScope(scope: ConsentScope): Raw {
  const parts = [
    what(scope.tools, 'call', 'the tool', 'the tools', 'any tool'),
    what(scope.resources, 'read', 'the resource', 'resources', 'any resource'),
    what(scope.prompts, 'use', 'the prompt', 'the prompts', 'any prompt'),
  ].filter((part): part is Raw => part !== undefined);
  const access = parts.length === 0
    ? html`Lets the app do nothing.`
    : html`Lets the app ${parts.map((part, i) => html`${i > 0 ? '; ' : ''}${part}`)}.`;
  const servers = scope.upstreams && scope.upstreams.length > 0 && !scope.upstreams.includes('*')
    ? html` Only on ${scope.upstreams.length === 1 ? 'the server' : 'the servers'} ${codeList(scope.upstreams)}.`
    : html``;
  return html`<li><p><strong><code>${scope.name}</code></strong>${scope.description ? html` — ${scope.description}` : ''}</p>
<p class="muted">${access}${servers}</p></li>`;
}

export function consentPage(input: ConsentPageInput): string {
  const { action, csrf, clientName, clientHost, username, resourceName, scopes, withheld } = input;
  const withheldNote = withheld.length > 0
    ? html`<p class="muted">Not granted: your account does not have ${withheld.length === 1 ? 'the scope' : 'the scopes'} ${codeList(withheld)}, so the app will not get ${withheld.length === 1 ? 'it' : 'them'}.</p>`
    : html``;
  // With nothing to grant, Allow would only mint a useless token; the single button sends the user back.
  const body = scopes.length > 0
    ? html`<ul class="scopes">
${scopes.map((scope) => html`${describeScope(scope)}
`)}</ul>
${withheldNote}
<div class="actions">
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
<button type="submit" name="decision" value="allow" class="primary">Allow</button>
</div>`
    : html`<div class="alert" role="alert">Your account cannot grant anything this app asked for, so it would get no access.</div>
${withheldNote}
<button type="submit" name="decision" value="deny" class="primary block">Back to the app</button>`;
  return page('Allow access?', html`<h1>Allow access?</h1>
<p><strong>${clientName}</strong> wants to use <strong>${resourceName}</strong> as <strong>${username}</strong>.</p>
${clientHost ? html`<p class="muted">App website: ${clientHost}</p>` : ''}
<form method="post" action="${action}">
<input type="hidden" name="csrf" value="${csrf}">
${body}
</form>`);
}

/** The id oidc-provider gave its form; buttons outside the form reach it through `form="…"`. */
function formId(form: string, fallback: string): string {
  return /<form\b[^>]*\sid="([^"]+)"/.exec(form)?.[1] ?? fallback;
}

/** oidc-provider's re-render errors (`lib/helpers/re_render_errors.js`) in words, for `deviceInputPage`. */
export function deviceErrorMessage(err: { name?: string } | undefined): string | undefined {
  if (!err) return undefined;
  switch (err.name) {
    case 'NoCodeError': return 'Enter the code shown on your device.';
    case 'NotFoundError': return 'That code was not found. Check it and try again.';
    case 'ExpiredError': return 'That code has expired. Start again on your device.';
    case 'AlreadyUsedError': return 'That code has already been used. Start again on your device.';
    case 'AbortedError': return 'The sign-in was cancelled. You can close this window.';
    default: return 'Something went wrong. Try again.';
  }
}

export interface DeviceInputPageInput {
  /** oidc-provider's form (hidden xsrf field and the user_code input), trusted and embedded as-is. */
  form: string;
  error?: string;
}

export function deviceInputPage({ form, error }: DeviceInputPageInput): string {
  const id = formId(form, 'op.deviceInputForm');
  // The provider's field has a placeholder but no label, and an inline onfocus handler the CSP would block.
  const labelled = form
    .replace('type="text" name="user_code"', 'type="text" id="user_code" name="user_code" aria-label="Code"')
    .replace(/ onfocus="[^"]*"/, '');
  return page('Connect a device', html`<h1>Connect a device</h1>
<p><label for="user_code">Enter the code shown on your device.</label></p>
${alert(error)}
${new Raw(labelled)}
<button type="submit" form="${id}" class="primary block">Continue</button>`);
}

export interface DeviceConfirmPageInput {
  /** oidc-provider's form (hidden xsrf, user_code and confirm fields), trusted and embedded as-is. */
  form: string;
  clientName: string;
  userCode: string;
}

export function deviceConfirmPage({ form, clientName, userCode }: DeviceConfirmPageInput): string {
  const id = formId(form, 'op.deviceConfirmForm');
  // Unlike oidc-provider's default, Continue is not autofocused: the user must compare the code, not press Enter.
  return page('Confirm the device', html`<h1>Confirm the device</h1>
<p><strong>${clientName}</strong> wants to sign in on a device. Check that your device shows this code:</p>
<p class="code">${userCode}</p>
<p class="muted">If the code does not match, or you did not start this sign-in, choose Abort.</p>
${new Raw(form)}
<div class="actions">
<button type="submit" form="${id}" name="abort" value="yes" class="secondary">Abort</button>
<button type="submit" form="${id}" class="primary">Continue</button>
</div>`);
}

export function deviceSuccessPage({ clientName }: { clientName: string }): string {
  return page('Device connected', html`<h1>Device connected</h1>
<p>You are signed in to <strong>${clientName}</strong> on your device.</p>
<p>You can close this window and return to your device.</p>`);
}

export interface ErrorPageInput {
  title: string;
  message: string;
  requestId?: string;
}

export function errorPage({ title, message, requestId }: ErrorPageInput): string {
  return page(title, html`<h1>${title}</h1>
<p>${message}</p>
${requestId ? html`<p class="muted">Reference: <code>${requestId}</code></p>` : ''}`);
}
