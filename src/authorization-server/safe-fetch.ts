import dns from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';
import net from 'node:net';
import { Agent, fetch as undiciFetch } from 'undici';
import type { RequestInit as UndiciRequestInit } from 'undici';
import { nonPublicReason } from './public-address.js';

/**
 * An SSRF-safe `fetch` for oidc-provider's `fetch` option (used for Client ID Metadata Documents, jwks_uri,
 * sector_identifier_uri and back-channel notifications).
 *
 * - https: only; no credentials in the URL.
 * - Every address the host resolves to must be public unicast (see `nonPublicReason`); one bad answer refuses the
 *   whole host. Literal IP hosts are checked the same way (WHATWG URL parsing has already normalised `127.1`,
 *   `2130706433`, `0x7f000001`, ... to dotted quads).
 * - The check happens inside the socket's own DNS lookup (undici `Agent` with `connect.lookup`), so the address
 *   that was vetted is the address that is connected to: a DNS answer that changes between "check" and "connect"
 *   (rebinding) cannot slip through, because there is no second resolution. TLS still verifies the certificate
 *   against the URL's hostname (undici keeps it as the servername).
 * - Redirects are never followed (`redirect: 'manual'`, whatever the caller asks): a 3xx comes back as it is.
 * - A timeout (combined with the caller's signal) covers connect, headers and body.
 * - The body is capped: a Content-Length above the cap is refused up front, and the stream errors as soon as more
 *   than the cap has arrived (oidc-provider also caps per purpose, but its jwks_uri and sector_identifier_uri limits
 *   default to Infinity, so this cap is the only one there).
 *
 * oidc-provider passes its own `dispatcher` (an agent that checks the peer address only after connecting); it is
 * replaced by ours. Errors are `SafeFetchError`s naming the URL (without credentials or query) and the reason, never
 * a response body.
 */

export const DEFAULT_TIMEOUT_MS = 5000;
/** oidc-provider's own default limit for Client ID Metadata Documents. Raise it if JWKS documents go through here. */
export const DEFAULT_MAX_BYTES = 5 * 1024;

