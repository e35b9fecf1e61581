import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { AllowList, targetOf, LIST_METHODS, type McpTarget } from '../../src/policy/index.js';

const tool = (name: string): McpTarget => ({ kind: 'tool', name });
const prompt = (name: string): McpTarget => ({ kind: 'prompt', name });
const resource = (name: string): McpTarget => ({ kind: 'resource', name });

describe('AllowList.permits', () => {
  test('exact names', () => {
    const allow = new AllowList({ tools: ['get_note', 'list_notes'] });
    assert.equal(allow.permits(tool('get_note')), true);
    assert.equal(allow.permits(tool('list_notes')), true);
    assert.equal(allow.permits(tool('delete_note')), false);
    assert.equal(allow.permits(tool('get_note2')), false, 'no prefix match');
    assert.equal(allow.permits(tool('xget_note')), false, 'no suffix match');
    assert.equal(allow.permits(tool('Get_Note')), false, 'case-sensitive');
  });

  test('* matches any run of characters, including none', () => {
    const allow = new AllowList({ tools: ['get_*'], resources: ['notes://*/public'] });
    assert.equal(allow.permits(tool('get_')), true);
    assert.equal(allow.permits(tool('get_note')), true);
    assert.equal(allow.permits(tool('get_a/b c\nd')), true, 'any character, newlines too');
    assert.equal(allow.permits(tool('forget_note')), false, 'anchored at the start');
    assert.equal(allow.permits(tool('get')), false);
    assert.equal(allow.permits(resource('notes://team/public')), true);
    assert.equal(allow.permits(resource('notes:///public')), true);
    assert.equal(allow.permits(resource('notes://team/public/x')), false, 'anchored at the end');
  });

  test('? matches exactly one character', () => {
    const allow = new AllowList({ prompts: ['summary-?'] });
    assert.equal(allow.permits(prompt('summary-1')), true);
    assert.equal(allow.permits(prompt('summary-x')), true);
    assert.equal(allow.permits(prompt('summary-')), false);
    assert.equal(allow.permits(prompt('summary-12')), false);
  });

  test('regex special characters in patterns are literal', () => {
    const allow = new AllowList({ tools: ['a.b*', 'c+d?', '(e)|f*', '[gh]*', 'i^j$*', 'k\\l*', 'm{2}*', 'n/o-p*'] });
    assert.equal(allow.permits(tool('a.b')), true);
    assert.equal(allow.permits(tool('a.bc')), true);
    assert.equal(allow.permits(tool('axb')), false, '. is not any character');
    assert.equal(allow.permits(tool('axbc')), false);
    assert.equal(allow.permits(tool('c+dx')), true);
    assert.equal(allow.permits(tool('ccdx')), false, '+ is not repetition');
    assert.equal(allow.permits(tool('(e)|f')), true);
    assert.equal(allow.permits(tool('e')), false, '| is not alternation');
    assert.equal(allow.permits(tool('f')), false);
    assert.equal(allow.permits(tool('[gh]')), true);
    assert.equal(allow.permits(tool('g')), false, '[] is not a class');
    assert.equal(allow.permits(tool('i^j$')), true);
    assert.equal(allow.permits(tool('k\\l')), true);
    assert.equal(allow.permits(tool('kl')), false);
    assert.equal(allow.permits(tool('m{2}')), true);
    assert.equal(allow.permits(tool('mm')), false, '{2} is not a count');
    assert.equal(allow.permits(tool('n/o-p')), true);
  });

  test('exact names with regex characters are literal', () => {
    const allow = new AllowList({ tools: ['a.b'], resources: ['file:///srv/(x).txt'] });
    assert.equal(allow.permits(tool('a.b')), true);
    assert.equal(allow.permits(tool('axb')), false);
    assert.equal(allow.permits(resource('file:///srv/(x).txt')), true);
    assert.equal(allow.permits(resource('file:///srv/x.txt')), false);
  });

  test('a kind that is not listed is not restricted; a listed one is', () => {
    const allow = new AllowList({ tools: ['echo'] });
    assert.equal(allow.restricts, true);
    assert.equal(allow.restrictsKind('tool'), true);
    assert.equal(allow.restrictsKind('prompt'), false);
    assert.equal(allow.restrictsKind('resource'), false);
    assert.equal(allow.permits(prompt('anything')), true);
    assert.equal(allow.permits(resource('file:///etc/passwd')), true);
    assert.equal(allow.permits(tool('other')), false);
  });

  test('no spec at all restricts nothing', () => {
    for (const allow of [new AllowList(), new AllowList({})]) {
      assert.equal(allow.restricts, false);
      assert.equal(allow.permits(tool('x')), true);
      assert.equal(allow.permits(tool('')), true);
    }
  });

  test('an empty list for a kind allows none of it (fail closed)', () => {
    const allow = new AllowList({ tools: [] });
    assert.equal(allow.restrictsKind('tool'), true);
    assert.equal(allow.permits(tool('echo')), false);
    assert.equal(allow.permits(tool('')), false);
  });

  test('kinds are kept apart: a tool pattern does not allow a prompt of that name', () => {
    const allow = new AllowList({ tools: ['echo'], prompts: ['greet'] });
    assert.equal(allow.permits(prompt('echo')), false);
    assert.equal(allow.permits(tool('greet')), false);
    assert.equal(allow.permits(prompt('greet')), true);
  });
});

