/**
 * `${VAR}` and `${VAR:-default}` in any string of the config, so secrets live in the environment rather
 * than in the file. `$${` writes a literal `${`. Every value that came from the environment is collected,
 * because the logger must be able to scrub it by value.
 */
export interface InterpolationIssue {
  path: (string | number)[];
  message: string;
}

const PATTERN = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{[^}]*\}?/g;

export function interpolate(
  value: unknown,
  env: NodeJS.ProcessEnv,
  secrets: Set<string>,
  issues: InterpolationIssue[],
  path: (string | number)[] = [],
): unknown {
  if (typeof value === 'string') return interpolateString(value, env, secrets, issues, path);
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, secrets, issues, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolate(v, env, secrets, issues, [...path, k]);
    return out;
  }
  return value;
}

function interpolateString(
  text: string,
  env: NodeJS.ProcessEnv,
  secrets: Set<string>,
  issues: InterpolationIssue[],
  path: (string | number)[],
): string {
  if (!text.includes('$')) return text;
  return text.replace(PATTERN, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$${') return '${';
    if (name === undefined) {
      issues.push({ path, message: `"${match}" is not a valid reference; write \${NAME} or \${NAME:-default} (and $\${ for a literal \${)` });
      return match;
    }
    const found = env[name];
    if (found !== undefined && found !== '') {
      secrets.add(found);
      return found;
    }
    if (fallback !== undefined) return fallback;
    issues.push({ path, message: `environment variable ${name} is not set; export it, or write \${${name}:-default}` });
    return '';
  });
}
