import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  ScopePolicy,
  targetOf,
  filterListAnswer,
  filterListResult,
  type McpTarget,
  type ScopePolicySpec,
  type ScopeSpec,
} from '../../src/policy/index.js';
import type { AuthorizationConfig } from '../../src/config/schema.js';
import type { JSONRPCMessage } from '../../src/shared/jsonrpc.js';

const tool = (name: string): McpTarget => ({ kind: 'tool', name });
const prompt = (name: string): McpTarget => ({ kind: 'prompt', name });
const resource = (name: string): McpTarget => ({ kind: 'resource', name });
const who = (scopes: string[] = [], roles: string[] = []) => ({ scopes, roles });
const scope = (s: Partial<ScopeSpec>): ScopeSpec => ({ tools: [], resources: [], prompts: [], ...s });
const ok = (result: unknown): JSONRPCMessage => ({ jsonrpc: '2.0', id: 1, result }) as JSONRPCMessage;

// The config's output type must be usable as the policy's spec as it is, with no mapping in between.
const _fromConfig: ScopePolicySpec = {} as AuthorizationConfig;
void _fromConfig;

/** A notes server and a files server, with scopes that overlap on purpose. */
const SPEC: ScopePolicySpec = {
  scopes: {
    'notes:read': scope({ description: 'Read notes', upstreams: ['notes'], tools: ['get_note', 'list_*'], resources: ['notes://*'], prompts: ['summarize'] }),
    'notes:write': scope({ upstreams: ['notes'], tools: ['create_note', 'update_note', 'get_note'] }),
    'notes:admin': scope({ upstreams: ['notes'], tools: ['*'] }),
    'files:read': scope({ upstreams: ['files'], tools: ['read_file', 'get_note'], resources: ['file:///srv/*'] }),
    'echo': scope({ tools: ['echo'], prompts: ['greet-?'] }), // every upstream
    'nowhere': scope({ upstreams: [], tools: ['*'] }),
  },
  roles: {
    reader: ['notes:read', 'files:read'],
    editor: ['notes:read', 'notes:write', 'notes:write'],
    ghostly: ['no-such-scope', 'echo'],
  },
};
const policy = new ScopePolicy(SPEC);
const allows = (p: ReturnType<typeof who>, upstream: string, target: McpTarget) => policy.decide(p, upstream, target).allowed;

