/** C0, DEL and C1 controls: in a log line, a table or a terminal they could forge lines or move the cursor. */
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;
const ALL_CONTROL_CHARACTERS = new RegExp(CONTROL_CHARACTERS.source, 'g');

/** `text` with every control character replaced by '?': for messages and terminal output of names anyone could choose. */
export function printable(text: string): string {
  return text.replace(ALL_CONTROL_CHARACTERS, '?');
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** What the config defines, for a message about something it does not. */
export function known(defined: string[]): string {
  return defined.length > 0 ? `defined: ${defined.join(', ')}` : 'none are defined';
}

/** An epoch-ms time as ISO 8601, or null for none. */
export function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}
