import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startIdentityUpstream, type RunningIdentityUpstream } from '../helpers/identity-upstream.js';
import { callTool, freePort } from '../helpers/client.js';
import { IDP_SERVICE, startIdp, tempStore, type TestIdp } from '../helpers/idp.js';

/**
 * Part 5 of issue 15: an upstream behind the gateway validates one signature, the gateway's, and learns the
 * IdP subject, tenant, issuer and actor chain from it; the IdP token itself never reaches it.
 */
describe('the identity JWT of an IdP caller', () => {
  let idp: TestIdp;
  let upstream: RunningIdentityUpstream;
  let gw: TestGateway;
  let resource: string;

  before(async () => {
    idp = await startIdp();
    idp.groups.set(IDP_SERVICE.id, ['mcp-users']);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    upstream = await startIdentityUpstream({ jwksUrl: `${base}/.well-known/jwks.json`, issuer: base });
    gw = await startGateway({
      scenario: 'enterprise',
      listen: { host: '127.0.0.1', port },
      store: tempStore(),
      auth: { jwt: { issuers: [{ issuer: idp.issuer, claims: { roles: 'groups', tenant: 'tid' }, roles: { 'mcp-users': ['staff'] } }] } },
      authorization: { scopes: { who: { tools: ['whoami'] } }, roles: { staff: ['who'] } },
      upstreams: { web: { url: upstream.url } },
    });
    resource = `${gw.url}/mcp/web`;
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await idp.close();
  });

  const whoami = async (token: string) => {
    const res = await callTool(resource, token, 'whoami');
    assert.equal(res.status, 200, res.text);
    return JSON.parse(res.json.result.content[0].text);
  };

  test('a real IdP token: sub, tenant, sub_iss and the mapped roles, and the IdP token is not forwarded', async () => {
    const token = await idp.serviceToken(resource);
    const claims = await whoami(token);
    assert.equal(claims.sub, IDP_SERVICE.id);
    assert.equal(claims.tenant, 'acme');
    assert.equal(claims.sub_iss, idp.issuer);
    assert.deepEqual(claims.roles, ['staff']);
    assert.equal(claims.cred.kind, 'jwt');
    assert.equal(claims.act, undefined, 'nobody acts for another here');
    assert.ok(!JSON.stringify(upstream.seen).includes(token), 'the IdP token never reaches the upstream');
  });

  test('an IdP token with an RFC 8693 act chain: the chain reaches the upstream, actors named with their issuer', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await idp.sign({
      iss: idp.issuer, aud: resource, sub: 'alice', tid: 'acme', groups: ['mcp-users'], iat: now, exp: now + 300, jti: randomUUID(),
      act: { sub: 'agent-7', client_id: 'copilot', act: { sub: 'orchestrator' } },
    });
    const claims = await whoami(token);
    assert.equal(claims.sub, 'alice');
    assert.deepEqual(claims.act, { sub: 'agent-7', iss: idp.issuer, client_id: 'copilot', act: { sub: 'orchestrator', iss: idp.issuer } });
    const record = gw.audit.records.find((r) => r.method === 'tools/call' && r.subject === 'alice');
    assert.equal(record?.actor, 'agent-7', 'the actor is in the audit record');
  });
});
