import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { configSchema, isLoopbackHost, type WardenConfig } from '../config/index.js';

export const DEMO_ALLOWED_TOOLS = ['add_note', 'list_notes', 'search_notes', 'get_note', 'count_slowly'];

/**
 * The configuration `warden demo` runs: the bundled notes server as a stdio upstream, loopback only,
 * every tool but `delete_note` allowed, audit records chained in ./.warden/demo.db and in ./.warden/demo-audit.jsonl.
 * The demo has no authentication, so another host is refused here too (the CLI says so before it gets here).
 */
export function demoConfig(options: { port: number; dataDir: string; host?: string; maxSessions?: number }): WardenConfig {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) throw new Error(`the demo runs with auth: none and listens on loopback only, not on ${host}`);
  const server = fileURLToPath(new URL('./notes-server.js', import.meta.url));
  return configSchema.parse({
    scenario: 'local',
    listen: { host, port: options.port },
    http: { allowedOrigins: ['http://localhost:6274', 'http://127.0.0.1:6274'] },
    store: { sqlite: resolve(options.dataDir, 'demo.db') },
    audit: { file: resolve(options.dataDir, 'demo-audit.jsonl'), log: false },
    log: { level: 'warn' },
    upstreams: {
      notes: {
        command: [process.execPath, server],
        setEnv: { WARDEN_DEMO_NOTES: resolve(options.dataDir, 'demo-notes.json') },
        allow: { tools: DEMO_ALLOWED_TOOLS },
        // With auth: none all callers are one principal, so a new session ends the least recently used
        // idle one at the cap: demo clients that never end their sessions (most do not) do not lock it.
        sessions: { max: options.maxSessions ?? 32 },
      },
    },
  });
}
