/**
 * The shape of a JSON-RPC 2.0 message as the MCP SDK's `JSONRPCMessageSchema` (1.x) defines it, checked by
 * hand because the schema's zod parse cost more per request than everything else the gateway decides: a
 * request (`jsonrpc`, `id`, `method`, `params`?), a notification (`jsonrpc`, `method`, `params`?), a result
 * (`jsonrpc`, `id`, `result`) or an error (`jsonrpc`, `id`?, `error: { code, message, … }`), each with
 * no other top-level members; `params` and `result` objects, `params._meta` an object whose `progressToken` is a
 * string or an integer. `test/shared/jsonrpc-shape.test.ts` holds it equal to the schema on a corpus.
 */

type Json = Record<string, unknown>;

const REQUEST = new Set(['jsonrpc', 'id', 'method', 'params']);
const NOTIFICATION = new Set(['jsonrpc', 'method', 'params']);
const RESULT = new Set(['jsonrpc', 'id', 'result']);
const ERROR = new Set(['jsonrpc', 'id', 'error']);
const RELATED_TASK = 'io.modelcontextprotocol/related-task';

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function only(value: Json, allowed: ReadonlySet<string>): boolean {
  for (const key in value) if (!allowed.has(key)) return false;
  return true;
}

const isInteger = (value: unknown): boolean => typeof value === 'number' && Number.isSafeInteger(value);
const isId = (value: unknown): boolean => typeof value === 'string' || isInteger(value);

function isParams(value: unknown): boolean {
  if (value === undefined) return true;
  if (!isObject(value)) return false;
  const meta = value._meta;
  if (meta === undefined) return true;
  if (!isObject(meta)) return false;
  if (meta.progressToken !== undefined && !isId(meta.progressToken)) return false;
  const task = meta[RELATED_TASK];
  return task === undefined || (isObject(task) && typeof task.taskId === 'string');
}

export function isJsonRpcMessage(value: unknown): boolean {
  if (!isObject(value) || value.jsonrpc !== '2.0') return false;
  if ('method' in value) {
    if (typeof value.method !== 'string' || !isParams(value.params)) return false;
    return 'id' in value ? isId(value.id) && only(value, REQUEST) : only(value, NOTIFICATION);
  }
  if ('result' in value) return isId(value.id) && isObject(value.result) && only(value, RESULT) && isParams({ _meta: value.result._meta });
  if (!('error' in value) || !only(value, ERROR) || (value.id !== undefined && !isId(value.id))) return false;
  const error = value.error;
  return isObject(error) && isInteger(error.code) && typeof error.message === 'string';
}
