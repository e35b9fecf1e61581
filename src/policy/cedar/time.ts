import type { PolicyContext } from './request.js';

const formatters = new Map<string, Intl.DateTimeFormat>();
const lastByZone = new Map<string, { minute: number; time: PolicyContext['time'] }>();
const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/**
 * The time as policies see it, in `timeZone` (IANA), to the minute: finer would make every decision a cache
 * miss, and office hours need no seconds.
 */
export function policyTime(now: Date, timeZone: string): PolicyContext['time'] {
  // Formatting costs microseconds per request; the answer changes once a minute.
  const minute = Math.floor(now.getTime() / 60_000);
  const last = lastByZone.get(timeZone);
  if (last && last.minute === minute) return last.time;
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', weekday: 'short',
    });
    formatters.set(timeZone, format);
  }
  const parts: Record<string, string> = {};
  for (const p of format.formatToParts(now)) parts[p.type] = p.value;
  const time = Object.freeze({
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    weekday: WEEKDAYS[parts.weekday!] ?? 0,
    date: `${parts.year}-${parts.month}-${parts.day}`,
  });
  lastByZone.set(timeZone, { minute, time });
  return time;
}

