import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { configSchema, type WardenConfig } from '../config/index.js';

export const DEMO_ALLOWED_TOOLS = ['add_note', 'list_notes', 'search_notes', 'get_note', 'count_slowly'];

/**
 * The configuration `warden demo` runs: the bundled notes server as a stdio upstream, loopback only,
 * every tool but `delete_note` allowed, audit records chained in ./.warden/demo.db and in ./.warden/demo-audit.jsonl.
 */
export function demoConfig(options: { port: number; dataDir: string }): WardenConfig {
  const server = fileURLToPath(new URL('./notes-server.js', import.meta.url));
  return configSchema.parse({
    scenario: 'local',
    listen: { host: '127.0.0.1', port: options.port },
    http: { allowedOrigins: ['http://localhost:6274', 'http://127.0.0.1:6274'] },
    store: { sqlite: resolve(options.dataDir, 'demo.db') },
    audit: { file: resolve(options.dataDir, 'demo-audit.jsonl'), log: false },
    log: { level: 'warn' },
    upstreams: {
      notes: {
        command: [process.execPath, server],
        setEnv: { WARDEN_DEMO_NOTES: resolve(options.dataDir, 'demo-notes.json') },
        allow: { tools: DEMO_ALLOWED_TOOLS },
      },
    },
  });
}
