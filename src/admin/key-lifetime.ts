/**
 * Limits on key lifetimes and grace periods. Pure and tiny: the CLI's option parsers use it synchronously.
 */

/** Longer would overflow what a Date can show; a key meant to last that long should not expire at all. */
export const MAX_DURATION_MS = 36_500 * 86_400_000;

/** What is wrong with `ms` as a duration for `what` (`--expires`, `--grace`), or undefined when nothing is. */
export function durationProblem(what: string, ms: number, allowZero: boolean): string | undefined {
  if (!Number.isSafeInteger(ms) || ms < 0) return `${what} must be a whole number of milliseconds, 0 or more`;
  if (!allowZero && ms === 0) return `${what} must be longer than 0`;
  if (ms > MAX_DURATION_MS) return `${what} must be at most 36500d`;
  return undefined;
}
