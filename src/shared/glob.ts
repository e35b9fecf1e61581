/**
 * Name patterns for allow-lists: `*` is any run of characters (including none), `?` is one character,
 * everything else is literal. Deliberately smaller than shell globs: a pattern in an allow-list must be
 * obvious to read, and there is no path semantics in a tool name or a URI here.
 */
export function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (const ch of pattern) {
    if (ch === '*') source += '[\\s\\S]*';
    else if (ch === '?') source += '[\\s\\S]';
    else source += ch.replace(/[.+^${}()|[\]\\\/-]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

export class GlobSet {
  private readonly exact = new Set<string>();
  private readonly patterns: RegExp[] = [];

  constructor(readonly sources: readonly string[]) {
    for (const p of sources) {
      if (/[*?]/.test(p)) this.patterns.push(globToRegExp(p));
      else this.exact.add(p);
    }
  }

  matches(name: string): boolean {
    return this.exact.has(name) || this.patterns.some((re) => re.test(name));
  }
}