describe('ScopePolicy.decide', () => {
  test('a scope opens exactly its globs', () => {
    const reader = who(['notes:read']);
    assert.equal(allows(reader, 'notes', tool('get_note')), true);
    assert.equal(allows(reader, 'notes', tool('list_notes')), true);
    assert.equal(allows(reader, 'notes', tool('list_')), true, '* matches none too');
    for (const name of ['delete_note', 'get_notes', 'xget_note', 'Get_Note', 'get_note ', 'create_note', 'alist_notes', 'list']) {
      assert.equal(allows(reader, 'notes', tool(name)), false, name);
    }
    assert.deepEqual(policy.decide(reader, 'notes', tool('get_note')), { allowed: true, reason: 'scope notes:read', needed: [] });
  });

  test('kinds are kept apart: a tool glob opens no prompt or resource of that name', () => {
    const reader = who(['notes:read']);
    assert.equal(allows(reader, 'notes', prompt('get_note')), false);
    assert.equal(allows(reader, 'notes', resource('get_note')), false);
    assert.equal(allows(reader, 'notes', tool('summarize')), false);
    assert.equal(allows(reader, 'notes', tool('notes://1')), false);
    assert.equal(allows(who(['notes:admin']), 'notes', prompt('summarize')), false, 'tools: [*] opens tools only');
    assert.equal(allows(who(['notes:admin']), 'notes', resource('notes://1')), false);
  });

  test('default deny: no scopes, or a policy with none defined', () => {
    const empty = new ScopePolicy({ scopes: {}, roles: {} });
    for (const target of [tool('echo'), tool('get_note'), tool(''), tool('*'), prompt('greet-1'), resource('notes://1')]) {
      for (const upstream of ['notes', 'files', 'other']) {
        assert.equal(policy.decide(who(), upstream, target).allowed, false, `${upstream} ${target.kind} ${target.name}`);
        const d = empty.decide(who(['notes:read'], ['reader']), upstream, target);
        assert.deepEqual(d, { allowed: false, reason: `no scope of the caller opens ${target.kind} '${target.name}'`, needed: [] });
      }
    }
  });

  test('requests with no target are allowed for any authenticated principal, even one with no scopes', () => {
    for (const caller of [who(), who(['unknown']), who(['notes:read'], ['reader'])]) {
      for (const method of ['initialize', 'ping', 'tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'notifications/initialized']) {
        const d = policy.decide(caller, 'notes', targetOf({ method, params: { name: 'delete_note' } }));
        assert.deepEqual(d, { allowed: true, reason: 'no target', needed: [] }, method);
      }
    }
  });

  test('roles expand to their scopes', () => {
    const editor = who([], ['editor']);
    assert.equal(allows(editor, 'notes', tool('create_note')), true);
    assert.equal(allows(editor, 'notes', tool('list_notes')), true);
    assert.equal(allows(editor, 'notes', tool('delete_note')), false);
    assert.equal(allows(who([], ['reader']), 'files', tool('read_file')), true);
    assert.equal(allows(who([], ['reader']), 'notes', tool('create_note')), false);
    assert.equal(policy.decide(editor, 'notes', tool('create_note')).reason, 'scope notes:write');
    // Own scopes and role scopes add up.
    const caller = who(['echo'], ['reader']);
    assert.equal(allows(caller, 'files', tool('echo')), true);
    assert.equal(allows(caller, 'files', tool('read_file')), true);
    assert.equal(allows(caller, 'notes', tool('update_note')), false);
  });

  test('a gateway token\'s roles grant nothing at the scope step: its scopes were cut to them when it was issued', () => {
    const token = { ...who(['echo'], ['editor']), scopesCutToRoles: true as const };
    assert.equal(allows(token, 'notes', tool('create_note')), false, 'the role would open it; the token was not issued with it');
    assert.equal(allows(token, 'files', tool('echo')), true, 'its own scopes still open what they open');
    assert.deepEqual(policy.effectiveScopes(token), ['echo']);
    assert.equal(allows(who(['echo'], ['editor']), 'notes', tool('create_note')), true, 'control: the same roles on an API key do');
  });

  test('an unknown scope or role grants nothing', () => {
    const names = ['admin', '*', '', 'notes:*', 'NOTES:READ', 'notes:read ', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];
    for (const name of names) {
      for (const caller of [who([name]), who([], [name])]) {
        for (const target of [tool('echo'), tool('get_note'), tool(''), prompt('summarize'), resource('notes://1')]) {
          assert.equal(allows(caller, 'notes', target), false, `${JSON.stringify(caller)} ${target.kind} ${target.name}`);
        }
        assert.deepEqual(policy.effectiveScopes(caller), [], name);
      }
    }
    // A scope name is not a role name, nor the other way round.
    assert.equal(allows(who(['reader']), 'notes', tool('get_note')), false);
    assert.equal(allows(who([], ['notes:read']), 'notes', tool('get_note')), false);
  });

  test('a role naming an undefined scope keeps its defined ones only', () => {
    const ghostly = who([], ['ghostly']);
    assert.deepEqual(policy.effectiveScopes(ghostly), ['echo']);
    assert.equal(allows(ghostly, 'notes', tool('echo')), true);
    assert.equal(allows(ghostly, 'notes', tool('get_note')), false);
  });

  test('a policy built from a record with prototype names does not inherit', () => {
    const spec = JSON.parse('{"scopes":{"__proto__":{"tools":["x"],"resources":[],"prompts":[]}},"roles":{"__proto__":["__proto__"]}}') as ScopePolicySpec;
    const odd = new ScopePolicy(spec);
    assert.equal(odd.decide(who(['__proto__']), 'a', tool('x')).allowed, true);
    assert.equal(odd.decide(who([], ['__proto__']), 'a', tool('x')).allowed, true);
    assert.equal(odd.decide(who(['constructor'], ['toString']), 'a', tool('x')).allowed, false);
    assert.equal(odd.decide(who(['__proto__']), 'a', tool('y')).allowed, false);
  });

  test('upstreams restricts a scope to those upstreams', () => {
    const reader = who(['notes:read']);
    assert.equal(allows(reader, 'notes', tool('get_note')), true);
    for (const upstream of ['files', 'other', '', 'Notes', 'notes ', 'notes2', 'note']) {
      assert.equal(allows(reader, upstream, tool('get_note')), false, `same tool on ${JSON.stringify(upstream)}`);
    }
    // files:read names get_note too, but only on files.
    assert.equal(allows(who(['files:read']), 'files', tool('get_note')), true);
    assert.equal(allows(who(['files:read']), 'notes', tool('get_note')), false);
  });

  test('a scope without upstreams applies everywhere; one with an empty list applies nowhere', () => {
    for (const upstream of ['notes', 'files', 'anything']) {
      assert.equal(allows(who(['echo']), upstream, tool('echo')), true, upstream);
      assert.equal(allows(who(['nowhere']), upstream, tool('echo')), false, upstream);
    }
  });

  test('needed names every scope that would open the target there, and only those', () => {
    assert.deepEqual(policy.decide(who(), 'notes', tool('get_note')).needed, ['notes:admin', 'notes:read', 'notes:write']);
    assert.deepEqual(policy.decide(who(['files:read']), 'notes', tool('get_note')).needed, ['notes:admin', 'notes:read', 'notes:write']);
    assert.deepEqual(policy.decide(who(), 'files', tool('get_note')).needed, ['files:read']);
    assert.deepEqual(policy.decide(who(), 'notes', tool('delete_note')).needed, ['notes:admin']);
    assert.deepEqual(policy.decide(who(), 'notes', tool('echo')).needed, ['echo', 'notes:admin']);
    assert.deepEqual(policy.decide(who(), 'other', tool('echo')).needed, ['echo']);
    assert.deepEqual(policy.decide(who(), 'notes', prompt('summarize')).needed, ['notes:read']);
  });

  test('needed is empty when no scope would open the target', () => {
    for (const [upstream, target] of [['files', tool('delete_note')], ['other', tool('get_note')], ['notes', prompt('delete')], ['files', resource('notes://1')]] as const) {
      const d = policy.decide(who(['notes:admin']), upstream, target);
      assert.equal(d.allowed, false);
      assert.deepEqual(d.needed, [], `${upstream} ${target.name}`);
    }
  });

  test('the reason of a denial names the kind and the name', () => {
    assert.deepEqual(policy.decide(who(['notes:read']), 'notes', tool('delete_note')), {
      allowed: false,
      reason: "no scope of the caller opens tool 'delete_note'",
      needed: ['notes:admin'],
    });
    assert.equal(policy.decide(who(), 'notes', prompt('x')).reason, "no scope of the caller opens prompt 'x'");
    assert.equal(policy.decide(who(), 'notes', resource('r://1')).reason, "no scope of the caller opens resource 'r://1'");
  });

  test('resources are matched on the URI, prompts on the name', () => {
    const reader = who(['notes:read']);
    assert.equal(allows(reader, 'notes', resource('notes://1')), true);
    assert.equal(allows(reader, 'notes', resource('notes://')), true);
    assert.equal(allows(reader, 'notes', resource('notes:/1')), false);
    assert.equal(allows(reader, 'notes', resource('file:///srv/a')), false);
    assert.equal(allows(who(['files:read']), 'files', resource('file:///srv/a/b')), true);
    assert.equal(allows(who(['files:read']), 'files', resource('file:///etc/passwd')), false);
    assert.equal(allows(reader, 'notes', prompt('summarize')), true);
    assert.equal(allows(reader, 'notes', prompt('summarize2')), false);
    assert.equal(allows(who(['echo']), 'x', prompt('greet-1')), true);
    assert.equal(allows(who(['echo']), 'x', prompt('greet-')), false);
    assert.equal(allows(who(['echo']), 'x', prompt('greet-12')), false);
  });

  test('every method with a target, through targetOf (completion too)', () => {
    const reader = who(['notes:read']);
    const cases: [string, Record<string, unknown>, boolean][] = [
      ['tools/call', { name: 'get_note' }, true],
      ['tools/call', { name: 'delete_note' }, false],
      ['prompts/get', { name: 'summarize' }, true],
      ['prompts/get', { name: 'other' }, false],
      ['resources/read', { uri: 'notes://1' }, true],
      ['resources/read', { uri: 'file:///srv/x' }, false],
      ['resources/subscribe', { uri: 'notes://1' }, true],
      ['resources/unsubscribe', { uri: 'secret://1' }, false],
      ['completion/complete', { ref: { type: 'ref/prompt', name: 'summarize' } }, true],
      ['completion/complete', { ref: { type: 'ref/prompt', name: 'get_note' } }, false],
      // Resource templates are matched on the template text, as the allow-list does.
      ['completion/complete', { ref: { type: 'ref/resource', uri: 'notes://{id}' } }, true],
      ['completion/complete', { ref: { type: 'ref/resource', uri: 'file:///srv/{path}' } }, false],
      ['completion/complete', {}, false],
    ];
    for (const [method, params, expected] of cases) {
      assert.equal(policy.decide(reader, 'notes', targetOf({ method, params })).allowed, expected, `${method} ${JSON.stringify(params)}`);
    }
  });

  test('an empty or malformed target name is denied unless a scope has *', () => {
    for (const params of [undefined, {}, { name: 42 }, { name: null }, { name: ['get_note'] }]) {
      const target = targetOf({ method: 'tools/call', params: params as Record<string, unknown> | undefined })!;
      assert.deepEqual(target, tool(''));
      const d = policy.decide(who(['notes:read', 'notes:write', 'files:read', 'echo'], ['reader', 'editor']), 'notes', target);
      assert.equal(d.allowed, false);
      assert.deepEqual(d.needed, ['notes:admin'], 'only the * scope would open it');
      assert.equal(d.reason, "no scope of the caller opens tool ''");
      assert.equal(policy.decide(who(['notes:admin']), 'notes', target).allowed, true);
    }
    const strict = new ScopePolicy({ scopes: { s: scope({ tools: ['?*', 'e*', '?'], prompts: ['*'] }) }, roles: {} });
    assert.equal(strict.decide(who(['s']), 'u', tool('')).allowed, false);
    assert.equal(strict.decide(who(['s']), 'u', prompt('')).allowed, true);
    assert.equal(strict.decide(who(['s']), 'u', resource('')).allowed, false);
  });

  test("glob metacharacters in a caller's name are literal, never patterns", () => {
    const exact = who(['notes:write']); // create_note, update_note, get_note: no globs
    for (const name of ['*', '?', 'get_*', 'get_not?', '*_note', 'get_note*', '.*', 'get.note', '[g]et_note', 'get_note|delete_note', '(get_note)', '^get_note$', 'get_note\\']) {
      assert.equal(allows(exact, 'notes', tool(name)), false, name);
    }
    // A glob in the scope still matches a caller's literal * as an ordinary character.
    const reader = who(['notes:read']);
    assert.equal(allows(reader, 'notes', tool('list_*')), true);
    assert.equal(allows(reader, 'notes', tool('list_.*')), true);
    assert.equal(allows(reader, 'notes', tool('*list_')), false);
    assert.equal(allows(reader, 'notes', resource('*')), false);
  });

  test('a very long target name does not blow up the reason', () => {
    for (const name of ['x'.repeat(1_000_000), '\u{1F600}'.repeat(60_000), 'a'.repeat(99) + '\u{1F600}'.repeat(5)]) {
      const d = policy.decide(who(['notes:read']), 'notes', tool(name));
      assert.equal(d.allowed, false);
      assert.ok(d.reason.length <= 160, `reason is ${d.reason.length} characters`);
      assert.ok(d.reason.endsWith("…'"), 'marked as cut');
      assert.doesNotMatch(d.reason, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])/, 'no lone high surrogate');
      assert.deepEqual(d.needed, ['notes:admin']);
    }
    const exactly100 = 'y'.repeat(100);
    assert.equal(policy.decide(who(), 'notes', tool(exactly100)).reason, `no scope of the caller opens tool '${exactly100}'`, 'not cut at the limit');
  });

  test('control characters in a name do not break the reason onto new lines', () => {
    const d = policy.decide(who(), 'notes', tool('a\nb\r\u0000c\u001b[31m\u0085\u2028d\u2029'));
    assert.equal(d.reason, "no scope of the caller opens tool 'a?b??c?[31m??d?'");
  });

  test('the order of scopes and roles does not change the outcome', () => {
    const targets = [tool('get_note'), tool('create_note'), tool('read_file'), tool('echo'), tool('rm'), prompt('summarize'), resource('notes://1')];
    for (const upstream of ['notes', 'files', 'x']) {
      for (const target of targets) {
        const a = policy.decide(who(['echo', 'files:read'], ['editor', 'reader']), upstream, target);
        const b = policy.decide(who(['files:read', 'echo'], ['reader', 'editor']), upstream, target);
        assert.equal(a.allowed, b.allowed, `${upstream} ${target.name}`);
        assert.deepEqual(a.needed, b.needed);
      }
    }
  });
});

