/**
 * Resource URIs as authorization sees them: normalised by RFC 3986 §6.2.2 (syntax-based) and §6.2.3 (for
 * http/https, scheme-based), so that an allow-list or scope glob is matched against the resource the upstream
 * will resolve, not against a spelling of it. The normal form is what is forwarded, too.
 *
 * What cannot be normalised unambiguously is refused rather than guessed at: an encoded `/`, `\` or `%` in
 * the path (servers disagree on whether they decode them before resolving `..`), a raw backslash, control
 * characters, malformed percent-encodings, relative references, and `..` segments hiding in the query or
 * fragment of a URI some server may treat as a path.
 */

export type NormalisedUri = { ok: true; uri: string } | { ok: false; why: string };

// RFC 3986 Appendix B.
const URI_PARTS = /^(?:([^:/?#]+):)?(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/s;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/;
const UNRESERVED = /[A-Za-z0-9\-._~]/;
const DEFAULT_PORTS: Readonly<Record<string, string>> = { http: '80', https: '443' };
/** Longer URIs are refused: no real resource URI needs this much, and each is scanned several times. */
const MAX_LENGTH = 8192;

export function normaliseResourceUri(raw: string): NormalisedUri {
  if (raw.length === 0) return refuse('the URI is empty');
  if (raw.length > MAX_LENGTH) return refuse(`the URI is longer than ${MAX_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f]/.test(raw)) return refuse('the URI holds spaces or control characters');
  if (raw.includes('\\')) return refuse('the URI holds a backslash');
  const parts = URI_PARTS.exec(raw)!;
  const [, scheme, authority, path = '', query, fragment] = parts;
  if (scheme === undefined || !SCHEME.test(scheme)) return refuse('not an absolute URI (it needs a scheme, e.g. file:///…)');
  const lowerScheme = scheme.toLowerCase();

  let out = `${lowerScheme}:`;
  if (authority !== undefined) {
    const host = normaliseAuthority(authority, lowerScheme);
    if (!host.ok) return host;
    out += `//${host.uri}`;
  }
  const decodedPath = decodeUnreserved(path);
  if (decodedPath === undefined) return refuse('the path holds a malformed percent-encoding');
  if (/%(2F|5C|25|00)/.test(decodedPath)) return refuse('the path holds an encoded "/", "\\", "%" or NUL, which servers resolve differently');
  let cleanPath = removeDotSegments(decodedPath);
  if (authority !== undefined && cleanPath === '' && lowerScheme in DEFAULT_PORTS) cleanPath = '/';
  if (authority === undefined && cleanPath.startsWith('//')) return refuse('the path would be read as an authority');
  out += cleanPath;
  for (const [mark, part, name] of [['?', query, 'query'], ['#', fragment, 'fragment']] as const) {
    if (part === undefined) continue;
    const decoded = decodeUnreserved(part);
    if (decoded === undefined) return refuse(`the ${name} holds a malformed percent-encoding`);
    if (hasDotDotSegment(decoded)) return refuse(`the ${name} holds a ".." segment`);
    out += mark + decoded;
  }
  return { ok: true, uri: out };
}

function refuse(why: string): NormalisedUri {
  return { ok: false, why };
}

function normaliseAuthority(authority: string, scheme: string): NormalisedUri {
  const at = authority.lastIndexOf('@');
  const userinfo = at === -1 ? undefined : authority.slice(0, at);
  let hostPort = at === -1 ? authority : authority.slice(at + 1);
  const port = /:(\d*)$/.exec(hostPort.startsWith('[') ? hostPort.slice(hostPort.indexOf(']')) : hostPort);
  let portText = '';
  if (port) {
    hostPort = hostPort.slice(0, hostPort.length - port[0].length);
    // RFC 3986 §6.2.3: an empty port or the scheme's default one is the same as none.
    if (port[1] !== '' && port[1] !== DEFAULT_PORTS[scheme]) portText = `:${String(Number(port[1]))}`;
  }
  const host = decodeUnreserved(hostPort);
  const user = userinfo === undefined ? '' : decodeUnreserved(userinfo);
  if (host === undefined || user === undefined) return refuse('the authority holds a malformed percent-encoding');
  if (/[/?#@%]/.test(host) && !host.startsWith('[')) return refuse('the host holds reserved or encoded characters');
  return { ok: true, uri: `${userinfo === undefined ? '' : `${user}@`}${host.toLowerCase()}${portText}` };
}

/** Decodes %XX of unreserved characters and upper-cases the hex of the rest; undefined for a malformed `%`. */
function decodeUnreserved(text: string): string | undefined {
  if (!text.includes('%')) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '%') {
      out += c;
      continue;
    }
    const hex = text.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
    const decoded = String.fromCharCode(parseInt(hex, 16));
    out += UNRESERVED.test(decoded) ? decoded : `%${hex.toUpperCase()}`;
    i += 2;
  }
  return out;
}

/** RFC 3986 §5.2.4, on a path whose unreserved characters (so also `.`) are already decoded. */
export function removeDotSegments(path: string): string {
  let input = path;
  const output: string[] = [];
  while (input.length > 0) {
    if (input.startsWith('../')) input = input.slice(3);
    else if (input.startsWith('./')) input = input.slice(2);
    else if (input.startsWith('/./')) input = input.slice(2);
    else if (input === '/.') input = '/';
    else if (input.startsWith('/../')) {
      input = input.slice(3);
      output.pop();
    } else if (input === '/..') {
      input = '/';
      output.pop();
    } else if (input === '.' || input === '..') input = '';
    else {
      const next = input.indexOf('/', input.startsWith('/') ? 1 : 0);
      const segment = next === -1 ? input : input.slice(0, next);
      output.push(segment);
      input = next === -1 ? '' : input.slice(next);
    }
  }
  return output.join('');
}

function hasDotDotSegment(text: string): boolean {
  return /(^|[/=&;])\.\.([/&;]|$)/.test(text);
}
