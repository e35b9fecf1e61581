import { spawn, type ChildProcess } from 'node:child_process';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { JSONRPCMessage } from '../../shared/jsonrpc.js';

export interface ChildSpec {
  command: string[];
  cwd?: string;
  /** Names of the gateway's own variables the child may see; no others are passed. */
  env: string[];
  setEnv: Record<string, string>;
}

export interface ChildHandlers {
  onMessage(message: JSONRPCMessage): void;
  /** A line the child wrote to stderr, or a line of stdout that was not a JSON-RPC message. */
  onDiagnostic(line: string, stream: 'stderr' | 'stdout'): void;
  onExit(description: string, exit: ChildExit): void;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the program could not be started at all. */
  error?: NodeJS.ErrnoException;
}

/** After 'exit', how long to wait for stdout to drain ('close') before reporting the end anyway. */
const CLOSE_AFTER_EXIT_MS = 1000;

/** The environment a child gets: exactly the named variables, plus those set in the config. */
export function childEnvironment(spec: Pick<ChildSpec, 'env' | 'setEnv'>, from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of spec.env) {
    const value = from[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...spec.setEnv };
}

/**
 * An MCP server as a child process speaking newline-delimited JSON-RPC on stdin/stdout (the MCP stdio
 * transport). Framing comes from the SDK, so the gateway reads exactly what SDK servers write.
 */
export class StdioChild {
  readonly process: ChildProcess;
  private readonly buffer = new ReadBuffer();
  private exited = false;
  private stderrTail = '';

  constructor(spec: ChildSpec, private readonly handlers: ChildHandlers) {
    const [program, ...args] = spec.command;
    this.process = spawn(program!, args, {
      cwd: spec.cwd,
      env: childEnvironment(spec),
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
    this.process.on('error', (error: NodeJS.ErrnoException) => {
      const hint = error.code === 'ENOENT'
        ? `: "${program}" was not found; use an absolute path, or pass PATH to the child`
        : `: ${error.message}`;
      this.finish(`could not start${hint}`, { code: null, signal: null, error });
    });
    // 'close' comes once stdout is drained, so the child's last answer is read before the end is reported;
    // a grandchild holding stdout open must not delay it forever, hence the fallback after 'exit'.
    const report = (code: number | null, signal: NodeJS.Signals | null) =>
      this.finish(signal ? `exited on ${signal}` : `exited with code ${code}`, { code, signal });
    this.process.on('close', report);
    this.process.on('exit', (code, signal) => setTimeout(() => report(code, signal), CLOSE_AFTER_EXIT_MS).unref());
    this.process.stdin!.on('error', () => {}); // EPIPE when the child dies first; 'exit' reports it
    this.process.stdout!.on('data', (chunk: Buffer) => this.read(chunk));
    this.process.stderr!.on('data', (chunk: Buffer) => this.readStderr(chunk));
  }

  get alive(): boolean {
    return !this.exited;
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  send(message: JSONRPCMessage): boolean {
    if (this.exited || !this.process.stdin!.writable) return false;
    this.process.stdin!.write(serializeMessage(message));
    return true;
  }

  /** Closes stdin (the polite MCP shutdown), then escalates to SIGTERM and SIGKILL. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.stdin!.end();
    const term = setTimeout(() => this.process.kill('SIGTERM'), graceMs);
    const kill = setTimeout(() => this.process.kill('SIGKILL'), graceMs * 2);
    await exited;
    clearTimeout(term);
    clearTimeout(kill);
  }

  private read(chunk: Buffer): void {
    try {
      this.buffer.append(chunk);
    } catch (err) {
      // Over the SDK's line limit: what was buffered is useless. Report and keep the process alive.
      this.buffer.clear();
      this.handlers.onDiagnostic(`dropped an oversized stdout line (${(err as Error).message.slice(0, 200)})`, 'stdout');
      return;
    }
    for (;;) {
      let message: JSONRPCMessage | null;
      try {
        message = this.buffer.readMessage();
      } catch (err) {
        // A line that is not JSON-RPC: servers sometimes print to stdout by mistake. Report, do not die.
        this.handlers.onDiagnostic(`not a JSON-RPC message on stdout (${(err as Error).message.slice(0, 200)})`, 'stdout');
        continue;
      }
      if (message === null) return;
      this.handlers.onMessage(message);
    }
  }

  private readStderr(chunk: Buffer): void {
    const text = this.stderrTail + chunk.toString('utf8');
    const lines = text.split('\n');
    this.stderrTail = lines.pop() ?? '';
    if (this.stderrTail.length > 8192) {
      lines.push(this.stderrTail);
      this.stderrTail = '';
    }
    for (const line of lines) if (line.trim()) this.handlers.onDiagnostic(line.trimEnd(), 'stderr');
  }

  private finish(description: string, exit: ChildExit): void {
    if (this.exited) return;
    this.exited = true;
    if (this.stderrTail.trim()) this.handlers.onDiagnostic(this.stderrTail.trimEnd(), 'stderr');
    this.handlers.onExit(description, exit);
  }
}
