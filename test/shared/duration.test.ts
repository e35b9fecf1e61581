import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration, formatDuration, DURATION_PATTERN } from '../../src/shared/duration.js';

describe('parseDuration', () => {
  test('every unit', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('15m'), 900_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('7d'), 604_800_000);
    assert.equal(parseDuration('0s'), 0);
  });

  test('numbers are milliseconds already', () => {
    assert.equal(parseDuration(1234), 1234);
    assert.equal(parseDuration(0), 0);
  });

  test('surrounding whitespace is ignored', () => {
    assert.equal(parseDuration(' 30s\n'), 30_000);
  });

  test('anything else is refused, with an example in the message', () => {
    for (const bad of ['', '30', 's', '1.5s', '-1s', '30 s', '30S', '1w', '1h30m', 'ms', '5sec']) {
      assert.throws(() => parseDuration(bad), /not a duration: .* \(use e\.g\. 500ms, 30s/, JSON.stringify(bad));
    }
  });

  test('DURATION_PATTERN agrees', () => {
    assert.equal(DURATION_PATTERN.test('10m'), true);
    assert.equal(DURATION_PATTERN.test('10 m'), false);
  });
});

describe('formatDuration', () => {
  test('the largest unit that divides evenly', () => {
    assert.equal(formatDuration(86_400_000), '1d');
    assert.equal(formatDuration(2 * 86_400_000), '2d');
    assert.equal(formatDuration(3_600_000), '1h');
    assert.equal(formatDuration(90 * 60_000), '90m');
    assert.equal(formatDuration(60_000), '1m');
    assert.equal(formatDuration(90_000), '90s');
    assert.equal(formatDuration(1000), '1s');
    assert.equal(formatDuration(1500), '1500ms');
    assert.equal(formatDuration(999), '999ms');
    assert.equal(formatDuration(0), '0ms');
  });

  test('round trip', () => {
    for (const ms of [0, 1, 999, 1000, 1500, 60_000, 61_000, 3_600_000, 86_400_000, 90_000_000]) {
      assert.equal(parseDuration(formatDuration(ms)), ms);
    }
    for (const text of ['250ms', '30s', '15m', '2h', '7d']) assert.equal(formatDuration(parseDuration(text)), text);
  });
});
