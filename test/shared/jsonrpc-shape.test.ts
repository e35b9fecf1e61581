import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import { isJsonRpcMessage } from '../../src/shared/jsonrpc-shape.js';

/** Messages and near-misses: each member present, absent, of another type, and extra members. */
const BASES: unknown[] = [
  { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } },
  { jsonrpc: '2.0', id: 'a', method: 'ping' },
  { jsonrpc: '2.0', method: 'notifications/initialized' },
  { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 3, progress: 1 } },
  { jsonrpc: '2.0', id: 2, result: {} },
  { jsonrpc: '2.0', id: 2, result: { tools: [], _meta: { progressToken: 'p' } } },
  { jsonrpc: '2.0', id: 3, error: { code: -32601, message: 'nope' } },
  { jsonrpc: '2.0', error: { code: -32700, message: 'parse', data: { x: 1 }, extra: true } },
  { jsonrpc: '2.0', id: 4, method: 'tools/list', params: { _meta: { progressToken: 'tok', 'io.modelcontextprotocol/related-task': { taskId: 't' } } } },
];
const VALUES: unknown[] = [undefined, null, 0, 1, -1, 1.5, 2 ** 53, '', 'x', true, [], [1], {}, { taskId: 1 }, { taskId: 'x' }, { progressToken: 1.5 }, { progressToken: 'p' }];
const KEYS = ['jsonrpc', 'id', 'method', 'params', 'result', 'error', 'extra'];
const NESTED: [string, string][] = [['params', '_meta'], ['params', 'name'], ['error', 'code'], ['error', 'message'], ['result', '_meta']];

function* variants(): Generator<unknown> {
  for (const base of BASES) {
    yield base;
    for (const key of KEYS) {
      for (const value of VALUES) {
        const copy = structuredClone(base) as Record<string, unknown>;
        if (value === undefined) delete copy[key];
        else copy[key] = value;
        yield copy;
      }
    }
    for (const [outer, inner] of NESTED) {
      for (const value of VALUES) {
        const copy = structuredClone(base) as Record<string, Record<string, unknown>>;
        if (typeof copy[outer] !== 'object' || copy[outer] === null) continue;
        if (value === undefined) delete copy[outer]![inner];
        else copy[outer]![inner] = value;
        yield copy;
        if (inner === '_meta' && typeof value === 'object' && value !== null) {
          yield { ...copy, [outer]: { ...copy[outer], _meta: { 'io.modelcontextprotocol/related-task': value } } };
        }
      }
    }
  }
  for (const value of VALUES) yield value;
}

test('the hand-written shape check agrees with the SDK schema on every variant', () => {
  let checked = 0;
  let valid = 0;
  for (const value of variants()) {
    // Through JSON, as a request body would arrive (undefined members vanish).
    const parsed = value === undefined ? undefined : JSON.parse(JSON.stringify(value));
    const expected = JSONRPCMessageSchema.safeParse(parsed).success;
    assert.equal(isJsonRpcMessage(parsed), expected, JSON.stringify(parsed));
    checked++;
    if (expected) valid++;
  }
  assert.ok(checked > 500 && valid > 50 && valid < checked - 100, `a corpus with both kinds: ${valid} valid of ${checked}`);
});
