import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseJsonRpcBody,
  errorResponse,
  gatewayErrorResponse,
  requestIds,
  idKey,
  isResponse,
  type JSONRPCMessage,
} from '../../src/shared/jsonrpc.js';
import { GatewayError, GATEWAY_ERRORS, isGatewayError } from '../../src/shared/errors.js';

/** Asserts `body` is refused with the gateway error `code` (and its status and JSON-RPC code). */
function refused(body: string | Buffer, code: 'parse_error' | 'invalid_request', message?: RegExp): void {
  assert.throws(() => parseJsonRpcBody(body), (err: unknown) => {
    assert.ok(isGatewayError(err), `expected a GatewayError, got ${String(err)}`);
    assert.equal(err.code, code, String(body));
    assert.equal(err.status, 400);
    assert.equal(err.rpcCode, code === 'parse_error' ? -32700 : -32600);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('parseJsonRpcBody', () => {
  test('invalid JSON is a parse_error', () => {
    for (const body of ['{', '', 'not json', '{"jsonrpc":"2.0",}', "{'jsonrpc':'2.0'}", '\ufeff{}']) refused(body, 'parse_error', /not valid JSON/);
    refused(Buffer.from('{"a":'), 'parse_error');
  });

  test('well-formed JSON that is not JSON-RPC 2.0 is an invalid_request', () => {
    for (const body of ['{}', '{"jsonrpc":"1.0"}', '{"jsonrpc":"1.0","id":1,"method":"ping"}', '{"id":1,"method":"ping"}', 'null', '1', '"ping"',
      '{"jsonrpc":"2.0","id":1}', '{"jsonrpc":"2.0","id":1,"method":7}', '{"jsonrpc":"2.0","id":{},"method":"ping"}']) {
      refused(body, 'invalid_request', /^Invalid Request: not a JSON-RPC 2\.0/);
    }
  });

  test('an empty batch is an invalid_request', () => {
    refused('[]', 'invalid_request', /empty batch/);
  });

  test('a batch with one bad item names the item', () => {
    refused('[{"jsonrpc":"2.0","id":1,"method":"ping"},{}]', 'invalid_request', /\(batch item 1\)/);
  });

  test('a request', () => {
    const parsed = parseJsonRpcBody('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hé"}}}');
    assert.equal(parsed.batch, false);
    assert.deepEqual(parsed.messages, [{ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hé' } } }]);
    assert.deepEqual(requestIds(parsed.messages), [1]);
  });

  test('a request from a Buffer, with a string id, surrounded by whitespace', () => {
    const parsed = parseJsonRpcBody(Buffer.from(' \n{"jsonrpc":"2.0","id":"a-1","method":"ping"}\n', 'utf8'));
    assert.deepEqual(parsed.messages, [{ jsonrpc: '2.0', id: 'a-1', method: 'ping' }]);
  });

  test('a notification', () => {
    const parsed = parseJsonRpcBody('{"jsonrpc":"2.0","method":"notifications/initialized"}');
    assert.equal(parsed.batch, false);
    assert.deepEqual(parsed.messages, [{ jsonrpc: '2.0', method: 'notifications/initialized' }]);
    assert.deepEqual(requestIds(parsed.messages), []);
    assert.equal(isResponse(parsed.messages[0]!), false);
  });

  test('responses, result and error', () => {
    const ok = parseJsonRpcBody('{"jsonrpc":"2.0","id":3,"result":{"x":1}}');
    assert.deepEqual(ok.messages, [{ jsonrpc: '2.0', id: 3, result: { x: 1 } }]);
    assert.equal(isResponse(ok.messages[0]!), true);
    const err = parseJsonRpcBody('{"jsonrpc":"2.0","id":"b","error":{"code":-32601,"message":"nope"}}');
    assert.deepEqual(err.messages, [{ jsonrpc: '2.0', id: 'b', error: { code: -32601, message: 'nope' } }]);
    assert.equal(isResponse(err.messages[0]!), true);
    assert.deepEqual(requestIds([...ok.messages, ...err.messages]), []);
  });

  test('a batch of a request, a notification and a response', () => {
    const parsed = parseJsonRpcBody(JSON.stringify([
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1 } },
      { jsonrpc: '2.0', id: 'x', result: {} },
      { jsonrpc: '2.0', id: 'y', method: 'tools/list' },
    ]));
    assert.equal(parsed.batch, true);
    assert.equal(parsed.messages.length, 4);
    assert.deepEqual(requestIds(parsed.messages), [1, 'y']);
  });

  test('a batch of one is still a batch', () => {
    const parsed = parseJsonRpcBody('[{"jsonrpc":"2.0","id":1,"method":"ping"}]');
    assert.equal(parsed.batch, true);
    assert.equal(parsed.messages.length, 1);
  });
});

describe('JSON-RPC helpers', () => {
  test('errorResponse, with and without data, with a null id', () => {
    assert.deepEqual(errorResponse(1, -32600, 'bad'), { jsonrpc: '2.0', id: 1, error: { code: -32600, message: 'bad' } });
    assert.deepEqual(errorResponse('a', -1, 'm', { k: 1 }), { jsonrpc: '2.0', id: 'a', error: { code: -1, message: 'm', data: { k: 1 } } });
    assert.equal(errorResponse(null, -32700, 'parse').id, null);
    assert.equal('data' in errorResponse(1, -1, 'm').error, false);
  });

  test('gatewayErrorResponse carries the JSON-RPC code and the error name', () => {
    const err = new GatewayError('rate_limited', 'slow down', { 'retry-after': '3' });
    assert.equal(err.status, 429);
    assert.deepEqual(err.headers, { 'retry-after': '3' });
    assert.deepEqual(gatewayErrorResponse(7, err), {
      jsonrpc: '2.0',
      id: 7,
      error: { code: GATEWAY_ERRORS.rate_limited.rpc, message: 'slow down', data: { error: 'rate_limited' } },
    });
  });

  test('idKey keeps numbers and strings apart', () => {
    assert.notEqual(idKey(1), idKey('1'));
    assert.equal(idKey(1), idKey(1));
    assert.equal(idKey('a'), idKey('a'));
  });

  test('isResponse', () => {
    const request: JSONRPCMessage = { jsonrpc: '2.0', id: 1, method: 'ping' };
    assert.equal(isResponse(request), false);
  });
});
