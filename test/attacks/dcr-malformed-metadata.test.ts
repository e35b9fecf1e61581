import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { REDIRECT, register, startOAuthGatewayForAttacks, type OAuthSetup } from '../helpers/oauth.js';

/**
 * Dynamic registration with metadata of the wrong type (a string where an array belongs, numbers, nested
 * objects, huge arrays, bodies that are not objects): each is a 400 with an RFC 7591 error, never a 500,
 * and the server goes on registering well-formed clients.
 */

let setup: OAuthSetup;

before(async () => {
  setup = await startOAuthGatewayForAttacks();
});
after(async () => {
  await setup?.close();
});

const RFC7591_ERRORS = new Set(['invalid_client_metadata', 'invalid_redirect_uri', 'invalid_request']);

async function postRaw(body: string, type = 'application/json'): Promise<{ status: number; json: Record<string, unknown> | undefined; text: string }> {
  const res = await fetch(`${setup.issuer}/oauth/register`, { method: 'POST', headers: { 'content-type': type }, body });
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

test('DCR redirect_uris as a string is 400 invalid_client_metadata (was 500)', async () => {
  const answer = await register(setup.issuer, { redirect_uris: REDIRECT });
  assert.equal(answer.status, 400, answer.text);
  assert.equal(answer.json.error, 'invalid_client_metadata');
  assert.match(answer.json.error_description, /redirect_uris/);
  assert.equal((await register(setup.issuer, { redirect_uris: [REDIRECT] })).status, 201, 'control: as an array it registers');
});

test('DCR fuzz: wrong types in every field, deep nesting and huge arrays are 4xx with an OAuth error, never 5xx', async () => {
  const deep: Record<string, unknown> = {};
  let cursor = deep;
  for (let i = 0; i < 200; i++) cursor = (cursor.a = {}) as Record<string, unknown>;
  const wrongValues: unknown[] = [1, -1.5, true, null, {}, { a: [1] }, [[REDIRECT]], [null], [1], [{}], deep, ''];
  const fields = [
    'redirect_uris', 'client_name', 'grant_types', 'response_types', 'token_endpoint_auth_method', 'application_type', 'scope',
    'contacts', 'client_uri', 'logo_uri', 'jwks', 'jwks_uri', 'software_statement', 'post_logout_redirect_uris', 'default_max_age',
  ];
  const statuses = new Map<number, number>();
  for (const field of fields) {
    for (const value of wrongValues) {
      const answer = await register(setup.issuer, { [field]: value, ...(field === 'redirect_uris' ? {} : { redirect_uris: [REDIRECT] }) });
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      const label = `${field} = ${JSON.stringify(value).slice(0, 60)}: ${answer.status} ${answer.text.slice(0, 200)}`;
      assert.ok(answer.status < 500, label);
      // Some wrong values are ignorable (oidc-provider drops null and unknown members); the rest must be refused properly.
      if (answer.status !== 201) {
        assert.equal(answer.status, 400, label);
        assert.ok(RFC7591_ERRORS.has(answer.json?.error), label);
      }
    }
  }
  assert.ok((statuses.get(400) ?? 0) > fields.length * 5, `most wrong values are refused: ${JSON.stringify([...statuses])}`);

  const huge = Array.from({ length: 5_000 }, (_, i) => `http://127.0.0.1:${1_000 + i}/cb`);
  for (const [label, body, type] of [
    ['5,000 redirect URIs', JSON.stringify({ redirect_uris: huge }), 'application/json'],
    ['100,000 contacts', JSON.stringify({ redirect_uris: [REDIRECT], contacts: Array(100_000).fill('a@example.com') }), 'application/json'],
    ['a JSON array', JSON.stringify([{ redirect_uris: [REDIRECT] }]), 'application/json'],
    ['JSON null', 'null', 'application/json'],
    ['a JSON string', '"redirect_uris"', 'application/json'],
    ['broken JSON', '{"redirect_uris": [', 'application/json'],
    ['a form', `redirect_uris=${encodeURIComponent(REDIRECT)}`, 'application/x-www-form-urlencoded'],
    ['duplicate keys', `{"redirect_uris": ["${REDIRECT}"], "redirect_uris": "x"}`, 'application/json'],
  ] as const) {
    const answer = await postRaw(body, type);
    assert.ok(answer.status >= 400 && answer.status < 500, `${label}: ${answer.status} ${answer.text.slice(0, 200)}`);
    assert.ok(typeof answer.json?.error === 'string', `${label}: an OAuth error body: ${answer.text.slice(0, 200)}`);
  }
  assert.equal((await register(setup.issuer)).status, 201, 'control: the server still registers clients');
});
