import type { ServerResponse } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { JSONRPCMessage } from '../shared/jsonrpc.js';

export const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  // Tells nginx and similar proxies not to buffer the stream.
  'x-accel-buffering': 'no',
} as const;

export function writeSseMessage(res: ServerResponse, message: JSONRPCMessage): void {
  res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
}

export type MessageRewrite = (message: JSONRPCMessage) => JSONRPCMessage | undefined;

/**
 * Rewrites the JSON-RPC messages inside an SSE stream while it flows. Each event is emitted as soon as its
 * blank line arrives; events whose data the rewrite leaves alone are passed on byte for byte.
 */
export class SseRewriter extends Transform {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  constructor(private readonly rewrite: MessageRewrite) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.pending += this.decoder.write(chunk);
    this.emitCompleteEvents();
    done();
  }

  override _flush(done: TransformCallback): void {
    this.pending += this.decoder.end();
    if (this.pending.length > 0) this.push(this.rewriteEvent(this.pending));
    this.pending = '';
    done();
  }

  private emitCompleteEvents(): void {
    for (;;) {
      const end = findEventEnd(this.pending);
      if (end === -1) return;
      const event = this.pending.slice(0, end);
      this.pending = this.pending.slice(end);
      this.push(this.rewriteEvent(event));
    }
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
