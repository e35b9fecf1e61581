import { InvalidArgumentError, type Command } from 'commander';
import { withLogOptions, type LogOptions } from '../log-options.js';
import { resolve } from 'node:path';
import { isLoopbackHost } from '../../config/index.js';

interface DemoOptions {
  port: number;
  host: string;
  maxSessions: number;
  dataDir: string;
  json?: boolean;
}

export function registerDemo(program: Command): void {
  withLogOptions(program
    .command('demo'))
    .description('run the gateway on loopback in front of the bundled demo notes server')
    .option('-p, --port <port>', 'port to listen on (0 picks a free one)', parsePort, 8787)
    .option('--host <host>', 'loopback address to listen on: 127.0.0.1, ::1 or localhost', parseHost, '127.0.0.1')
    .option('--max-sessions <n>', 'live demo server processes at most (one per MCP session)', parseMaxSessions, 32)
    .option('--data-dir <dir>', 'where demo notes and audit records are kept', '.warden')
    .option('--json', 'print the endpoint as JSON instead of the guide')
    .action(async (opts: DemoOptions & LogOptions) => {
      const { demoConfig, DEMO_ALLOWED_TOOLS } = await import('../../demo/config.js');
      const { runGateway } = await import('../run-gateway.js');
      const dataDir = resolve(opts.dataDir);
      const config = demoConfig({ port: opts.port, host: opts.host, maxSessions: opts.maxSessions, dataDir });
      const { gateway } = await runGateway(config, new Set(), opts);
      const url = `${gateway.url.replace('127.0.0.1', 'localhost')}/mcp`;
      const auditFile = config.audit.file!;
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ url, upstream: 'notes', auditFile, allowedTools: DEMO_ALLOWED_TOOLS })}\n`);
        return;
      }
      process.stdout.write(guide(url, auditFile, 'sqlite' in config.store ? config.store.sqlite : '', DEMO_ALLOWED_TOOLS));
    });
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new InvalidArgumentError('expected a port number 0-65535');
  return n;
}

/** The demo runs with auth: none, so anyone who reached a non-loopback address could call its tools. */
function parseHost(v: string): string {
  if (!isLoopbackHost(v)) {
    throw new InvalidArgumentError(
      'the demo runs without authentication (auth: none), so it listens on loopback only (127.0.0.1, ::1 or localhost); '
      + 'to serve other machines, run `warden serve` with a config that turns on auth, e.g. auth: { apiKeys: {} }',
    );
  }
  return v;
}

function parseMaxSessions(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 10_000) throw new InvalidArgumentError('expected a whole number of sessions, 1-10000');
  return n;
}

function guide(url: string, auditFile: string, storeFile: string, allowedTools: string[]): string {
  return `
  mcp-warden demo: the gateway is running in front of the bundled notes server.

  MCP endpoint   ${url}   (Streamable HTTP, loopback only, no auth: the local scenario)
  Tools allowed  ${allowedTools.join(', ')}
                 (delete_note exists upstream, but the allow-list hides it and refuses calls to it)
  Audit records  warden audit tail --follow --store ${storeFile}
                 warden audit verify --store ${storeFile}   (the hash chain is intact)
                 and as JSON lines in ${auditFile}
                 (without a global install: npx mcp-warden audit ...; in a clone: npx warden audit ...)

  Connect with:
    MCP Inspector   npx @modelcontextprotocol/inspector@0.16.8   (later releases do not run on Node 20)
                    then Transport Type "Streamable HTTP", URL ${url}, Connect
    Inspector CLI   npx @modelcontextprotocol/inspector@0.16.8 --cli ${url} --transport http --method tools/list
    Claude Code     claude mcp add --transport http warden-demo ${url}
    Cursor          ~/.cursor/mcp.json:  { "mcpServers": { "warden-demo": { "url": "${url}" } } }
    Claude Desktop  claude_desktop_config.json (Desktop speaks stdio, mcp-remote bridges):
                    { "mcpServers": { "warden-demo": { "command": "npx", "args": ["-y", "mcp-remote", "${url}"] } } }

  Press Ctrl+C to stop.
`;
}
