import type { UpstreamConfig } from '../config/index.js';
import type { Logger } from '../shared/log.js';
import { StdioChild } from './upstreams/stdio-child.js';
import type { JSONRPCMessage } from '../shared/jsonrpc.js';

/**
 * The tools each upstream lists now, for the admin console's "what each scope opens". Asked directly (not
 * through the pipeline: no caller), with the gateway's own credential for HTTP upstreams and, for stdio ones,
 * a short-lived child started exactly as sessions start them (only the named environment). Answers are kept
 * for a minute: the page must not start a child per view.
 */

const TTL_MS = 60_000;
const TIMEOUT_MS = 10_000;
const PROTOCOL = '2025-06-18';
const INIT = { jsonrpc: '2.0' as const, id: 1, method: 'initialize', params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'warden-admin', version: '1' } } };
const INITIALIZED = { jsonrpc: '2.0' as const, method: 'notifications/initialized' };
const LIST = (id: number, cursor?: string) => ({ jsonrpc: '2.0' as const, id, method: 'tools/list', params: cursor ? { cursor } : {} });
const MAX_PAGES = 20;

export type ToolLists = Record<string, string[] | { error: string }>;

export function liveToolLister(upstreams: Record<string, UpstreamConfig>, log: Logger): () => Promise<ToolLists> {
  let cached: { at: number; lists: Promise<ToolLists> } | undefined;
  return () => {
    if (!cached || Date.now() - cached.at > TTL_MS) {
      cached = { at: Date.now(), lists: listAll(upstreams, log) };
    }
    return cached.lists;
  };
}

async function listAll(upstreams: Record<string, UpstreamConfig>, log: Logger): Promise<ToolLists> {
  const entries = await Promise.all(Object.entries(upstreams).map(async ([name, u]) => {
    try {
      return [name, u.url ? await httpTools(u.url, u.headers ?? {}) : await stdioTools(u)] as const;
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log.warn({ upstream: name, err: error }, 'could not list the upstream\'s tools for the admin console');
      return [name, { error: error.slice(0, 200) }] as const;
    }
  }));
  return Object.fromEntries(entries);
}

function names(result: unknown): { tools: string[]; next?: string } {
  const r = result as { tools?: { name?: unknown }[]; nextCursor?: unknown } | undefined;
  const tools = (r?.tools ?? []).map((t) => t.name).filter((n): n is string => typeof n === 'string');
  return { tools, ...(typeof r?.nextCursor === 'string' ? { next: r.nextCursor } : {}) };
}

async function httpTools(url: string, headers: Record<string, string>): Promise<string[]> {
  let session: string | undefined;
  const post = async (message: object): Promise<unknown> => {
    const res = await fetch(url, {
      method: 'POST',
      signal: AbortSignal.timeout(TIMEOUT_MS),
      headers: { ...headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': PROTOCOL, ...(session ? { 'mcp-session-id': session } : {}) },
      body: JSON.stringify(message),
    });
    session = res.headers.get('mcp-session-id') ?? session;
    const text = await res.text();
    if (!res.ok) throw new Error(`the upstream answered ${res.status}`);
    if (!('id' in message)) return undefined;
    const json = (res.headers.get('content-type') ?? '').includes('text/event-stream')
      ? text.split('\n').filter((l) => l.startsWith('data:')).map((l) => JSON.parse(l.slice(5)) as { id?: unknown; result?: unknown }).find((m) => m.id === (message as { id: unknown }).id)
      : (JSON.parse(text) as { result?: unknown });
    return json?.result;
  };
  await post(INIT);
  await post(INITIALIZED);
  const tools: string[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < MAX_PAGES; i++) {
    const page = names(await post(LIST(2 + i, cursor)));
    tools.push(...page.tools);
    if (!(cursor = page.next)) break;
  }
  if (session) await fetch(url, { method: 'DELETE', headers: { ...headers, 'mcp-session-id': session }, signal: AbortSignal.timeout(TIMEOUT_MS) }).catch(() => {});
  return tools;
}

function stdioTools(u: UpstreamConfig): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const tools: string[] = [];
    let page = 0;
    const timer = setTimeout(() => finish(new Error(`no tool list within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    const child = new StdioChild({ command: u.command!, ...(u.cwd ? { cwd: u.cwd } : {}), env: u.env, setEnv: u.setEnv }, {
      onMessage: (m: JSONRPCMessage) => {
        if (!('id' in m) || !('result' in m)) return;
        if (m.id === 1) {
          child.send(INITIALIZED);
          child.send(LIST(2));
          return;
        }
        const listed = names(m.result);
        tools.push(...listed.tools);
        if (listed.next && ++page < MAX_PAGES) child.send(LIST(2 + page, listed.next));
        else finish();
      },
      onDiagnostic: () => {},
      onExit: (why) => finish(new Error(`the child exited: ${why}`)),
    });
    let done = false;
    function finish(err?: Error): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      void child.stop();
      if (err) reject(err);
      else resolve(tools);
    }
    child.send(INIT);
  });
}
