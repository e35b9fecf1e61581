/** How the admin commands (`warden keys`, `users`, `clients`, `tokens`) show things: times, tables, counts. Pure: loaded at startup. */

export function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}

/** Times to the second: milliseconds only clutter a table. */
export function shortIso(time: string | null, none: string): string {
  return time === null ? none : time.replace(/\.\d{3}Z$/, 'Z');
}

/** `shortIso` of a time in milliseconds. */
export function when(ms: number | null, none: string): string {
  return ms === null ? none : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `key:` padded to `width`, then the value; one line each. */
export function rows(pairs: [string, string][], width = 15): string {
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}\n`).join('');
}

export function table(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  return [header, ...body].map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

// Ids and names shown on a terminal may come from whoever typed or registered them.
export { printable } from '../shared/text.js';

/** What the config defines, for a message about something it does not. */
export function known(defined: string[]): string {
  return defined.length > 0 ? `defined: ${defined.join(', ')}` : 'none are defined';
}
