import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from '../helpers/gateway.js';
import { connectClient, postRaw, rawRequest } from '../helpers/client.js';
import { notesServerCommand, startHttpUpstream } from '../helpers/upstreams.js';

test('/metrics counts requests by upstream and status, MCP requests by method and decision, and live sessions', async () => {
  const upstream = await startHttpUpstream({ stateful: false, json: true });
  const gw = await startGateway({
    upstreams: {
      web: { url: upstream.url, allow: { tools: ['echo'] } },
      notes: { command: notesServerCommand() },
    },
    audit: { instance: 'gw-7' },
  });
  try {
    const web = await connectClient(`${gw.url}/mcp/web`);
    await web.client.callTool({ name: 'echo', arguments: { text: 'x' } });
    await assert.rejects(web.client.callTool({ name: 'secret_tool', arguments: {} }));
    await postRaw(`${gw.url}/mcp/web`, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'made/up-method-' + 'z'.repeat(50) }));
    await web.client.close();
    const notes = await connectClient(`${gw.url}/mcp/notes`);

    const res = await fetch(`${gw.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /text\/plain/);
    const raw = await res.text();
    // Every series names the instance, so that several gateways are told apart; the rest is matched without it.
    assert.match(raw, /warden_mcp_requests_total\{[^}]*,warden_instance="gw-7"\} 1/);
    assert.match(raw, /process_cpu_seconds_total\{warden_instance="gw-7"\}/);
    const text = raw.replaceAll(/\{warden_instance="gw-7"\}|,warden_instance="gw-7"|warden_instance="gw-7",/g, '');
    assert.match(text, /warden_mcp_requests_total\{upstream="web",rpc_method="tools\/call",decision="allow"\} 1/);
    assert.match(text, /warden_mcp_requests_total\{upstream="web",rpc_method="tools\/call",decision="deny"\} 1/);
    assert.match(text, /warden_mcp_requests_total\{upstream="web",rpc_method="other",decision="allow"\} 1/, 'unknown methods do not become labels');
    assert.ok(!text.includes('made/up-method'));
    assert.match(text, /warden_http_requests_total\{upstream="web",method="POST",status="403"\} 1/);
    assert.match(text, /warden_http_request_duration_seconds_count\{upstream="web",method="POST"\} \d+/);
    assert.match(text, /warden_upstream_sessions\{upstream="notes"\} 1/);
    assert.match(text, /process_cpu_seconds_total/);
    await notes.client.close();
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('/metrics obeys the Host check and can be turned off', async () => {
  const upstream = await startHttpUpstream({ stateful: false, json: true });
  const on = await startGateway({ upstreams: { web: { url: upstream.url } } });
  const off = await startGateway({ upstreams: { web: { url: upstream.url } }, metrics: { enabled: false } });
  try {
    const rebound = await rawRequest(on.url, '/metrics', { headers: { host: 'attacker.example' } });
    assert.equal(rebound.status, 403);
    assert.equal((await fetch(`${off.url}/metrics`)).status, 404);
  } finally {
    await on.close();
    await off.close();
    await upstream.close();
  }
});
