import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { postRaw } from '../helpers/client.js';
import { keyedSetup, createKey, bearer } from '../helpers/keys.js';
import { startPolicyUpstream, zoneWhereHourIs, type PolicyUpstream } from '../helpers/policy-upstream.js';
import { toAuthZen } from '../../src/policy/cedar/index.js';
import { toolCall } from '../policy/cedar/helpers.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/policies/', import.meta.url));
const PDP_TOKEN = 'pdp-token-0123456789abcdef0123456789abcdef';
const call = (name: string, args: Record<string, unknown> = {}) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } });

/**
 * Both sides real: warden "pdp" serves /access/v1/evaluation from the example Cedar set behind its own token;
 * warden "front" has no Cedar set of its own and asks the pdp over AuthZEN for every call.
 */
describe('AuthZEN: warden asks a remote PDP, and serves one', () => {
  let upstream: PolicyUpstream;
  let setup: ReturnType<typeof keyedSetup>;
  let pdp: TestGateway;
  let front: TestGateway;
  let hanging: Server;
  const keys: Record<string, string> = {};
  const evaluate = (body: unknown, token = PDP_TOKEN) => fetch(`${pdp.url}/access/v1/evaluation`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

  before(async () => {
    upstream = await startPolicyUpstream();
    setup = keyedSetup('warden-authzen-');
    keys.carol = (await createKey(setup.dbPath, { subject: 'carol', tenant: 'acme', roles: ['support'], scopes: ['all'] })).key;
    keys.alice = (await createKey(setup.dbPath, { subject: 'alice', tenant: 'acme', roles: ['reader'], scopes: ['all'] })).key;
    pdp = await startGateway({
      authorization: { cedar: { policies: EXAMPLES, entities: join(EXAMPLES, 'entities.json'), timeZone: zoneWhereHourIs(12), reload: false, authzenApi: { token: PDP_TOKEN } } },
      rateLimit: { perIp: false },
      upstreams: { unused: { url: 'http://127.0.0.1:9/mcp' } },
    }, [PDP_TOKEN]);
    front = await startGateway({
      ...setup.config,
      authorization: { scopes: { all: { tools: ['*'] } }, authzen: { url: pdp.url, timeout: 2000, token: PDP_TOKEN } },
      rateLimit: { perIp: false },
      upstreams: { acme: { url: upstream.url } },
    }, [...Object.values(keys), PDP_TOKEN]);
    hanging = createServer(() => {}); // accepts and never answers
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    await front?.close();
    await pdp?.close();
    await upstream?.close();
    hanging?.closeAllConnections();
    hanging?.close();
    rmSync(setup.dir, { recursive: true, force: true });
  });

  test('the front gateway allows and refuses as the remote Cedar set decides, naming its policies', async () => {
    const ok = await postRaw(`${front.url}/mcp/acme`, call('refund', { amount: 50 }), bearer(keys.carol!));
    assert.equal(ok.status, 200);
    const allowed = front.audit.records.filter((r) => r.event === 'call').at(-1)!;
    assert.deepEqual(allowed.policies, { determining: ['payments-staff'] });
    assert.match(allowed.reason, /authzen permit: payments-staff/);

    const refused = await postRaw(`${front.url}/mcp/acme`, call('refund', { amount: 500 }), bearer(keys.carol!));
    assert.equal(refused.status, 403);
    assert.match(refused.json.error.message, /^Forbidden by policy 'refund-limit': refunds above 100 need the finance role/);
    assert.deepEqual(front.audit.records.filter((r) => r.event === 'call').at(-1)!.policies, { determining: ['refund-limit'] });
    assert.equal((await postRaw(`${front.url}/mcp/acme`, call('notes_search'), bearer(keys.alice!))).status, 200, 'the next legitimate call');
  });

  test('the evaluation endpoint: its own credential, compared whole; bad input gets a clear 400; the process keeps serving', async () => {
    const question = toAuthZen(toolCall(['support'], 'refund', { arguments: { amount: 500 } }));
    assert.equal((await evaluate(question, '')).status, 401);
    assert.equal((await evaluate(question, `${PDP_TOKEN.slice(0, -1)}X`)).status, 401, 'one character off');
    assert.equal((await evaluate(question, keys.carol)).status, 401, 'an MCP caller\'s API key is not the PDP credential');
    const notJson = await evaluate('{ nope');
    assert.equal(notJson.status, 400);
    const wrongShape = await evaluate({ ...question, action: { name: 'drop_tables' } });
    assert.equal(wrongShape.status, 400);
    assert.match(((await wrongShape.json()) as { error: { message: string } }).error.message, /action\.name/);

    const denied = await evaluate(question);
    assert.equal(denied.status, 200);
    assert.deepEqual(await denied.json(), { decision: false, context: { policies: ['refund-limit'], reason_user: { en: 'refunds above 100 need the finance role' } } });
    const allowed = await evaluate(toAuthZen(toolCall(['finance'], 'refund', { arguments: { amount: 500 } })));
    assert.deepEqual(await allowed.json(), { decision: true, context: { policies: ['payments-staff'] } });
    assert.doesNotMatch(pdp.logs.text + front.logs.text, new RegExp(PDP_TOKEN), 'the token is in no log line');
  });

  test('fail closed: a PDP that refuses the credential, or does not answer in time, is a deny (503) that says why', async () => {
    const wrongToken = await startGateway({
      ...setup.config,
      authorization: { scopes: { all: { tools: ['*'] } }, authzen: { url: pdp.url, timeout: 2000, token: 'x'.repeat(40) } },
      rateLimit: { perIp: false },
      upstreams: { acme: { url: upstream.url } },
    }, Object.values(keys));
    const slow = await startGateway({
      ...setup.config,
      authorization: { scopes: { all: { tools: ['*'] } }, authzen: { url: `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`, timeout: 200 } },
      rateLimit: { perIp: false },
      upstreams: { acme: { url: upstream.url } },
    }, Object.values(keys));
    try {
      const seen = upstream.calls.length;
      const refused = await postRaw(`${wrongToken.url}/mcp/acme`, call('notes_search'), bearer(keys.alice!));
      assert.equal(refused.status, 503);
      assert.match(refused.json.error.message, /No policy decision for tool 'notes_search' on upstream 'acme': the PDP answered 401; refused \(fail closed\)/);
      assert.match(wrongToken.audit.records.at(-1)!.reason, /authzen: no decision \(the PDP answered 401\), denied/);

      const started = Date.now();
      const timedOut = await postRaw(`${slow.url}/mcp/acme`, call('notes_search'), bearer(keys.alice!));
      assert.equal(timedOut.status, 503);
      assert.match(timedOut.json.error.message, /no answer within 200 ms/);
      assert.ok(Date.now() - started < 1500, 'the timeout bounds the wait');
      assert.equal(upstream.calls.length, seen, 'nothing reached the upstream');
      assert.equal((await postRaw(`${front.url}/mcp/acme`, call('notes_search'), bearer(keys.alice!))).status, 200, 'control: the same call through a PDP that answers');
    } finally {
      await wrongToken.close();
      await slow.close();
    }
  });
});
