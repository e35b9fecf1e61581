import { test } from 'node:test';
import assert from 'node:assert/strict';
import { policyTime } from '../../../src/policy/cedar/index.js';

test('policy time: hour, minute, weekday and date in the configured zone', () => {
  const at = new Date('2026-01-03T22:30:15Z'); // a Saturday in UTC
  assert.deepEqual({ ...policyTime(at, 'UTC') }, { hour: 22, minute: 30, weekday: 6, date: '2026-01-03' });
  assert.deepEqual({ ...policyTime(at, 'Etc/GMT-5') }, { hour: 3, minute: 30, weekday: 0, date: '2026-01-04' }, 'five hours ahead: Sunday');
  assert.deepEqual({ ...policyTime(at, 'America/New_York') }, { hour: 17, minute: 30, weekday: 6, date: '2026-01-03' });
  assert.equal(policyTime(new Date('2026-01-03T22:31:00Z'), 'UTC').minute, 31, 'the next minute is a new answer');
});
