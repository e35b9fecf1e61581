import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CedarEngine, loadPolicySet, PolicyError } from '../../../src/policy/cedar/index.js';
import { EXAMPLE_SOURCES, tempFiles, toolCall } from './helpers.js';

describe('Cedar engine on the example policies', () => {
  const engine = new CedarEngine(loadPolicySet(EXAMPLE_SOURCES));

  test('a permit names the policy that allowed; default deny names none', () => {
    assert.deepEqual(engine.decide(toolCall(['reader'], 'notes_search')), { allowed: true, determining: [{ id: 'reader-read-only' }], errors: [], by: 'cedar' });
    assert.deepEqual(engine.decide(toolCall(['reader'], 'notes_create')), { allowed: false, determining: [], errors: [], by: 'cedar' });
  });

  test('a forbid names its id and @reason', () => {
    const verdict = engine.decide(toolCall(['support'], 'refund', { arguments: { amount: 101 } }));
    assert.equal(verdict.allowed, false);
    assert.deepEqual(verdict.determining, [{ id: 'refund-limit', reason: 'refunds above 100 need the finance role' }]);
    assert.equal(engine.decide(toolCall(['support'], 'refund', { arguments: { amount: 100 } })).allowed, true, 'control: at the limit');
  });

  test('type confusion: an amount the policy cannot compare makes the forbid error, and an erroring forbid denies', () => {
    for (const amount of ['5000', 100.5, 2 ** 60, { value: 5000 }, [5000]]) {
      const verdict = engine.decide(toolCall(['support'], 'refund', { arguments: { amount } }));
      assert.equal(verdict.allowed, false, `amount ${JSON.stringify(amount)}`);
      assert.deepEqual(verdict.errors, ['refund-limit']);
      assert.equal(verdict.determining[0]?.id, 'refund-limit');
    }
    assert.equal(engine.decide(toolCall(['support'], 'refund', { arguments: { amount: 99 } })).allowed, true, 'control');
  });

  test('entity injection: a record with __entity or __extn in the arguments stays data', () => {
    // Were `__entity` read as a reference, `amount` would become an entity; as data it is a marker string, so the forbid errors and denies.
    const verdict = engine.decide(toolCall(['support'], 'refund', { arguments: { amount: { __entity: { type: 'User', id: 'admin' } } } }));
    assert.equal(verdict.allowed, false);
    const extn = engine.decide(toolCall(['support'], 'refund', { arguments: { amount: { __extn: { fn: 'decimal', arg: '1.0' } } } }));
    assert.equal(extn.allowed, false);
    assert.equal(engine.decide(toolCall(['support'], 'refund', { arguments: { note: { nested: { ok: true } }, amount: 1 } })).allowed, true, 'control: nested plain data');
  });

  test('oversized and deep arguments are bounded, never a crash', () => {
    const deep: Record<string, unknown> = {};
    let at = deep;
    for (let i = 0; i < 50; i++) at = (at.d = {}) as Record<string, unknown>;
    const wide = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i]));
    for (const args of [deep, wide, { amount: 'x'.repeat(100_000) }, { list: Array.from({ length: 10_000 }, (_, i) => i) }, { __proto__: 5, constructor: 1 }]) {
      const verdict = engine.decide(toolCall(['support'], 'refund', { arguments: args }));
      assert.equal(typeof verdict.allowed, 'boolean');
    }
  });

  test('the cache answers a repeated question and keys by set version', () => {
    const fresh = new CedarEngine(loadPolicySet(EXAMPLE_SOURCES), { cacheSize: 10 });
    fresh.decide(toolCall(['reader'], 'notes_search'));
    fresh.decide(toolCall(['reader'], 'notes_search'));
    assert.deepEqual(fresh.status().cache, { size: 1, hits: 1, misses: 1 });
    fresh.replace(loadPolicySet(EXAMPLE_SOURCES));
    assert.equal(fresh.version, 2);
    fresh.decide(toolCall(['reader'], 'notes_search'));
    assert.equal((fresh.status().cache as { misses: number }).misses, 2, 'a new version decides again');
    for (let i = 0; i < 50; i++) fresh.decide(toolCall(['reader'], `tool${i}`));
    assert.equal((fresh.status().cache as { size: number }).size, 10, 'bounded');
  });

  test('decisions see and are cached by only what the policies read: an unread argument or IP is one cache entry', () => {
    const fresh = new CedarEngine(loadPolicySet(EXAMPLE_SOURCES), { cacheSize: 10 });
    const withIp = (ip: string, note: string) => {
      const r = toolCall(['support'], 'refund', { arguments: { amount: 5, note } });
      r.context.ip = ip;
      return r;
    };
    assert.equal(fresh.decide(withIp('10.0.0.1', 'a')).allowed, true);
    assert.equal(fresh.decide(withIp('10.0.0.2', 'b')).allowed, true);
    assert.deepEqual(fresh.status().cache, { size: 1, hits: 1, misses: 1 });
    assert.equal(fresh.decide(toolCall(['support'], 'refund', { arguments: { amount: 500, note: 'a' } })).allowed, false, 'control: a read argument is a new question');
  });

  test('a policy that reads the IP gets it (from which machine)', () => {
    const files = tempFiles({ 'p.cedar': '@id("lan") permit (principal, action, resource) when { context has ip && context.ip.isInRange(ip("10.0.0.0/8")) };\n' });
    try {
      const engine = new CedarEngine(loadPolicySet({ policies: files.dir }));
      const at = (ip: string) => ({ ...toolCall([], 'x'), context: { ...toolCall([], 'x').context, ip } });
      assert.equal(engine.decide(at('10.1.2.3')).allowed, true);
      assert.equal(engine.decide(at('192.168.1.1')).allowed, false, 'control: outside the range');
    } finally {
      files.remove();
    }
  });

  test('list items: shown when allowed, or when deciding needs the arguments the list does not have', () => {
    assert.equal(engine.permitsItem(toolCall(['support'], 'refund', { listing: true })), true);
    assert.equal(engine.permitsItem(toolCall(['reader'], 'notes_create', { listing: true })), false);
    assert.equal(engine.permitsItem(toolCall(['writer'], 'notes_create', { listing: true, hour: 20 })), false, 'no writes shown out of hours');
  });
});

