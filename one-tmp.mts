import { configSchema } from './src/config/index.js';
import { startGateway } from './src/gateway/index.js';
import { createLogger } from './src/shared/log.js';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
const require = createRequire(import.meta.url);
const EVERYTHING = fileURLToPath(new URL('./dist/index.js', `file://${require.resolve('@modelcontextprotocol/server-everything/package.json')}`));
const gw = await startGateway(configSchema.parse({ listen: { host: '127.0.0.1', port: 0 }, log: { level: 'error' }, audit: { store: false }, upstreams: { stdio: { command: [process.execPath, EVERYTHING, 'stdio'], env: ['PATH','HOME'] } } }), { log: createLogger({ level: 'error' }) });
for (let i = 0; i < 3; i++) {
  const t0 = Date.now();
  const out = await new Promise<string>((resolve) => execFile(process.execPath, ['--import', './bench/conformance/node20.mjs', require.resolve('@modelcontextprotocol/conformance/dist/index.js'), 'server', '--url', `${gw.url}/mcp/stdio`, '--scenario', 'server-sse-multiple-streams', '--timeout', '8000'], (e, so) => resolve(so)));
  console.error(`RUN ${i}: ${Date.now() - t0} ms ${out.match(/Passed: .*/)?.[0]}`);
}
await gw.close();