describe('ScopePolicy.effectiveScopes', () => {
  test('own scopes plus role scopes, defined ones only, sorted and unique', () => {
    assert.deepEqual(policy.effectiveScopes(who()), []);
    assert.deepEqual(policy.effectiveScopes(who(['notes:write', 'echo', 'echo', 'nope'])), ['echo', 'notes:write']);
    assert.deepEqual(policy.effectiveScopes(who(['notes:read'], ['editor', 'reader', 'editor', 'nobody'])), ['files:read', 'notes:read', 'notes:write']);
    const caller = who(['notes:write', 'echo'], ['reader']);
    policy.effectiveScopes(caller);
    policy.grantFor(caller, 'notes');
    assert.deepEqual(caller, who(['notes:write', 'echo'], ['reader']), 'the principal is not changed');
  });
});

describe('ScopePolicy.grantFor', () => {
  test('permits agrees with decide', () => {
    const callers = [who(), who(['notes:read']), who(['echo'], ['editor']), who(['nowhere', 'files:read']), who([], ['ghostly', 'unknown'])];
    const targets = [tool('get_note'), tool('create_note'), tool('list_x'), tool('echo'), tool(''), tool('*'), prompt('summarize'), prompt('greet-1'), resource('notes://1'), resource('file:///srv/x')];
    for (const caller of callers) {
      for (const upstream of ['notes', 'files', 'other']) {
        const grant = policy.grantFor(caller, upstream);
        for (const target of targets) {
          assert.equal(grant.permits(target), policy.decide(caller, upstream, target).allowed, `${JSON.stringify(caller)} ${upstream} ${target.kind} ${target.name}`);
        }
      }
    }
  });

  test('scopes lists the effective scopes that apply on the upstream', () => {
    const caller = who(['echo', 'nowhere'], ['reader']);
    assert.deepEqual(policy.grantFor(caller, 'notes').scopes, ['echo', 'notes:read']);
    assert.deepEqual(policy.grantFor(caller, 'files').scopes, ['echo', 'files:read']);
    assert.deepEqual(policy.grantFor(caller, 'other').scopes, ['echo']);
    assert.deepEqual(policy.grantFor(who(), 'notes').scopes, []);
  });

  test('the cache answers the same for the same effective scopes in any order', () => {
    const fresh = new ScopePolicy(SPEC);
    const a = fresh.grantFor(who(['notes:write', 'echo'], ['reader']), 'notes');
    const b = fresh.grantFor(who(['echo', 'unknown', 'notes:read', 'files:read', 'notes:write']), 'notes');
    const c = fresh.grantFor(who([], ['ghostly', 'editor', 'reader']), 'notes');
    assert.equal(a, b, 'one cached grant');
    assert.equal(a, c);
    assert.notEqual(fresh.grantFor(who(['notes:write', 'echo'], ['reader']), 'files'), a, 'keyed by upstream too');
    assert.notEqual(fresh.grantFor(who(['notes:write']), 'notes'), a, 'and by the scope set');
    assert.equal(fresh.grantFor(who(['notes:write']), 'notes').permits(tool('list_notes')), false, 'a smaller set is not served a larger grant');
  });

  test('the cache is bounded, and an evicted grant is rebuilt with the same answers', () => {
    const fresh = new ScopePolicy(SPEC);
    const caller = who(['notes:read']);
    const first = fresh.grantFor(caller, 'notes');
    assert.equal(fresh.grantFor(caller, 'notes'), first);
    for (let i = 0; i < 2000; i++) fresh.grantFor(caller, `u${i}`);
    const again = fresh.grantFor(caller, 'notes');
    assert.notEqual(again, first, 'evicted');
    assert.deepEqual(again.scopes, first.scopes);
    for (const target of [tool('get_note'), tool('rm'), resource('notes://1')]) assert.equal(again.permits(target), first.permits(target));
    for (let i = 0; i < 2000; i++) {
      fresh.grantFor(caller, `v${i}`);
      assert.equal(fresh.grantFor(caller, 'notes'), again, 'recently used grants survive eviction');
    }
  });

  test('upstream and scope names cannot be confused in the cache key', () => {
    // Names that collide under any plain concatenation of upstream and scopes (the spec need not pass the schema).
    const odd = new ScopePolicy({
      scopes: { a: scope({ tools: ['t'] }), b: scope({}), ab: scope({ tools: ['u'] }), 'a b': scope({ tools: ['u'] }), 'a","b': scope({ tools: ['u'] }), 'a,b': scope({ tools: ['u'] }) },
      roles: {},
    });
    const split = odd.grantFor(who(['a', 'b']), 'x');
    for (const joined of ['ab', 'a b', 'a","b', 'a,b']) {
      const grant = odd.grantFor(who([joined]), 'x');
      assert.notEqual(grant, split, joined);
      assert.equal(grant.permits(tool('u')), true, joined);
    }
    assert.equal(split.permits(tool('u')), false);
    assert.equal(odd.grantFor(who(['b']), 'xa').permits(tool('u')), false, 'upstream xa + b is not upstream x + ab');
    assert.equal(odd.grantFor(who(['ab']), 'x').permits(tool('u')), true);
  });
});

