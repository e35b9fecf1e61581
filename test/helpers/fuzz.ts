/**
 * Random malformed HTTP/JSON-RPC requests for the fuzz test, from a seeded PRNG so that a failing run can be
 * replayed exactly (FUZZ_SEED). Everything is bounded in size; nothing here sends anything.
 */

/** mulberry32: small, fast, and the same sequence on every platform for a seed. */
export function prng(seed: number): Random {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (items) => items[Math.floor(next() * items.length)]!,
    chance: (p) => next() < p,
  };
}

export interface Random {
  next(): number;
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

export interface FuzzRequest {
  /** Raw bytes on a fresh socket (not HTTP at all, or broken HTTP), instead of a request through the agent. */
  raw?: Buffer;
  method: string;
  path: string;
  /** Header values as sent; an array sends the header several times. */
  headers: Record<string, string | string[]>;
  body?: Buffer;
  /**
   * `short`: the declared Content-Length is smaller than the body (the rest arrives as a broken next request);
   * `starves`: it is larger (the gateway waits for the rest until requestTimeout). Either spoils its connection.
   */
  framing: 'ok' | 'short' | 'starves';
}

export interface FuzzContext {
  /** A valid API key, for the share of requests that must get past authentication. */
  key: string;
  host: string;
  /** The MCP endpoint paths most requests aim at. */
  endpoints: readonly string[];
}

const printable = (r: Random, max: number) => {
  let s = '';
  const n = r.int(0, max);
  for (let i = 0; i < n; i++) s += String.fromCharCode(r.int(0x20, 0x7e));
  return s;
};

const junkToken = (r: Random) => printable(r, 40).replace(/[^\x21-\x7e]/g, '');

function randomBytes(r: Random, max: number): Buffer {
  const b = Buffer.alloc(r.int(0, max));
  for (let i = 0; i < b.length; i++) b[i] = r.int(0, 255);
  return b;
}

const METHODS = ['tools/call', 'tools/list', 'resources/read', 'resources/list', 'resources/templates/list', 'prompts/get', 'prompts/list', 'initialize', 'ping', 'completion/complete', 'logging/setLevel', 'notifications/initialized', 'notifications/cancelled', 'sampling/createMessage', '', 'x'.repeat(300), 'tools/call\u0000', '__proto__', 'constructor'];
const TOOLS = ['echo', 'secret_tool', 'slow', 'nope', '', '../echo', 'ECHO', 'echo\u0000', '*'];
const URIS = ['test://readme', 'test://../readme', 'test://%2e%2e/readme', 'file:///etc/passwd', 'test://README', '', '::::', 'test://readme#x', 'http://127.0.0.1:1/x'];

/** A JSON value of random shape, bounded in size. */
function value(r: Random, depth = 0): unknown {
  switch (r.int(0, depth > 3 ? 5 : 8)) {
    case 0: return null;
    case 1: return r.chance(0.5);
    case 2: return r.pick([0, -1, 1e308, -1e-308, 2 ** 53 + 1, 0.1, Number.MAX_SAFE_INTEGER]);
    case 3: return printable(r, 30);
    case 4: return r.pick(['', '\u0000', '\ud800', '\u202e', '${ENV}', '<script>', 'wdn_', '../../']);
    case 5: return r.int(-5, 5);
    case 6: return Array.from({ length: r.int(0, 4) }, () => value(r, depth + 1));
    default: return Object.fromEntries(Array.from({ length: r.int(0, 4) }, () => [r.pick(['a', '_meta', 'name', 'arguments', 'uri', '__proto__', 'progressToken', printable(r, 8)]), value(r, depth + 1)]));
  }
}

function id(r: Random): unknown {
  return r.pick<unknown>([1, 0, -1, 'a', '', null, 1.5, 2 ** 64, '1', { x: 1 }, [1], true, r.int(0, 1e9)]);
}

/** A message with a JSON-RPC shape: valid, nearly valid, or valid with random params. */
function message(r: Random): unknown {
  const method = r.pick(METHODS);
  const params: unknown = method === 'tools/call'
    ? r.chance(0.7) ? { name: r.pick(TOOLS), arguments: r.chance(0.8) ? { text: value(r) } : value(r), ...(r.chance(0.2) ? { _meta: value(r) } : {}) } : value(r)
    : method === 'resources/read' ? { uri: r.chance(0.8) ? r.pick(URIS) : value(r) }
      : method === 'initialize' ? { protocolVersion: r.pick(['2025-06-18', '2025-11-25', '2026-07-28', '1999-01-01', value(r)]), capabilities: value(r), clientInfo: { name: 'fuzz', version: '1' } }
        : value(r);
  const m: Record<string, unknown> = { jsonrpc: r.chance(0.9) ? '2.0' : r.pick(['1.0', 2, '', null]) };
  if (r.chance(0.85)) m.id = id(r);
  if (r.chance(0.95)) m.method = method;
  if (r.chance(0.8)) m.params = params;
  if (r.chance(0.05)) m.result = value(r);
  if (r.chance(0.05)) m.error = { code: r.int(-33000, 0), message: printable(r, 20) };
  return m;
}

/** A body: JSON-RPC (valid or not), broken JSON, deep nesting, huge numbers, random bytes, batches. */
function body(r: Random): string | Buffer {
  switch (r.int(0, 11)) {
    case 0: return randomBytes(r, 512);
    case 1: { const s = JSON.stringify(message(r)); return s.slice(0, r.int(0, s.length)); } // truncated
    case 2: { const d = r.pick([10, 63, 64, 65, 1_000, 100_000]); const open = r.pick(['[', '{"a":']); return open.repeat(d) + (open === '[' ? ']' : '}').repeat(r.chance(0.5) ? d : 0); }
    case 3: return `{"jsonrpc":"2.0","id":${r.pick(['1e999999', '-0', '123456789012345678901234567890', '1.0e+400', '0x10', 'NaN', 'Infinity'])},"method":"ping"}`;
    case 4: return Array.from({ length: r.int(0, 40) }, () => message(r)).reduce<string>((s, m, i) => s + (i ? ',' : '[') + JSON.stringify(m), '') + ']';
    case 5: return `{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"tools/list","params":{"name":"echo","name":"secret_tool","arguments":{"text":"x"}}}`; // duplicate keys
    case 6: return `\ufeff${JSON.stringify(message(r))}`;
    case 7: return JSON.stringify(value(r));
    case 8: return r.pick(['', ' ', 'null', '[]', '{}', '"x"', '[[]]', '[null]', '{"jsonrpc":"2.0"}', '\u0000']);
    default: return JSON.stringify(message(r));
  }
}

function path(r: Random, ctx: FuzzContext): string {
  const base = r.chance(0.75) ? r.pick(ctx.endpoints) : r.pick([
    '/', '/healthz', '/readyz', '/metrics', '/mcp', '/mcp/', '/mcp/nope', '/mcp/web/../web', '/mcp/%77eb', '/mcp//web', '/.well-known/oauth-protected-resource/mcp/web',
    '/.well-known/jwks.json', '/.well-known/oauth-authorization-server', '/oauth/token', '/admin', '/admin/api/keys', `/${printable(r, 30).replace(/[\s#?]/g, '')}`,
    `/mcp/${'a'.repeat(r.int(1, 3000))}`, '/%', '/%zz', '*',
  ]);
  return r.chance(0.1) ? `${base}?${r.pick(['access_token=x', 'a=1', 'key=wdn_x', `x=${printable(r, 20).replace(/[\s#]/g, '')}`, '%%', ''])}` : base;
}

function authorization(r: Random, ctx: FuzzContext): string | string[] | undefined {
  switch (r.int(0, 9)) {
    case 0: return undefined;
    case 1: return `Bearer ${junkToken(r)}`;
    case 2: return r.pick(['Bearer', 'Bearer ', 'Basic Zm9vOmJhcg==', 'bearer  x', `Bearer ${ctx.key}x`, `Bearer ${ctx.key.slice(0, -1)}`, `Bearer wdn_${'A'.repeat(61)}`, 'Bearer aaa.bbb.ccc', 'Bearer eyJhbGciOiJub25lIn0.e30.', 'DPoP x', printable(r, 60)]);
    case 3: return [`Bearer ${ctx.key}`, `Bearer ${junkToken(r)}`];
    default: return `Bearer ${ctx.key}`;
  }
}

export function fuzzRequest(r: Random, ctx: FuzzContext): FuzzRequest {
  if (r.chance(0.02)) {
    // Not HTTP, or HTTP broken at the framing level: the server's parser answers (400) or closes.
    const raw = r.pick([
      () => randomBytes(r, 300),
      () => Buffer.from(`POST /mcp/web HTTP/1.1\r\nHost: ${ctx.host}\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`),
      () => Buffer.from(`POST /mcp/web HTTP/1.1\r\nHost: ${ctx.host}\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}`),
      () => Buffer.from(`GET /healthz HTTP/9.9\r\nHost: ${ctx.host}\r\n\r\n`),
      () => Buffer.from(`POST /mcp/web HTTP/1.1\r\nHost: ${ctx.host}\r\nX: ${'a'.repeat(20_000)}\r\n\r\n`),
      () => Buffer.from(`${printable(r, 10)} ${printable(r, 30)} HTTP/1.1\r\n\r\n`),
    ])();
    return { raw, method: 'RAW', path: '', headers: {}, framing: 'ok' };
  }
  const method = r.chance(0.75) ? 'POST' : r.pick(['GET', 'DELETE', 'PUT', 'OPTIONS', 'HEAD', 'PATCH', 'TRACE', 'FUZZ']);
  const headers: Record<string, string | string[]> = { host: r.chance(0.97) ? ctx.host : r.pick(['evil.example', '', `${ctx.host}.evil`, 'localhost']) };
  const auth = authorization(r, ctx);
  if (auth !== undefined) headers.authorization = auth;
  headers['content-type'] = r.chance(0.8) ? 'application/json' : r.pick(['text/plain', 'application/json; charset=utf-16', 'application/jsonx', 'multipart/form-data; boundary=x', '', printable(r, 30)]);
  if (r.chance(0.8)) headers.accept = r.pick(['application/json, text/event-stream', 'text/event-stream', 'application/json', '*/*', printable(r, 20)]);
  if (r.chance(0.15)) headers['mcp-session-id'] = r.pick(['', 'made-up', junkToken(r), 'a'.repeat(1000)]);
  if (r.chance(0.15)) headers['mcp-protocol-version'] = r.pick(['2025-06-18', '2025-11-25', '2026-07-28', 'nope', '']);
  if (r.chance(0.1)) headers['mcp-method'] = r.pick(['tools/call', 'ping', printable(r, 10)]);
  if (r.chance(0.05)) headers['mcp-name'] = printable(r, 10);
  if (r.chance(0.1)) headers.origin = r.pick(['http://evil.example', 'null', `http://${ctx.host}`, '']);
  if (r.chance(0.05)) headers['last-event-id'] = printable(r, 20);
  if (r.chance(0.05)) headers['x-request-id'] = printable(r, 200);
  if (r.chance(0.05)) headers['x-warden-identity'] = junkToken(r);
  if (r.chance(0.03)) headers['x-forwarded-for'] = printable(r, 40);
  const made = method === 'GET' || method === 'HEAD' ? undefined : body(r);
  let sent = made === undefined || Buffer.isBuffer(made) ? made : Buffer.from(made);
  if (sent && r.chance(0.01)) sent = Buffer.alloc(r.int(1_048_577, 1_100_000), 0x20); // over http.maxBodyBytes
  let framing: FuzzRequest['framing'] = 'ok';
  if (sent) {
    // Always declared (Node's client would send a DELETE's or OPTIONS' body unframed), and sometimes a lie.
    let length = sent.length;
    if (r.chance(0.08)) {
      framing = r.chance(0.85) ? 'short' : 'starves';
      length = framing === 'short' ? r.int(0, sent.length - 1) : sent.length + r.int(1, 100);
    }
    headers['content-length'] = String(length);
  }
  return { method, path: path(r, ctx), headers, ...(sent ? { body: sent } : {}), framing };
}

/** For a report: the request without the API key (never print a secret), its body cut short. */
export function describe(req: FuzzRequest, key: string): string {
  const hide = (s: string) => s.split(key).join('<valid key>');
  if (req.raw) return `RAW ${JSON.stringify(hide(req.raw.subarray(0, 200).toString('latin1')))}`;
  const body = req.body ? ` body(${req.body.length}B)=${JSON.stringify(hide(req.body.subarray(0, 300).toString('utf8')))}` : '';
  return `${req.method} ${hide(req.path).slice(0, 200)} ${hide(JSON.stringify(req.headers)).slice(0, 500)}${body}`;
}
