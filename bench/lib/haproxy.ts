/** HAProxy (Debian's; .ci/run installs it) in front of several gateways, for the several-instances tests and bench. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';

const HAPROXY = process.env.HAPROXY_PATH ?? '/usr/sbin/haproxy';

export interface Backend {
  name: string;
  port: number;
}

/**
 * Starts HAProxy on 127.0.0.1:`port` with round-robin over `backends`, health checks on /readyz, and retries
 * that move a request to another instance when one refuses the connection, drops the request without an
 * answer (what `kill -9` does to the requests it had) or answers 503 (draining). Resolves once it listens.
 */
export async function startHaproxy(configFile: string, port: number, backends: readonly Backend[]): Promise<ChildProcess> {
  writeFileSync(configFile, [
    'global',
    '  maxconn 4096',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  retries 3',
    '  option redispatch 1',
    // The gateway's 503s (shutting_down while it drains, shared_state_unavailable, too_many_sessions) all come
    // before any work is done: another instance may take the request.
    '  retry-on conn-failure empty-response response-timeout 503',
    'frontend mcp',
    `  bind 127.0.0.1:${port}`,
    '  default_backend gateways',
    'backend gateways',
    '  balance roundrobin',
    '  option httpchk',
    // HTTP/1.1 with the public Host: the gateway refuses requests for hosts it does not serve.
    `  http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host 127.0.0.1:${port}`,
    '  default-server inter 300ms fall 2 rise 2',
    ...backends.map((b) => `  server ${b.name} 127.0.0.1:${b.port} check`),
    '',
  ].join('\n'));
  const child = spawn(HAPROXY, ['-f', configFile, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new Error(`cannot start ${HAPROXY} (${err.message}); install Debian's haproxy (.ci/run does)`)));
    child.once('exit', (code) => reject(new Error(`haproxy exited (${code}): ${stderr}`)));
  });
  exited.catch(() => {});
  const deadline = Date.now() + 5_000;
  while (!(await Promise.race([exited, canConnect(port)]))) {
    if (Date.now() > deadline) throw new Error(`haproxy did not listen on ${port} within 5 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