/** The shape of `dns.lookup` called with `{ all: true }`. */
export type LookupFunction = (
  hostname: string,
  options: { all: true },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

export interface SafeFetchOptions {
  /** Whole-request timeout (connect, headers and body), in milliseconds. Default 5000. */
  timeoutMs?: number;
  /** Largest response body accepted, in bytes. Default 5 KiB. */
  maxBytes?: number;
  /** DNS resolution; defaults to `dns.lookup`. Tests pass their own. */
  lookup?: LookupFunction;
  /** Skip the public-address checks (tests and local development only). Scheme and credential checks still apply. */
  allowPrivate?: boolean;
  /** Extra TLS trust (tests with a self-signed certificate). Certificate verification itself cannot be turned off. */
  connect?: { ca?: string | Buffer | Array<string | Buffer> };
}

export type SafeFetch = ((input: string | URL | Request, init?: RequestInit) => Promise<Response>) & {
  /** Closes the pooled connections. */
  close(): Promise<void>;
};

export type SafeFetchErrorCode = 'REFUSED' | 'TOO_LARGE' | 'TIMEOUT' | 'ABORTED' | 'FAILED';

export class SafeFetchError extends Error {
  override name = 'SafeFetchError';
  constructor(
    message: string,
    readonly code: SafeFetchErrorCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Thrown inside the socket's lookup; turned into a SafeFetchError naming the URL. */
class AddressRefusedError extends Error {
  override name = 'AddressRefusedError';
  readonly code = 'ESAFEFETCHREFUSED';
}

// ---------------------------------------------------------------------------------------------------------------
// Address classification

function describeUrl(url: URL): string {
  return url.host ? `${url.protocol}//${url.host}${url.pathname}` : `${url.protocol}${url.pathname}`;
}

function findInCauses<T>(err: unknown, match: (e: unknown) => e is T): T | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 8 && current; depth++) {
    if (match(current)) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

const isRefusal = (e: unknown): e is AddressRefusedError => e instanceof AddressRefusedError;
const isSafeFetchError = (e: unknown): e is SafeFetchError => e instanceof SafeFetchError;

function isNullBodyStatus(status: number): boolean {
  return status === 101 || status === 204 || status === 205 || status === 304;
}

export function createSafeFetch(options: SafeFetchOptions = {}): SafeFetch {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const allowPrivate = options.allowPrivate ?? false;
  const resolve: LookupFunction = options.lookup ?? ((hostname, opts, callback) => dns.lookup(hostname, opts, callback));
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) throw new TypeError('timeoutMs must be a positive number');
  if (!(maxBytes >= 0) || !Number.isFinite(maxBytes)) throw new TypeError('maxBytes must be a non-negative number');

  /** Every resolved address must pass; the vetted answer is what the socket connects to (no second lookup). */
  function vettedLookup(
    hostname: string,
    lookupOptions: LookupOptions,
    callback: (err: Error | null, address?: string | LookupAddress[], family?: number) => void,
  ): void {
    const done = (err: Error | null, addresses?: LookupAddress[]): void => {
      if (err || !addresses) {
        callback(err ?? new Error(`${hostname} did not resolve`));
        return;
      }
      if (addresses.length === 0) {
        callback(Object.assign(new Error(`${hostname} resolved to no addresses`), { code: 'ENOTFOUND' }));
        return;
      }
      for (const { address } of addresses) {
        const reason = nonPublicReason(address);
        if (reason === 'not an IP address' || (reason && !allowPrivate)) {
          callback(new AddressRefusedError(`${hostname} resolves to ${address}, ${reason}`));
          return;
        }
      }
      const family = lookupOptions.family;
      const wanted = family === 4 || family === 6 ? addresses.filter((a) => a.family === family) : addresses;
      const first = wanted[0];
      if (!first) {
        callback(Object.assign(new Error(`${hostname} has no IPv${String(family)} address`), { code: 'ENOTFOUND' }));
        return;
      }
      if (lookupOptions.all) callback(null, wanted.map(({ address, family: f }) => ({ address, family: f })));
      else callback(null, first.address, first.family);
    };
    let called = false;
    const once = (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]): void => {
      if (called) return;
      called = true;
      done(err, addresses);
    };
    try {
      resolve(hostname, { all: true }, once);
    } catch (err) {
      once(err instanceof Error ? err : new Error(String(err)), []);
    }
  }

  const agent = new Agent({
    connect: {
      lookup: vettedLookup as unknown as typeof dns.lookup,
      ...(options.connect?.ca !== undefined ? { ca: options.connect.ca } : {}),
    },
  });

  function translate(err: unknown, where: string, timeout: AbortSignal, callerSignal: AbortSignal | undefined): SafeFetchError {
    const already = findInCauses(err, isSafeFetchError);
    if (already) return already;
    const refusal = findInCauses(err, isRefusal);
    if (refusal) return new SafeFetchError(`refusing to fetch ${where}: ${refusal.message}`, 'REFUSED');
    if (timeout.aborted) return new SafeFetchError(`fetching ${where} failed: timed out after ${timeoutMs} ms`, 'TIMEOUT', { cause: err });
    if (callerSignal?.aborted) {
      const reason = callerSignal.reason as { name?: string } | undefined;
      const why = reason?.name === 'TimeoutError' ? "the caller's timeout expired" : 'aborted by the caller';
      return new SafeFetchError(`fetching ${where} failed: ${why}`, 'ABORTED', { cause: err });
    }
    const cause = (err as { cause?: unknown })?.cause ?? err;
    const { code, message } = (cause ?? {}) as { code?: unknown; message?: unknown };
    const detail = typeof code === 'string' ? code : typeof message === 'string' ? message : 'unknown error';
    return new SafeFetchError(`fetching ${where} failed: ${detail}`, 'FAILED', { cause: err });
  }

  /** Re-streams `body`, erroring once more than maxBytes have arrived. */
  function capped(body: ReadableStream<Uint8Array>, where: string, onError: (err: unknown) => SafeFetchError): ReadableStream<Uint8Array> {
    const reader = body.getReader();
    let received = 0;
    return new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          let chunk: Awaited<ReturnType<typeof reader.read>>;
          try {
            chunk = await reader.read();
          } catch (err) {
            controller.error(onError(err));
            return;
          }
          if (chunk.done) {
            controller.close();
            return;
          }
          received += chunk.value.byteLength;
          if (received > maxBytes) {
            reader.cancel().catch(() => undefined);
            controller.error(new SafeFetchError(`refusing to fetch ${where}: response body exceeds ${maxBytes} bytes`, 'TOO_LARGE'));
            return;
          }
          controller.enqueue(chunk.value);
        },
        cancel(reason) {
          return reader.cancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
  }

  const safeFetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    if (typeof input !== 'string' && !(input instanceof URL)) {
      throw new SafeFetchError('refusing to fetch: pass a URL string or URL object, not a Request', 'REFUSED');
    }
    let url: URL;
    try {
      url = new URL(input);
    } catch {
      throw new SafeFetchError('refusing to fetch: not a valid URL', 'REFUSED');
    }
    const where = describeUrl(url);
    if (url.protocol !== 'https:') {
      throw new SafeFetchError(`refusing to fetch ${where}: only https: URLs are allowed, not ${url.protocol}`, 'REFUSED');
    }
    if (url.username !== '' || url.password !== '') {
      throw new SafeFetchError(`refusing to fetch ${where}: URLs with credentials are not allowed`, 'REFUSED');
    }
    // Literal IPs never reach the lookup (the socket connects to them directly), so they are checked here.
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    if (net.isIP(host) !== 0 && !allowPrivate) {
      const reason = nonPublicReason(host);
      if (reason) throw new SafeFetchError(`refusing to fetch ${where}: ${host} is ${reason}`, 'REFUSED');
    }

    const timeout = AbortSignal.timeout(timeoutMs);
    const callerSignal = init.signal ?? undefined;
    const signal = callerSignal ? AbortSignal.any([timeout, callerSignal]) : timeout;
    const onError = (err: unknown): SafeFetchError => translate(err, where, timeout, callerSignal);

    let response: Awaited<ReturnType<typeof undiciFetch>>;
    try {
      response = await undiciFetch(url, {
        ...(init as unknown as UndiciRequestInit),
        // Ours win over whatever the caller passed (oidc-provider passes its own dispatcher).
        signal,
        redirect: 'manual',
        dispatcher: agent,
      });
    } catch (err) {
      throw onError(err);
    }

    const { status, statusText } = response;
    const headers = new Headers([...response.headers]);
    const declared = response.headers.get('content-length');
    if (declared !== null && Number(declared) > maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw new SafeFetchError(`refusing to fetch ${where}: response body of ${declared} bytes exceeds ${maxBytes} bytes`, 'TOO_LARGE');
    }
    if (status < 200 || status > 599) {
      await response.body?.cancel().catch(() => undefined);
      throw new SafeFetchError(`fetching ${where} failed: unexpected status ${status}`, 'FAILED');
    }
    if (isNullBodyStatus(status) || !response.body) {
      await response.body?.cancel().catch(() => undefined);
      return new Response(null, { status, statusText, headers });
    }
    // A fresh (global) Response around the capped stream; url/redirected/type are not carried over.
    return new Response(capped(response.body as ReadableStream<Uint8Array>, where, onError), { status, statusText, headers });
  };

  return Object.assign(safeFetch, { close: () => agent.close() });
}
