/** C0, DEL and C1 controls: in a log line, a table or a terminal they could forge lines or move the cursor. */
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;
const ALL_CONTROL_CHARACTERS = new RegExp(CONTROL_CHARACTERS.source, 'g');

/** `text` with every control character replaced by '?': for messages and terminal output of names anyone could choose. */
export function printable(text: string): string {
  return text.replace(ALL_CONTROL_CHARACTERS, '?');
}
