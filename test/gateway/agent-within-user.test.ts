import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { freePort, mcpBody, postRaw } from '../helpers/client.js';
import { basicAuth, remember, tokenRequest } from '../helpers/oauth-flow.js';
import { withStore } from '../helpers/store.js';
import { IDP_SERVICE, startIdp, tempStore, type TestIdp } from '../helpers/idp.js';
import { startPolicyUpstream, zoneWhereHourIs, type PolicyUpstream } from '../helpers/policy-upstream.js';
import { generateClientSecret, hashClientSecret } from '../../src/authorization-server/client-secrets.js';

/**
 * Issue 17's "agents acting for a user get at most what the user has" (examples/policies/agent-within-user.cedar)
 * through the gateway: an agent exchanges a user's IdP token with its own actor token (RFC 8693) for a gateway
 * token carrying `act`, and calls tools with it through real MCP requests against the example policy set.
 */

const EXAMPLES = fileURLToPath(new URL('../../examples/policies/', import.meta.url));
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const AGENT = { id: 'svc_agent', secret: generateClientSecret() };

const call = (name: string, args: Record<string, unknown> = {}) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } });

describe('agent-within-user through the gateway, with exchanged tokens that name an actor', () => {
  let idp: TestIdp;
  let upstream: PolicyUpstream;
  let gw: TestGateway;
  let issuer: string;
  let resource: string;

  before(async () => {
    idp = await startIdp();
    idp.groups.set('alice', ['mcp-readers']);
    idp.groups.set('bob', ['mcp-writers']);
    upstream = await startPolicyUpstream();
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    const store = tempStore();
    await withStore(store.sqlite, (s) => s.oauth.upsert({
      model: 'Client', id: AGENT.id,
      payload: JSON.stringify({
        client_id: AGENT.id, client_secret: hashClientSecret(AGENT.secret), client_name: AGENT.id, grant_types: ['client_credentials'],
        response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic', scope: 'all',
      }),
      grantId: null, userCode: null, uid: null, expiresAt: null, consumedAt: null,
    }));
    remember(AGENT.secret);
    gw = await startGateway({
      listen: { host: '127.0.0.1', port },
      store,
      auth: {
        oauth: { tokenExchange: { clients: [AGENT.id] } },
        jwt: { issuers: [{ issuer: idp.issuer, use: ['token-exchange'], claims: { roles: 'groups', tenant: 'tid' }, roles: { 'mcp-readers': ['reader'], 'mcp-writers': ['reader', 'writer'], agents: ['reader'], 'ops-agents': ['reader', 'writer'] } }] },
      },
      authorization: {
        scopes: { all: { tools: ['*'] } },
        roles: { reader: ['all'], writer: ['all'] },
        cedar: { policies: EXAMPLES, entities: join(EXAMPLES, 'entities.json'), timeZone: zoneWhereHourIs(12), reload: false },
      },
      rateLimit: { perIp: false },
      upstreams: { acme: { url: upstream.url } },
    });
    resource = `${gw.url}/mcp/acme`;
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    await idp?.close();
  });

  /** `user`'s IdP access token exchanged by the agent, with the agent's own token (its IdP groups: `agentGroups`) as actor_token. */
  async function exchanged(user: string, agentGroups: string[]): Promise<string> {
    idp.groups.set(IDP_SERVICE.id, agentGroups);
    const subject = (await idp.codeFlow(user, { resource: issuer, scope: 'openid groups' })).access_token;
    const actor = await idp.serviceToken(issuer);
    const res = await tokenRequest(issuer, { grant_type: TOKEN_EXCHANGE, subject_token: subject, subject_token_type: ACCESS_TOKEN, actor_token: actor, actor_token_type: ACCESS_TOKEN, resource }, basicAuth(AGENT.id, AGENT.secret));
    assert.equal(res.status, 200, JSON.stringify(res.json));
    remember(res.json.access_token);
    return res.json.access_token as string;
  }
  const post = (token: string, body: unknown) => postRaw(resource, JSON.stringify(body), { authorization: `Bearer ${token}` });
  const lastCall = () => gw.audit.records.filter((r) => r.event === 'call').at(-1)!;

  test('the exchanged token reaches the gateway naming the agent: its calls are recorded with the actor', async () => {
    const token = await exchanged('alice', ['agents']);
    await post(token, call('notes_search', { query: 'q' }));
    const record = lastCall();
    assert.equal(record.subject, 'alice');
    assert.equal(record.actor, IDP_SERVICE.id);
    assert.equal(record.target, 'notes_search');
    assert.ok(record.policies, 'Cedar decided it');
  });

  test('an agent within the user\'s roles: what the user may is allowed, what the user may not is refused', async () => {
    const token = await exchanged('alice', ['agents']);
    const ok = await post(token, call('notes_search', { query: 'q' }));
    assert.equal(ok.status, 200, ok.text);
    assert.equal(mcpBody(ok.text).result.content[0].text, 'notes_search done');
    assert.deepEqual(lastCall().policies?.determining, ['reader-read-only']);
    const refused = await post(token, call('notes_create', { text: 'x' }));
    assert.equal(refused.status, 403);
    assert.equal(lastCall().decision, 'deny');
    assert.equal((await post(token, call('notes_get'))).status, 200, 'the next legitimate call still works');
  });

  test('an agent holding a role the user lacks is refused by agent-within-user, named in the 403 and the record', async () => {
    const seen = upstream.calls.length;
    const token = await exchanged('alice', ['ops-agents']);
    const refused = await post(token, call('notes_search', { query: 'q' }));
    assert.equal(refused.status, 403);
    assert.match(refused.json.error.message, /policy 'agent-within-user': an agent acting for a user gets at most what the user has/);
    const record = lastCall();
    assert.equal(record.decision, 'deny');
    assert.equal(record.actor, IDP_SERVICE.id);
    assert.deepEqual(record.policies?.determining, ['agent-within-user']);
    assert.equal(upstream.calls.length, seen, 'the upstream never heard of it');
    // The control: the same agent for bob, who holds both of its roles.
    const forBob = await exchanged('bob', ['ops-agents']);
    assert.equal((await post(forBob, call('notes_create', { text: 'x' }))).status, 200);
  });
});
