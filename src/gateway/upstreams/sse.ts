import type { ServerResponse } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import type { JSONRPCMessage } from '../../shared/jsonrpc.js';

export const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  // Tells nginx and similar proxies not to buffer the stream.
  'x-accel-buffering': 'no',
} as const;

export function writeSseMessage(res: ServerResponse, message: JSONRPCMessage): void {
  res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
}

/** The message as the caller may see it; undefined leaves the event as it is, null drops it. */
export type MessageRewrite = (message: JSONRPCMessage) => JSONRPCMessage | null | undefined;

/**
 * Rewrites the JSON-RPC messages inside an SSE stream while it flows. Each event is given back as soon as its
 * blank line arrives; events whose data the rewrite leaves alone are passed on byte for byte.
 */
export class SseRewriter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  constructor(private readonly rewrite: MessageRewrite) {}

  /** Takes a chunk of the stream; returns the complete events in it, rewritten. */
  write(chunk: Buffer): string {
    this.pending += this.decoder.write(chunk);
    let out = '';
    for (let end = findEventEnd(this.pending); end !== -1; end = findEventEnd(this.pending)) {
      out += this.rewriteEvent(this.pending.slice(0, end));
      this.pending = this.pending.slice(end);
    }
    return out;
  }

  /** The rest of the stream, at its end. */
  end(): string {
    const rest = this.pending + this.decoder.end();
    this.pending = '';
    return rest.length > 0 ? this.rewriteEvent(rest) : '';
  }

  private rewriteEvent(event: string): string {
    const lines = event.split(/\r\n|\r|\n/);
    const dataLines = lines.filter((l) => l.startsWith('data:'));
    if (dataLines.length === 0) return event;
    const data = dataLines.map((l) => l.slice(l.startsWith('data: ') ? 6 : 5)).join('\n');
    let message: JSONRPCMessage;
    try {
      message = JSON.parse(data) as JSONRPCMessage;
    } catch {
      return event;
    }
    const rewritten = this.rewrite(message);
    if (rewritten === null) return '';
    if (rewritten === undefined || rewritten === message) return event;
    const kept = lines.filter((l) => !l.startsWith('data:') && l !== '');
    return `${[...kept, `data: ${JSON.stringify(rewritten)}`].join('\n')}\n\n`;
  }
}

/** Index just past the blank line that ends the first event, or -1. */
function findEventEnd(text: string): number {
  const match = /\r\n\r\n|\n\n|\r\r/.exec(text);
  return match ? match.index + match[0].length : -1;
}
