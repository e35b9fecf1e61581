import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema, type ConfigInput } from '../../src/config/index.js';
import { startGateway as start, type RunningGateway } from '../../src/gateway/index.js';
import { createLogger } from '../../src/shared/log.js';
import { LogCapture, MemoryAudit } from '../helpers/gateway.js';
import { recordAtExit } from '../helpers/secret-sweep.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../helpers/upstreams.js';
import { postRaw, rawRequest } from '../helpers/client.js';
import { keyedSetup, bearer } from '../helpers/keys.js';
import { sharedTestStore } from '../helpers/postgres.js';
import { deleteKeys, RedisProxy, REDIS_URL, testPrefix } from '../helpers/redis.js';

/** One instance's config: the shared PostgreSQL store, reaching Redis at `redisUrl`. */
function configWith(input: Partial<ConfigInput> & Pick<ConfigInput, 'upstreams'>, store: { postgres: string; redis: string }, name: string) {
  return configSchema.parse({ listen: { host: '127.0.0.1', port: 0 }, log: { level: 'debug' }, audit: { instance: name }, auth: { apiKeys: {} }, ...input, store });
}

async function instance(input: Partial<ConfigInput> & Pick<ConfigInput, 'upstreams'>, store: { postgres: string; redis: string }, name: string) {
  const logs = new LogCapture();
  const gateway = await start(configWith(input, store, name), { log: createLogger({ level: 'debug', destination: logs }), audit: new MemoryAudit() });
  recordAtExit('gateway log', () => logs.text);
  return { gateway, logs, url: gateway.url };
}

const CALL = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hi' } } });

describe('rate limits across gateway instances (real Redis)', () => {
  let upstream: RunningHttpUpstream;
  let proxy: RedisProxy;
  let gateways: { gateway: RunningGateway; url: string; logs: LogCapture }[] = [];
  let key: string;
  let shared: Awaited<ReturnType<typeof sharedTestStore>>;
  const prefix = testPrefix();

  before(async () => {
    upstream = await startHttpUpstream({ stateful: false, json: true });
    proxy = await RedisProxy.start();
    shared = await sharedTestStore();
    key = (await shared.createKey({ subject: 'alice', scopes: ['use'] })).key;
    const input = {
      authorization: { scopes: { use: { tools: ['echo'] } } },
      // 30 per minute for the key, all at once allowed up to 10.
      rateLimit: { perIp: false as const, perKey: { requestsPerSecond: 0.5, burst: 10 } },
      redis: { keyPrefix: prefix, commandTimeout: 300 },
      upstreams: { web: { url: upstream.url } },
    };
    gateways = [await instance(input, shared.store(REDIS_URL), 'gw-1'), await instance(input, shared.store(REDIS_URL), 'gw-2'), await instance(input, shared.store(proxy.url), 'gw-3')];
  });

  after(async () => {
    for (const g of gateways) await g.gateway.close();
    await upstream.close();
    await proxy.stop();
    await deleteKeys(prefix);
    await shared?.drop();
  });

  test('a key limited to a burst of 10 (0.5/s) gets about 10 answers through three instances, not 30; the rest 429 with Retry-After', async () => {
    const statuses: number[] = [];
    const started = performance.now();
    for (let i = 0; i < 30; i++) {
      const answer = await postRaw(`${gateways[i % 3]!.url}/mcp/web`, CALL, bearer(key));
      statuses.push(answer.status);
      if (answer.status === 429) {
        assert.equal(answer.json.error.data.error, 'rate_limited');
        assert.ok(Number(answer.headers.get('retry-after')) >= 1);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const ok = statuses.filter((s) => s === 200).length;
    assert.ok(ok >= 10 && ok <= 10 + Math.ceil(seconds * 0.5) + 1, `${ok} answered in ${seconds.toFixed(1)} s: ${statuses.join(',')}`);
    assert.equal(ok + statuses.filter((s) => s === 429).length, 30);
  });

  test('Redis unreachable from one instance: it limits with its own buckets (logged once, counted in /metrics), and /readyz says so', async () => {
    const third = gateways[2]!;
    await proxy.stop();
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) statuses.push((await postRaw(`${third.url}/mcp/web`, CALL, bearer(key))).status);
    // Its own bucket for the key is full: the burst, then 429.
    assert.equal(statuses.filter((s) => s === 200).length, 10, statuses.join(','));
    const redisLines = () => third.logs.lines.filter((l) => l.includes('Redis')).map((l) => JSON.parse(l).msg).join(' | ');
    assert.equal(third.logs.lines.filter((l) => l.includes('Redis unreachable')).length, 1, `one line per outage: ${redisLines()}`);
    const scrape = await fetch(`${third.url}/metrics`).then((r) => r.text());
    const fallbacks = Number(/^warden_ratelimit_local_fallbacks_total\{warden_instance="gw-3"\} (\d+)/m.exec(scrape)?.[1]);
    assert.ok(fallbacks >= 15, `fallbacks ${fallbacks}`);
    await new Promise((r) => setTimeout(r, 1_200)); // past redis.staleAfter
    assert.equal((await rawRequest(third.url, '/readyz')).status, 503);
    assert.match(scrape, /^warden_shared_state_healthy\{warden_instance="gw-3"\} /m);
    await proxy.start();
    const back = performance.now();
    while ((await rawRequest(third.url, '/readyz')).status !== 200 && performance.now() - back < 6_000) await new Promise((r) => setTimeout(r, 100));
    assert.equal((await rawRequest(third.url, '/readyz')).status, 200);
    assert.equal(third.logs.lines.filter((l) => l.includes('Redis answers again')).length, 1, redisLines());
  });
});

describe('start-up with Redis', () => {
  test('an unreachable Redis stops start-up with an error naming it, its password replaced', async () => {
    // Redis is opened first: the PostgreSQL URL is never reached.
    const config = configWith({ redis: { connectTimeout: 300 }, upstreams: { web: { url: 'http://127.0.0.1:9/mcp' } } }, { postgres: 'postgres://warden@127.0.0.1:1/warden', redis: 'redis://:hunter2-secret@127.0.0.1:1' }, 'gw-x');
    const logs = new LogCapture();
    await assert.rejects(start(config, { log: createLogger({ level: 'debug', destination: logs }), audit: new MemoryAudit() }), (err: Error) => {
      assert.match(err.message, /Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1 is not reachable/);
      assert.doesNotMatch(err.message, /hunter2/);
      return true;
    });
    assert.doesNotMatch(logs.text, /hunter2/);
  });

  test('without store.redis nothing changes: in-memory limits and no Redis detail in /readyz', async () => {
    const setup = keyedSetup();
    const config = configSchema.parse({ listen: { host: '127.0.0.1', port: 0 }, ...setup.config, upstreams: { web: { url: 'http://127.0.0.1:9/mcp' } } });
    const gateway = await start(config, { log: createLogger({ level: 'silent' }), audit: new MemoryAudit() });
    try {
      const ready = await rawRequest(gateway.url, '/readyz');
      assert.equal(ready.status, 200);
      assert.equal(ready.json.shared, undefined);
    } finally {
      await gateway.close();
    }
  });
});
