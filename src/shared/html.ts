/**
 * HTML built only through `html`: every interpolated value is escaped unless it is already `Html` (made by
 * `html`, or wrapped on purpose with `new Html(…)` for markup the code itself produced), so a username, a
 * client name, a tool name or an audit reason can never become markup. Arrays are joined; undefined, null
 * and false render as nothing. Used by the authorization server's pages and the admin console.
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text and attribute-value safe (attributes are always double-quoted). */
export function escapeHtml(value: unknown): string {
  if (value === undefined || value === null) return '';
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export class Html {
  constructor(readonly text: string) {}
}

function render(value: unknown): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(value);
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}