describe('loading a policy set', () => {
  test('a syntax error names the file and line; nothing is loaded', () => {
    const files = tempFiles({ 'a.cedar': 'permit (principal, action, resource);\n\npermit (principal, action resource);\n' });
    try {
      assert.throws(() => loadPolicySet({ policies: files.dir }), (err: unknown) => {
        assert.ok(err instanceof PolicyError);
        assert.equal(err.code, 'parse');
        assert.match(err.problems[0]!, /a\.cedar: line 3/);
        return true;
      });
    } finally {
      files.remove();
    }
  });

  test('a policy that does not fit the schema is refused with the help Cedar gives', () => {
    const files = tempFiles({ 'p.cedar': '@id("bad")\nforbid (principal, action == Action::"call_tool", resource) when { context.arguments.amount > 1 };\n' });
    try {
      assert.throws(() => loadPolicySet({ policies: files.dir }), (err: unknown) => {
        assert.ok(err instanceof PolicyError);
        assert.equal(err.code, 'validation');
        assert.match(err.problems.join('\n'), /p\.cedar:1: policy 'bad':.*(try testing for the attribute's presence)/);
        return true;
      });
      files.write('p.cedar', '@id("good")\nforbid (principal, action == Action::"call_tool", resource) when { context has arguments && context.arguments has amount && context.arguments.amount > 1 };\n');
      assert.equal(loadPolicySet({ policies: files.dir }).policies.size, 1, 'control');
    } finally {
      files.remove();
    }
  });

  test('duplicate @id across files is refused, naming both places', () => {
    const files = tempFiles({ 'a.cedar': '@id("x") permit (principal, action, resource);', 'b.cedar': '\n@id("x") forbid (principal, action, resource);' });
    try {
      assert.throws(() => loadPolicySet({ policies: files.dir }), /b\.cedar:2: policy id 'x' is already used at .*a\.cedar:1/);
    } finally {
      files.remove();
    }
  });

  test('a missing folder, an empty folder, and entities that are not JSON say so', () => {
    const files = tempFiles({ 'e.json': '{ not json' });
    try {
      assert.throws(() => loadPolicySet({ policies: `${files.dir}/nope` }), /no such file or folder/);
      assert.throws(() => loadPolicySet({ policies: files.dir }), /holds no \*\.cedar file/);
      files.write('p.cedar', 'permit (principal, action, resource);');
      assert.throws(() => loadPolicySet({ policies: files.dir, entities: `${files.dir}/e.json` }), /e\.json: not JSON/);
      assert.equal(loadPolicySet({ policies: files.dir }).policies.get('p.cedar#1')?.effect, 'permit', 'control; an unnamed policy is <file>#<n>');
    } finally {
      files.remove();
    }
  });
});
