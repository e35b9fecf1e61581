import type { AsyncLocalStorage } from 'node:async_hooks';
// oidc-provider keeps each request's context in one AsyncLocalStorage of its own (lib/helpers/als.js).
// @ts-expect-error: an internal module of oidc-provider, without type declarations
import providerContext from 'oidc-provider/lib/helpers/als.js';

const storage = providerContext as AsyncLocalStorage<unknown>;
let inFlight = 0;

/**
 * Runs one request through oidc-provider. Once its AsyncLocalStorage has run, Node 20 keeps async hooks on
 * for the whole process, and every promise of every MCP request pays for them (about a twentieth of what a
 * proxied call costs). So when no authorization-server request is in flight the storage is disabled again;
 * the next request enables it. Nothing of oidc-provider's runs between its requests that reads the context.
 */
export async function withProviderContext(work: () => Promise<void>): Promise<void> {
  inFlight++;
  try {
    await work();
  } finally {
    if (--inFlight === 0) storage.disable();
  }
}
