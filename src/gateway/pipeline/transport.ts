import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, isGatewayError } from '../../shared/errors.js';
import { parseJsonRpcBody, type BodyLimits } from '../../shared/jsonrpc.js';
import { eraOf } from '../../shared/protocol-era.js';
import { checkOrigin, corsHeaders, type OriginPolicy } from '../guards.js';
import type { HttpCall } from './stage.js';
import type { Finished } from './after.js';
import { soleRequestId } from '../respond.js';

export interface TransportParts {
  originPolicy: OriginPolicy;
  maxBodyBytes: number;
  bodyLimits: BodyLimits;
  /** Client address of a request (with the configured proxy hops). */
  clientIp(req: IncomingMessage): string;
}

/** Where the router sent the request: the upstream and the resource URL of the endpoint. */
export interface Endpoint {
  upstream: string;
  resource: string;
}

/** `finished` learns, as soon as each is known, what an error answer carries (CORS headers, the request's id). */
export type TransportStep = (req: IncomingMessage, res: ServerResponse, endpoint: Endpoint, finished: Finished) => HttpCall;

/** The second half of step 1, run once the caller is known: reads and parses the body. */
export type ReadStep = <C extends HttpCall>(call: C, finished: Finished) => Promise<C>;

/**
 * Step 1: bounds the request. The Origin (DNS rebinding; the Host was checked at the edge), the method, the
 * media type and the declared body size are checked from the headers alone; the body is read and parsed as
 * JSON-RPC only after authentication (`readMessages`), so a stranger cannot make the gateway buffer and
 * parse anything. Its refusals are not audited: there is no call to record yet, and a flood of garbage must
 * not grow the audit chain.
 */
export function transport(parts: TransportParts): TransportStep {
  return (req, res, endpoint, finished) => {
    const { requestId, trace } = finished;
    const origin = checkOrigin(req, parts.originPolicy);
    const responseHeaders = { ...corsHeaders(origin), 'x-request-id': requestId };
    finished.answerHeaders = responseHeaders;
    finished.ip = parts.clientIp(req);
    const method = req.method;
    if (method !== 'POST' && method !== 'GET' && method !== 'DELETE') {
      res.setHeader('allow', 'GET, POST, DELETE');
      throw new GatewayError('method_not_allowed', 'Method not allowed: MCP endpoints take POST, GET and DELETE');
    }
    if (method === 'POST') {
      const type = req.headers['content-type'] ?? '';
      if (!/^application\/json\b/i.test(type)) {
        throw new GatewayError('unsupported_media_type', 'Unsupported Media Type: POST a JSON-RPC message with Content-Type: application/json');
      }
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > parts.maxBodyBytes) throw tooLargeAndClose(res, parts.maxBodyBytes);
    }
    const session = req.headers['mcp-session-id'];
    const userAgent = req.headers['user-agent'];
    return {
      req, res, method, requestId, trace,
      upstream: endpoint.upstream,
      resource: endpoint.resource,
      messages: [],
      batch: false,
      era: 'legacy',
      action: `HTTP ${method}`,
      sessionId: typeof session === 'string' && session !== '' ? session : undefined,
      ip: finished.ip,
      ...(userAgent ? { userAgent } : {}),
      responseHeaders,
    };
  };
}

export function readMessages(parts: TransportParts): ReadStep {
  return async (call, finished) => {
    if (call.method !== 'POST') return call;
    let body: Buffer;
    try {
      body = await readBody(call.req, parts.maxBodyBytes);
    } catch (err) {
      if (isGatewayError(err) && err.code === 'payload_too_large') throw tooLargeAndClose(call.res, parts.maxBodyBytes);
      throw err;
    }
    const parsed = parseJsonRpcBody(body, parts.bodyLimits);
    finished.answerId = soleRequestId(parsed.messages);
    finished.rpc = parsed.messages.map((m) => ('method' in m ? m.method : 'response'));
    const versionHeader = call.req.headers['mcp-protocol-version'];
    const era = eraOf(parsed.messages, typeof versionHeader === 'string' ? versionHeader : undefined);
    // 2026-07-28 has no sessions: a session id on such a request is ignored, as the revision says.
    return { ...call, messages: parsed.messages, batch: parsed.batch, era, ...(era === 'modern' ? { sessionId: undefined } : {}) };
  };
}

/** Reads the body up to `limit` bytes; a larger body is refused as soon as it is known to be larger. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.resume(); // drain what is left without keeping it
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** Do not read the rest of an oversized body: answer and close the connection. */
function tooLargeAndClose(res: ServerResponse, limit: number): GatewayError {
  res.setHeader('connection', 'close');
  return tooLarge(limit);
}

function tooLarge(limit: number): GatewayError {
  return new GatewayError('payload_too_large', `Payload too large: request bodies are limited to ${limit} bytes (http.maxBodyBytes)`);
}