describe('Grant.filterListAnswer', () => {
  const grant = policy.grantFor(who(['notes:read', 'echo']), 'notes');

  test('tools/list keeps what the caller may use, and the other fields', () => {
    const answer = ok({ tools: [{ name: 'get_note', inputSchema: {} }, { name: 'delete_note' }, { name: 'list_all' }, { name: 'echo' }, { name: 'read_file' }], nextCursor: 'c', _meta: { m: 1 } });
    assert.deepEqual(grant.filterListAnswer('tools/list', answer), ok({ tools: [{ name: 'get_note', inputSchema: {} }, { name: 'list_all' }, { name: 'echo' }], nextCursor: 'c', _meta: { m: 1 } }));
    assert.equal((answer as unknown as { result: { tools: unknown[] } }).result.tools.length, 5, 'the input is not changed');
  });

  test('prompts/list', () => {
    const answer = ok({ prompts: [{ name: 'summarize' }, { name: 'greet-1' }, { name: 'greet-12' }, { name: 'get_note' }] });
    assert.deepEqual(grant.filterListAnswer('prompts/list', answer), ok({ prompts: [{ name: 'summarize' }, { name: 'greet-1' }] }));
  });

  test('resources/list by uri, resources/templates/list by uriTemplate', () => {
    assert.deepEqual(
      grant.filterListAnswer('resources/list', ok({ resources: [{ uri: 'notes://1', name: 'x' }, { uri: 'file:///srv/a', name: 'notes://1' }] })),
      ok({ resources: [{ uri: 'notes://1', name: 'x' }] }),
    );
    assert.deepEqual(
      grant.filterListAnswer('resources/templates/list', ok({ resourceTemplates: [{ uriTemplate: 'notes://{id}' }, { uriTemplate: 'file:///srv/{p}', uri: 'notes://1' }] })),
      ok({ resourceTemplates: [{ uriTemplate: 'notes://{id}' }] }),
    );
  });

  test('a caller with no scopes there sees empty lists', () => {
    const none = policy.grantFor(who(['files:read']), 'notes');
    assert.deepEqual(none.filterListAnswer('tools/list', ok({ tools: [{ name: 'get_note' }, { name: 'read_file' }] })), ok({ tools: [] }));
    assert.deepEqual(none.filterListAnswer('prompts/list', ok({ prompts: [{ name: 'summarize' }] })), ok({ prompts: [] }));
  });

  test('items without a string name are dropped, even under *', () => {
    const admin = policy.grantFor(who(['notes:admin']), 'notes');
    assert.deepEqual(admin.filterListAnswer('tools/list', ok({ tools: [null, 'echo', 42, { name: 7 }, {}, { title: 'x' }, { name: '' }, { name: 'x' }] })), ok({ tools: [{ name: '' }, { name: 'x' }] }));
  });

  test('error answers pass unchanged', () => {
    const error = { jsonrpc: '2.0', id: 1, error: { code: -32601, message: 'Method not found' } } as JSONRPCMessage;
    for (const method of ['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list']) assert.equal(grant.filterListAnswer(method, error), error);
  });

  test('other methods, and messages that are not answers, pass unchanged', () => {
    const request = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} } as JSONRPCMessage;
    assert.equal(grant.filterListAnswer('tools/list', request), request);
    const answer = ok({ tools: [{ name: 'delete_note' }], content: [] });
    for (const method of ['tools/call', 'initialize', 'ping', 'TOOLS/LIST', 'tools/list ', '', 'constructor', '__proto__']) assert.equal(grant.filterListAnswer(method, answer), answer, method);
  });

  test('results without the list field as an array pass unchanged', () => {
    for (const result of [null, 42, 'tools', [], { tools: 'echo' }, { tools: { name: 'delete_note' } }, { prompts: [{ name: 'delete_note' }] }, {}]) {
      const answer = ok(result);
      assert.equal(grant.filterListAnswer('tools/list', answer), answer, JSON.stringify(result));
    }
  });

});

