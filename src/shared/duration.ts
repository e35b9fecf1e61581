const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export const DURATION_PATTERN = /^(\d+)(ms|s|m|h|d)$/;

/** "30s" → 30000. Numbers are milliseconds already. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') return value;
  const match = DURATION_PATTERN.exec(value.trim());
  if (!match) throw new Error(`not a duration: "${value}" (use e.g. 500ms, 30s, 15m, 1h, 7d)`);
  return Number(match[1]) * UNITS[match[2]!]!;
}

export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNITS[unit]!;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
