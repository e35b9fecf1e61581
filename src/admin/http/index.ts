import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../shared/log.js';
import { TokenBucketLimiter, type RateLimiter } from '../../ratelimit/index.js';
import { answerApi, json } from './api.js';
import { answerConsole, consoleError } from './console/index.js';
import { AdminHttpError, httpErrorOf } from './errors.js';
import { AdminGate, type AdminConfig, type AdminGateParts, type RequestMeta } from './gate.js';
import type { CompanySignIn } from '../../authorization-server/sso.js';
import type { AdminBackend } from './services.js';

const ADMIN_PREFIX = '/admin';
const API_PREFIX = '/admin/api';

/** Headers of every /admin answer: nothing cached, framed, sniffed or referred; no script at all. */
export const ADMIN_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
});

export interface AdminHttpParts extends Omit<AdminGateParts, 'admin' | 'passwords'> {
  /** Company sign-in, when an issuer has `use: [sso]` and the authorization server is on. */
  companySignIn?: CompanySignIn | undefined;
  backend: AdminBackend & { config: { admin?: AdminConfig } };
  /** The gateway's public base URL (for the OpenAPI document's server). */
  base: string;
  clientIp(req: IncomingMessage): string;
  isLocal(req: IncomingMessage): boolean;
  log: Logger;
  /** The admin.perIp limit, shared by all instances with Redis; default: this process's buckets. */
  limiter?: RateLimiter | undefined;
}

/**
 * The admin API (/admin/api/*) and console (/admin): loopback clients only unless admin.allowRemote, a per-IP
 * limit, then the API or the console. Mounted by the gateway's App with one route.
 */
export class AdminHttp {
  private readonly gate: AdminGate;
  private readonly limiter: RateLimiter;
  private readonly admin: AdminConfig;

  constructor(private readonly parts: AdminHttpParts) {
    const admin = parts.backend.config.admin;
    if (!admin) throw new Error('AdminHttp needs config.admin');
    this.admin = admin;
    this.gate = new AdminGate({ ...parts, admin, passwords: passwordsOn(parts.backend.config) });
    this.limiter = parts.limiter ?? new TokenBucketLimiter({ ratePerSecond: admin.perIp.requestsPerSecond, burst: admin.perIp.burst });
  }

  handles(path: string): boolean {
    return path === ADMIN_PREFIX || path.startsWith(`${ADMIN_PREFIX}/`);
  }

  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    for (const [name, value] of Object.entries(ADMIN_HEADERS)) res.setHeader(name, value);
    const api = path === API_PREFIX || path.startsWith(`${API_PREFIX}/`);
    const meta = this.meta(req, res);
    try {
      if (!this.admin.allowRemote && !this.parts.isLocal(req)) {
        throw new AdminHttpError('remote_refused', 'The admin console answers clients on this machine only; set admin.allowRemote (with an https publicUrl) to open it to others');
      }
      const verdict = await this.limiter.take(meta.ip);
      if (!verdict.ok) throw new AdminHttpError('rate_limited', `Too many admin requests from ${meta.ip}; wait ${verdict.retryAfterSeconds} s (admin.perIp)`, { 'retry-after': String(verdict.retryAfterSeconds) });
      if (api) await answerApi(req, res, path.slice(API_PREFIX.length), { gate: this.gate, backend: this.parts.backend, meta, base: this.parts.base });
      else await answerConsole(req, res, path.slice(ADMIN_PREFIX.length) || '/', { gate: this.gate, backend: this.parts.backend, meta, companySignIn: this.parts.companySignIn });
    } catch (err) {
      const failure = httpErrorOf(err);
      if (!failure) this.parts.log.error({ requestId: meta.requestId, err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'admin request failed');
      const error = failure ?? new AdminHttpError('internal_error', `Internal error; the gateway log has details under request id ${meta.requestId}`);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (api) json(res, error.status, { error: error.code, message: error.message }, error.headers);
      else consoleError(res, error);
    }
  }

  private meta(req: IncomingMessage, res: ServerResponse): RequestMeta {
    const ua = req.headers['user-agent'];
    return { ip: this.parts.clientIp(req), requestId: String(res.getHeader('x-request-id') ?? ''), ...(typeof ua === 'string' ? { userAgent: ua.slice(0, 256) } : {}) };
  }
}

/**
 * Administrators sign in with a password unless the authorization server has local passwords turned off
 * (company sign-in only). Without auth.oauth, users still have passwords set by `warden users`: the console
 * checks them itself.
 */
function passwordsOn(config: AdminBackend['config']): boolean {
  return config.auth === 'none' || config.auth.oauth?.localPasswords !== false;
}
