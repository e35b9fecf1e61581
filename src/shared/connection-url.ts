/**
 * Connection strings (postgres://user:password@host/db, redis://:password@host) carry passwords, so they are
 * never shown as given: messages, logs and `Store.location` use the redacted form, or only host and port.
 */

/** The URL with any password replaced by `***`; text that is not a URL becomes `(unparseable URL)`. */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Not echoed: a malformed string may still be mostly a password.
    return '(unparseable URL)';
  }
  if (url.password) url.password = '***';
  // Query parameters can carry a password too (password=..., sslpassword=...).
  for (const key of [...url.searchParams.keys()]) if (/pass|secret|token|key/i.test(key)) url.searchParams.set(key, '***');
  return url.toString();
}

/** `host:port` of a connection URL, with the scheme's default port, for "cannot reach ..." messages. */
export function hostPortOf(text: string, defaultPort: number): string {
  try {
    const url = new URL(text);
    const host = url.hostname || url.searchParams.get('host') || 'localhost';
    return `${host}:${url.port || defaultPort}`;
  } catch {
    return '(unparseable URL)';
  }
}
