import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from '../shared/duration.js';

/** A duration setting: milliseconds, or a string such as "30s"; always milliseconds once parsed. */
export const duration = z
  .union([
    z.number().int().nonnegative(),
    z.string().regex(DURATION_PATTERN, { message: 'expected a duration such as 500ms, 30s, 15m, 1h or 7d' }),
  ])
  .transform((v) => parseDuration(v))
  .describe('milliseconds, or a string such as "30s", "15m", "1h"');

/** Bounds a duration option: `duration` already turned it into milliseconds. */
export const between = (min: number, max: number, text: string) => duration.pipe(z.number().min(min, { message: text }).max(max, { message: text }));
