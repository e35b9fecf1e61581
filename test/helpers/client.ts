import { request } from 'node:http';
import { createServer } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, type StreamableHTTPClientTransportOptions } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { recordOutput, recordSecret } from './secret-sweep.js';

/** A real SDK client connected over Streamable HTTP. */
export async function connectClient(
  url: string,
  headers: Record<string, string> = {},
  /** Another fetch, e.g. undici's with a dispatcher that presents a client certificate. */
  fetch?: StreamableHTTPClientTransportOptions['fetch'],
): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'warden-test-client', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers }, ...(fetch ? { fetch } : {}) });
  await client.connect(transport);
  return { client, transport };
}

/** An HTTP answer read to the end: the body as text, and as JSON when it is JSON. */
export interface HttpAnswer {
  status: number;
  headers: Headers;
  /** The parsed body, or undefined when the body is not JSON. */
  json: any;
  text: string;
}

/** `text` parsed as JSON, or undefined when it is not JSON. */
export function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export async function readAnswer(res: Response): Promise<HttpAnswer> {
  const text = await res.text();
  const json = parseJson(text);
  sweepAnswer(res.status, text, json);
  return { status: res.status, headers: res.headers, json, text };
}

/** For the no-secret sweep: secrets an answer hands out are remembered, error bodies are searched for them. */
export function sweepAnswer(status: number, text: string, json: any): void {
  if (status >= 400) recordOutput('HTTP error body', `${status} ${text}`);
  if (json && typeof json === 'object') {
    recordSecret('token', json.access_token);
    recordSecret('token', json.refresh_token);
    recordSecret('token', json.id_token);
    recordSecret('code', json.device_code);
    recordSecret('client_secret', json.client_secret);
    if (typeof json.key === 'string' && json.key.startsWith('wdn_')) recordSecret('api_key', json.key);
    recordSecret('password', json.password);
  }
}

/** POSTs raw JSON-RPC (or anything) to the gateway, for tests of malformed input. */
export async function postRaw(url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body,
  });
  return readAnswer(res);
}

export const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
} as const;

/** A JSON body, or the last `data:` line of an SSE body. */
export function mcpBody(text: string): any {
  const json = parseJson(text);
  if (json !== undefined) return json;
  const data = text.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).filter(Boolean);
  return data.length ? parseJson(data[data.length - 1]!) : undefined;
}

/** A raw `initialize`, with `token` as bearer when given; `marker` becomes the clientInfo name, so that an upstream's log can be searched for it. */
export async function initialize(url: string, token: string | undefined, marker = 'raw'): Promise<HttpAnswer> {
  const body = { ...INITIALIZE, params: { ...INITIALIZE.params, clientInfo: { name: marker, version: '1' } } };
  const res = await postRaw(url, JSON.stringify(body), token === undefined ? {} : { authorization: `Bearer ${token}` });
  return { ...res, json: res.json ?? mcpBody(res.text) };
}

/** initialize, notifications/initialized, then tools/call, all with the token; the tools/call answer (or the refused initialize). */
export async function callTool(url: string, token: string, name: string, args: Record<string, unknown> = {}): Promise<HttpAnswer & { init: HttpAnswer }> {
  const init = await initialize(url, token);
  if (init.status !== 200) return { ...init, init };
  const session = init.headers.get('mcp-session-id');
  const headers: Record<string, string> = {
    authorization: `Bearer ${token}`, 'mcp-protocol-version': '2025-06-18', ...(session ? { 'mcp-session-id': session } : {}),
  };
  await postRaw(url, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), headers);
  const res = await postRaw(url, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name, arguments: args } }), headers);
  return { ...res, json: res.json ?? mcpBody(res.text), init };
}

/** GETs a JSON endpoint of the gateway (/healthz, /readyz). */
export async function getJson(url: string): Promise<any> {
  return (await fetch(url)).json();
}

/** Sends a request with a raw path and headers exactly as given (fetch would normalize them). */
export function rawRequest(url: string, path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; json: any }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        const json = parseJson(text);
        sweepAnswer(res.statusCode!, text, json);
        resolve({ status: res.statusCode!, headers: res.headers, json });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A loopback port that was free a moment ago, for a server whose URL must be known before it starts. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Opens a session's GET stream (SSE) and keeps it open until `close()`: a session with one is busy, never idle. */
export async function openStream(url: string, sessionId: string, headers: Record<string, string> = {}): Promise<{ status: number; close(): Promise<void> }> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', 'mcp-session-id': sessionId, ...headers }, signal: abort.signal });
  return {
    status: res.status,
    close: async () => {
      abort.abort();
      await res.body?.cancel().catch(() => {});
      // The gateway sees the stream close a moment later.
      await new Promise((r) => setTimeout(r, 100));
    },
  };
}