describe('the shared list walk', () => {
  const permits = (t: McpTarget) => t.name.startsWith('ok');

  test('filterListResult keeps what permits accepts, asking with the kind of the list, without changing its input', () => {
    const result = { tools: [{ name: 'ok1' }, { name: 'no' }], extra: true };
    assert.deepEqual(filterListResult('tools/list', result, permits), { tools: [{ name: 'ok1' }], extra: true });
    assert.deepEqual(result.tools, [{ name: 'ok1' }, { name: 'no' }]);
    // permits is asked with the kind of the list.
    const seen: McpTarget[] = [];
    const record = (t: McpTarget) => (seen.push(t), true);
    filterListResult('tools/list', { tools: [{ name: 'a' }] }, record);
    filterListResult('prompts/list', { prompts: [{ name: 'b' }] }, record);
    filterListResult('resources/list', { resources: [{ uri: 'c:x' }, { uri: 'not absolute' }] }, record);
    filterListResult('resources/templates/list', { resourceTemplates: [{ uriTemplate: 'D:/{x}/./y' }] }, record);
    // Resources are asked about in their normal form; one that has none is hidden without asking.
    assert.deepEqual(seen, [tool('a'), prompt('b'), resource('c:x'), resource('d:/{x}/y')]);
  });

  test('filterListAnswer returns the same object when there is nothing to filter', () => {
    const answer = ok({ other: 1 });
    assert.equal(filterListAnswer('tools/list', answer, permits), answer);
    const error = { jsonrpc: '2.0', id: 1, error: { code: 1, message: 'x' } } as JSONRPCMessage;
    assert.equal(filterListAnswer('tools/list', error, permits), error);
    const other = ok({ tools: [{ name: 'no' }] });
    assert.equal(filterListAnswer('ping', other, permits), other);
  });
});

describe('ScopePolicy.scopesFor and description', () => {
  test('scopes that apply to an upstream, sorted', () => {
    assert.deepEqual(policy.scopesFor('notes'), ['echo', 'notes:admin', 'notes:read', 'notes:write']);
    assert.deepEqual(policy.scopesFor('files'), ['echo', 'files:read']);
    assert.deepEqual(policy.scopesFor('other'), ['echo']);
    assert.deepEqual(new ScopePolicy({ scopes: {}, roles: {} }).scopesFor('notes'), []);
    const list = policy.scopesFor('notes');
    list.pop();
    assert.equal(policy.scopesFor('notes').length, 4, 'a fresh array each time');
  });

  test('description', () => {
    assert.equal(policy.description('notes:read'), 'Read notes');
    assert.equal(policy.description('notes:write'), undefined);
    assert.equal(policy.description('nope'), undefined);
    assert.equal(policy.description('__proto__'), undefined);
    assert.equal(policy.description('constructor'), undefined);
  });
});