describe('AllowList.filterListResult', () => {
  const allow = new AllowList({ tools: ['get_*', 'echo'], prompts: ['greet'], resources: ['notes://public/*'] });

  test('tools/list keeps only allowed tools, and the other fields', () => {
    const result = {
      tools: [{ name: 'get_note', inputSchema: {} }, { name: 'delete_note' }, { name: 'echo', description: 'x' }, { name: 'get_all' }],
      nextCursor: 'abc',
      _meta: { m: 1 },
    };
    assert.equal(allow.filtersList('tools/list'), true);
    assert.deepEqual(allow.filterListResult('tools/list', result), {
      tools: [{ name: 'get_note', inputSchema: {} }, { name: 'echo', description: 'x' }, { name: 'get_all' }],
      nextCursor: 'abc',
      _meta: { m: 1 },
    });
    assert.equal(result.tools.length, 4, 'the input is not changed');
  });

  test('prompts/list', () => {
    assert.deepEqual(allow.filterListResult('prompts/list', { prompts: [{ name: 'greet' }, { name: 'leak' }] }), { prompts: [{ name: 'greet' }] });
  });

  test('resources/list filters by uri', () => {
    const result = { resources: [{ uri: 'notes://public/1', name: 'greet' }, { uri: 'notes://private/2', name: 'notes://public/x' }] };
    assert.deepEqual(allow.filterListResult('resources/list', result), { resources: [{ uri: 'notes://public/1', name: 'greet' }] });
  });

  test('resources/templates/list filters by uriTemplate', () => {
    const result = { resourceTemplates: [{ uriTemplate: 'notes://public/{id}' }, { uriTemplate: 'notes://private/{id}', uri: 'notes://public/1' }] };
    assert.deepEqual(allow.filterListResult('resources/templates/list', result), { resourceTemplates: [{ uriTemplate: 'notes://public/{id}' }] });
  });

  test('items without a string name are dropped', () => {
    const result = { tools: [null, 'echo', 42, { name: 7 }, {}, { title: 'echo' }, { name: 'echo' }] };
    assert.deepEqual(allow.filterListResult('tools/list', result), { tools: [{ name: 'echo' }] });
  });

  test('malformed results are left alone', () => {
    for (const result of [null, undefined, 'tools', 42, { tools: 'echo' }, { notTools: [{ name: 'delete_note' }] }, { tools: { name: 'x' } }]) {
      assert.equal(allow.filterListResult('tools/list', result), result);
    }
  });

  test('unrestricted kinds and other methods pass unchanged', () => {
    const onlyTools = new AllowList({ tools: ['echo'] });
    const prompts = { prompts: [{ name: 'anything' }] };
    assert.equal(onlyTools.filtersList('prompts/list'), false);
    assert.equal(onlyTools.filterListResult('prompts/list', prompts), prompts);
    const tools = { tools: [{ name: 'delete_note' }] };
    assert.equal(onlyTools.filtersList('tools/call'), false);
    assert.equal(onlyTools.filterListResult('tools/call', tools), tools);
    assert.equal(onlyTools.filtersList('initialize'), false);
    assert.equal(new AllowList().filtersList('tools/list'), false);
  });

  test('LIST_METHODS names the four list methods', () => {
    assert.deepEqual(Object.keys(LIST_METHODS).sort(), ['prompts/list', 'resources/list', 'resources/templates/list', 'tools/list']);
  });
});

