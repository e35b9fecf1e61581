import { randomUUID } from 'node:crypto';
import { basename, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import { AllowList, type AllowListSpec } from '../policy/index.js';
import { AuditChainWriter, AuditTrail, JsonlFileSink, auditInstance, type AuditSink } from '../audit/index.js';
import type { Store } from '../store/index.js';
import { ANONYMOUS } from '../shared/principal.js';
import { GatewayError, isGatewayError } from '../shared/errors.js';
import { createLogger } from '../shared/log.js';
import {
  errorResponse, gatewayErrorResponse, idKey, isJSONRPCRequest, isResponse,
  type JSONRPCMessage, type JSONRPCRequest,
} from '../shared/jsonrpc.js';
import { StdioChild, type ChildExit } from '../gateway/upstreams/stdio-child.js';
import { applyFilter, auditStep, authorize, committing, filter, type AnswerFilter, type Identified } from '../gateway/pipeline/index.js';

/** What `warden wrap` runs and how: the local scenario's stdio-in, stdio-out wrapper. */
export interface WrapOptions {
  /** The MCP server to run: program and arguments. */
  command: string[];
  /** Tool, resource and prompt patterns (`*`, `?`); a kind with no patterns is not restricted. */
  allow: AllowListSpec;
  /** Names of warden's own environment variables the child may see; no others reach it (not even PATH). */
  env: string[];
  /** Variables set for the child, on top of `env`. */
  setEnv: Record<string, string>;
  /** JSONL audit file (created 0600); no audit file when absent. */
  auditFile?: string;
  /** The store whose audit hash chain records are appended to (the gateway's, when they share one); not closed by the wrap. */
  store?: Pick<Store, 'audit'>;
  /** The upstream name in audit records; defaults to the basename of the program. */
  name?: string;
  cwd?: string;
}

export interface WrapIO {
  /** Where the MCP client's messages come from (warden's stdin). */
  stdin: Readable;
  /** Where the MCP client reads answers (warden's stdout): only JSON-RPC messages are ever written here. */
  stdout: Writable;
  /** Diagnostics: the child's stderr lines and warden's own messages. */
  stderr: Writable;
  /** Aborting it stops the child politely (stdin closed, then SIGTERM, then SIGKILL) and ends the wrap. */
  signal?: AbortSignal;
}

/** Exit codes, as every warden command uses them. */
export const WRAP_EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** Checks the options; returns the problem as a sentence, or undefined when they can run. */
export function wrapUsageProblem(options: Pick<WrapOptions, 'command' | 'env' | 'setEnv'>): string | undefined {
  if (options.command.length === 0 || !options.command[0]) {
    return 'wrap needs the MCP server to run after "--", e.g.: warden wrap --allow-tool echo -- /usr/bin/node server.js';
  }
  for (const name of [...options.env, ...Object.keys(options.setEnv)]) {
    if (!name || name.includes('=') || name.includes('\0')) return `not an environment variable name: "${name}"`;
  }
  return undefined;
}

/**
 * Runs an MCP server as a child and stands between it and the MCP client on stdio: every request is
 * decided against the allow-list and audited before it reaches the child; refused ones are answered here and
 * never reach it; list answers are filtered to what is allowed. Resolves with the exit code: the child's own
 * (a signal counts as 1), 1 when it could not start, 2 for bad options.
 */
export async function runWrap(options: WrapOptions, io: WrapIO): Promise<number> {
  const diag = (line: string) => {
    io.stderr.write(`warden: ${line}\n`);
  };
  const problem = wrapUsageProblem(options);
  if (problem) {
    diag(problem);
    return WRAP_EXIT.usage;
  }
  const program = options.command[0]!;
  const upstream = options.name ?? basename(program);
  const allowLists = new Map([[upstream, new AllowList(options.allow)]]);

  const sinks: AuditSink[] = [];
  if (options.auditFile) {
    try {
      sinks.push(new JsonlFileSink(resolve(options.auditFile))); // opened now, owner-only
    } catch (err) {
      diag(`cannot open the audit file ${resolve(options.auditFile)}: ${(err as Error).message}`);
      return WRAP_EXIT.failure;
    }
  }
  const sink = new AuditTrail(options.store ? new AuditChainWriter(options.store.audit) : undefined, sinks);
  // The gateway's own steps: decide on the allow-list, commit the records, filter list answers.
  const decide = authorize({ allowLists });
  const commit = committing(auditStep({ audit: sink, instance: auditInstance(), log: createLogger({ level: 'error', destination: io.stderr }) }));
  const answerFilter = filter({ allowLists });

  return new Promise<number>((resolveExit) => {
    const fromClient = new ReadBuffer();
    /** The filters of the client's list requests whose answers are still to come, by id (idKey). */
    const lists = new Map<string, AnswerFilter>();
    /**
     * The ids (idKey) of the client's requests in flight. A second request under one of them is refused: its
     * answer could not be told from the first one's, and a list answer could reach the client unfiltered.
     */
    const inFlight = new Set<string>();
    let chain: Promise<void> = Promise.resolve();
    let stopping = false;
    let finished = false;

    const toClient = (message: JSONRPCMessage) => {
      if (!io.stdout.writable) return;
      io.stdout.write(serializeMessage(message));
      // Flow control: a client that reads slowly slows the child down instead of filling memory.
      if (io.stdout.writableNeedDrain && child?.process.stdout) {
        const out = child.process.stdout;
        out.pause();
        io.stdout.once('drain', () => out.resume());
      }
    };

    let child: StdioChild | undefined;
    try {
      child = new StdioChild(
        { command: options.command, env: options.env, setEnv: options.setEnv, ...(options.cwd ? { cwd: options.cwd } : {}) },
        {
          onMessage: (message) => toClient(filterAnswer(message)),
          onDiagnostic: (line, stream) => {
            if (stream === 'stderr') io.stderr.write(`${line}\n`);
            else diag(`${upstream}: ${line}`);
          },
          onExit: (_why, exit) => void finish(exit),
        },
      );
    } catch (err) {
      // spawn throws synchronously for some bad arguments (e.g. a NUL byte); ENOENT arrives as an event.
      diag(`could not start "${program}": ${(err as Error).message}`);
      void closeSink().then(() => resolveExit(WRAP_EXIT.failure));
      return;
    }
    const proc = child.process;

    function filterAnswer(message: JSONRPCMessage): JSONRPCMessage {
      if (!isResponse(message)) return message;
      const key = idKey(message.id);
      inFlight.delete(key);
      if (lists.size === 0) return message;
      const answers = lists.get(key);
      if (answers === undefined) return message;
      lists.delete(key);
      return applyFilter(message, answers);
    }

    async function handleRequest(request: JSONRPCRequest): Promise<void> {
      if (inFlight.has(idKey(request.id))) {
        toClient(gatewayErrorResponse(request.id, new GatewayError('request_id_in_use', `Invalid Request: id ${JSON.stringify(request.id)} is already in use by a request in flight; give every request its own id`)));
        return;
      }
      inFlight.add(idKey(request.id));
      const requestId = randomUUID();
      const call: Identified = { requestId, upstream, messages: [request], action: request.method, principal: ANONYMOUS };
      let answers: AnswerFilter | undefined;
      try {
        answers = answerFilter(await commit(() => decide(call), requestId));
      } catch (err) {
        if (!isGatewayError(err)) throw err;
        // Refused, or (fail closed) not recorded: either way the request is not made.
        diag(err.code === 'internal_error' ? 'audit write failed, request refused' : `refused ${request.method}: ${err.message}`);
        inFlight.delete(idKey(request.id));
        toClient(gatewayErrorResponse(request.id, err));
        return;
      }
      if (answers) lists.set(idKey(request.id), answers);
      if (!toChild(request)) {
        lists.delete(idKey(request.id));
        inFlight.delete(idKey(request.id));
        toClient(gatewayErrorResponse(request.id, new GatewayError('upstream_unavailable', `The MCP server "${upstream}" is not running`)));
      }
    }

    function toChild(message: JSONRPCMessage): boolean {
      if (!child!.send(message)) return false;
      const input = proc.stdin;
      if (input?.writableNeedDrain && !io.stdin.isPaused()) {
        io.stdin.pause();
        input.once('drain', () => {
          if (!finished) io.stdin.resume();
        });
      }
      return true;
    }

    function handleClient(message: JSONRPCMessage): Promise<void> | void {
      if (isJSONRPCRequest(message)) return handleRequest(message);
      // Notifications and the client's answers to the server's own requests (sampling, roots, elicitation).
      toChild(message);
    }

    const onData = (chunk: Buffer) => {
      try {
        fromClient.append(chunk);
      } catch (err) {
        // Over the SDK's buffer limit without a newline: the buffer is dropped, the session goes on.
        diag(`input discarded: ${(err as Error).message}`);
        toClient(errorResponse(null, -32700, 'Parse error: message too large'));
        return;
      }
      for (;;) {
        let message: JSONRPCMessage | null;
        try {
          message = fromClient.readMessage();
        } catch (err) {
          const syntax = err instanceof SyntaxError;
          diag(`${syntax ? 'not JSON' : 'not a JSON-RPC message'} on stdin; answered with an error`);
          toClient(syntax
            ? errorResponse(null, -32700, 'Parse error: a line on stdin is not valid JSON')
            : errorResponse(null, -32600, 'Invalid Request: not a JSON-RPC 2.0 request, notification or response'));
          continue;
        }
        if (message === null) return;
        const m = message;
        // One chain keeps the client's order (initialize before notifications/initialized) across audit writes.
        chain = chain.then(() => handleClient(m)).catch((err: unknown) => diag(`internal error: ${(err as Error).message}`));
      }
    };

    const stop = () => {
      if (stopping) return;
      stopping = true;
      void chain.then(() => child!.stop());
    };
    const onEnd = () => stop();
    const onAbort = () => stop();
    const onStdoutError = () => stop(); // the client went away (EPIPE)

    io.stdin.on('data', onData);
    io.stdin.on('end', onEnd);
    io.stdin.on('error', onEnd);
    io.stdout.on('error', onStdoutError);
    if (io.signal?.aborted) stop();
    else io.signal?.addEventListener('abort', onAbort, { once: true });

    async function closeSink(): Promise<void> {
      await sink.close().catch(() => {});
    }

    async function finish(exit: ChildExit): Promise<void> {
      if (finished) return;
      finished = true;
      io.stdin.off('data', onData);
      io.stdin.off('end', onEnd);
      io.stdin.off('error', onEnd);
      io.stdin.pause();
      io.signal?.removeEventListener('abort', onAbort);
      await chain;
      await closeSink();
      io.stdout.off('error', onStdoutError);
      let code: number;
      if (exit.error) {
        diag(startFailure(program, exit.error));
        code = WRAP_EXIT.failure;
      } else if (exit.code !== null) {
        if (exit.code !== 0 && !stopping) diag(`${upstream} exited with code ${exit.code}`);
        code = exit.code;
      } else {
        if (!stopping) diag(`${upstream} was ended by ${exit.signal ?? 'a signal'}`);
        code = WRAP_EXIT.failure;
      }
      resolveExit(code);
    }
  });
}

function startFailure(program: string, err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT') {
    return `could not start "${program}": not found. The child sees only the variables named with --env, so PATH is ` +
      `not searched unless you pass it: use an absolute path (\`command -v ${basename(program)}\` shows it) or add --env PATH`;
  }
  if (err.code === 'EACCES') return `could not start "${program}": permission denied (is it executable?)`;
  return `could not start "${program}": ${err.message}`;
}
