/** How the admin commands (`warden keys`, `users`, `clients`, `tokens`) show things: times, tables, counts. Pure: loaded at startup. */

export { iso } from '../shared/text.js';

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

// Ids and names shown on a terminal may come from whoever typed or registered them.
export { known, plural, printable } from '../shared/text.js';
