import type { IncomingMessage } from 'node:http';

/** The request's cookies by name (the first of a repeated name wins, as browsers send the most specific first). */
export function cookiesOf(req: IncomingMessage): Map<string, string> {
  const jar = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!jar.has(name)) jar.set(name, part.slice(eq + 1).trim());
  }
  return jar;
}

export interface CookieOptions {
  /** Seconds; 0 deletes the cookie. */
  maxAge: number;
  secure: boolean;
  path?: string;
  /** Lax only for a cookie that must come back from another site's redirect (the company sign-in's binding). */
  sameSite?: 'Strict' | 'Lax';
}

/**
 * A Set-Cookie value: HttpOnly (scripts cannot read it) and SameSite=Strict unless asked (no other site can make
 * the browser send it), Secure when the gateway is reached over https.
 */
export function setCookie(name: string, value: string, options: CookieOptions): string {
  return [`${name}=${value}`, `Path=${options.path ?? '/admin'}`, `Max-Age=${options.maxAge}`, 'HttpOnly', `SameSite=${options.sameSite ?? 'Strict'}`, ...(options.secure ? ['Secure'] : [])].join('; ');
}