describe('targetOf', () => {
  test('every method with a target', () => {
    const cases: [string, unknown, McpTarget][] = [
      ['tools/call', { name: 'echo', arguments: {} }, tool('echo')],
      ['prompts/get', { name: 'greet' }, prompt('greet')],
      ['resources/read', { uri: 'notes://1' }, resource('notes://1')],
      ['resources/subscribe', { uri: 'notes://2' }, resource('notes://2')],
      ['resources/unsubscribe', { uri: 'notes://3' }, resource('notes://3')],
      ['completion/complete', { ref: { type: 'ref/prompt', name: 'greet' }, argument: { name: 'a', value: '' } }, prompt('greet')],
      ['completion/complete', { ref: { type: 'ref/resource', uri: 'notes://{id}' }, argument: { name: 'id', value: '' } }, resource('notes://{id}')],
    ];
    for (const [method, params, expected] of cases) {
      assert.deepEqual(targetOf({ method, params: params as Record<string, unknown> }), expected, method);
    }
  });

  test('undefined for methods that act on no named thing', () => {
    for (const method of ['initialize', 'ping', 'tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'logging/setLevel', 'notifications/initialized', 'tools/calls', 'TOOLS/CALL', '']) {
      assert.equal(targetOf({ method, params: { name: 'echo', uri: 'x' } }), undefined, method);
    }
  });

  test('malformed params yield empty names', () => {
    const cases: [string, unknown, McpTarget][] = [
      ['tools/call', undefined, tool('')],
      ['tools/call', {}, tool('')],
      ['tools/call', { name: 42 }, tool('')],
      ['tools/call', { name: ['echo'] }, tool('')],
      ['prompts/get', { name: null }, prompt('')],
      ['resources/read', { name: 'notes://1' }, { ...resource(''), invalid: 'the URI is empty' }],
      ['resources/subscribe', { uri: { href: 'x' } }, { ...resource(''), invalid: 'the URI is empty' }],
      ['completion/complete', {}, { ...resource(''), invalid: 'the URI is empty' }],
      ['completion/complete', { ref: { type: 'ref/prompt' } }, prompt('')],
      ['completion/complete', { ref: { type: 'ref/prompt', uri: 'greet' } }, prompt('')],
      ['completion/complete', { ref: { type: 'ref/other', name: 'greet' } }, { ...resource(''), invalid: 'the URI is empty' }],
    ];
    for (const [method, params, expected] of cases) {
      assert.deepEqual(targetOf({ method, params: params as Record<string, unknown> | undefined }), expected, `${method} ${JSON.stringify(params)}`);
    }
    assert.deepEqual(targetOf({ method: 'tools/call', params: null as unknown as undefined }), tool(''));
  });

  test('empty names are denied by any allow-list but *', () => {
    const strict = new AllowList({ tools: ['echo', '?*', 'e*'], prompts: ['greet'], resources: ['notes://*'] });
    for (const params of [undefined, {}, { name: 42 }]) {
      assert.equal(strict.permits(targetOf({ method: 'tools/call', params: params as Record<string, unknown> | undefined })!), false);
    }
    assert.equal(strict.permits(targetOf({ method: 'prompts/get', params: {} })!), false);
    assert.equal(strict.permits(targetOf({ method: 'resources/read', params: {} })!), false);
    assert.equal(strict.permits(targetOf({ method: 'completion/complete', params: {} })!), false);
    const star = new AllowList({ tools: ['*'] });
    assert.equal(star.permits(targetOf({ method: 'tools/call', params: {} })!), true);
  });
});

describe('AllowList.decide: the decision and the reason an audit record gives', () => {
  const list = new AllowList({ tools: ['echo'] });
  test('no target (initialize, ping, lists)', () => {
    assert.deepEqual(list.decide(undefined), { allowed: true, reason: 'no target' });
  });
  test('a kind that is not restricted', () => {
    assert.deepEqual(list.decide({ kind: 'prompt', name: 'anything' }), { allowed: true, reason: 'unrestricted' });
  });
  test('on the list, and not on it', () => {
    assert.deepEqual(list.decide({ kind: 'tool', name: 'echo' }), { allowed: true, reason: 'allow-list' });
    assert.deepEqual(list.decide({ kind: 'tool', name: 'rm' }), { allowed: false, reason: 'tool not on the allow-list' });
  });
});
