import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { createLogger, scrubSecrets, type LoggerOptions } from '../../src/shared/log.js';

/** A logger writing into memory; `text()` waits for pending writes. */
function memoryLogger(options: Omit<LoggerOptions, 'destination'> = {}) {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const log = createLogger({ ...options, destination });
  return {
    log,
    async text(): Promise<string> {
      await tick();
      return chunks.join('');
    },
    async records(): Promise<Record<string, unknown>[]> {
      await tick();
      return chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    },
  };
}

const SECRET = 'sk-live-4f9a2c';

describe('createLogger: secrets are scrubbed by value', () => {
  test('in the message, in an object field, and in an error message and stack', async () => {
    const { log, text, records } = memoryLogger({ secrets: [SECRET] });
    log.info(`calling upstream with key ${SECRET}`);
    log.info({ upstream: { headers: { 'x-api-key': SECRET } }, note: `Bearer ${SECRET}` }, 'request');
    log.error({ err: new Error(`upstream said: bad key ${SECRET}`) }, 'upstream failed');
    log.warn('formatted %s and %o', SECRET, { k: SECRET });
    const out = await text();
    assert.equal(out.includes(SECRET), false, out);
    const lines = await records();
    assert.equal(lines.length, 4, 'every line is still written, and still JSON');
    assert.equal(lines[0]!.msg, 'calling upstream with key [REDACTED]');
    assert.deepEqual(lines[1]!.upstream, { headers: { 'x-api-key': '[REDACTED]' } });
    assert.equal(lines[1]!.note, 'Bearer [REDACTED]');
    const err = lines[2]!.err as { message: string; stack: string; type: string };
    assert.equal(err.type, 'Error');
    assert.equal(err.message, 'upstream said: bad key [REDACTED]');
    assert.match(err.stack, /^Error: upstream said: bad key \[REDACTED\]\n/);
    assert.match(String(lines[3]!.msg), /^formatted \[REDACTED\] and /);
  });

  test('a secret that JSON escapes (quotes, backslashes, control characters) is scrubbed too', async () => {
    const tricky = 'p"a\\s\ts';
    const { log, text } = memoryLogger({ secrets: [tricky] });
    log.info({ password2: tricky }, `value ${tricky}`);
    const out = await text();
    assert.equal(out.includes(JSON.stringify(tricky).slice(1, -1)), false, out);
    assert.equal(out.includes(tricky), false);
    assert.equal(out.split('[REDACTED]').length - 1, 2, out);
    assert.doesNotThrow(() => JSON.parse(out));
  });

  test('of two secrets where one contains the other, the longer is scrubbed whole', async () => {
    const { log, text } = memoryLogger({ secrets: ['abcd', 'abcdefgh'] });
    log.info('x abcdefgh y abcd z');
    const out = await text();
    assert.match(out, /"msg":"x \[REDACTED\] y \[REDACTED\] z"/);
    assert.equal(out.includes('efgh'), false);
  });

  test('without secrets, lines are unchanged', async () => {
    const { log, records } = memoryLogger();
    log.info({ a: SECRET }, 'plain');
    const [line] = await records();
    assert.equal(line!.a, SECRET);
    assert.equal(line!.msg, 'plain');
    assert.equal(line!.level, 30);
    assert.equal(line!.pid, process.pid);
  });

  test('the level is honoured', async () => {
    const { log, records } = memoryLogger({ level: 'warn' });
    log.info('hidden');
    log.warn('shown');
    assert.deepEqual((await records()).map((l) => l.msg), ['shown']);
  });
});

describe('createLogger: credential fields are redacted by path', () => {
  test('req.headers.authorization and friends', async () => {
    const { log, text, records } = memoryLogger();
    log.info({
      req: {
        method: 'POST',
        headers: {
          authorization: 'Bearer caller-token-1',
          'proxy-authorization': 'Basic proxy-cred-2',
          cookie: 'sid=cookie-3',
          'x-api-key': 'api-key-4',
          host: '127.0.0.1:8787',
        },
      },
      res: { headers: { 'set-cookie': 'sid=cookie-5' } },
    }, 'request');
    const out = await text();
    for (const value of ['caller-token-1', 'proxy-cred-2', 'cookie-3', 'api-key-4', 'cookie-5']) assert.equal(out.includes(value), false, value);
    const [line] = await records();
    assert.deepEqual(line!.req, {
      method: 'POST',
      headers: {
        authorization: '[REDACTED]',
        'proxy-authorization': '[REDACTED]',
        cookie: '[REDACTED]',
        'x-api-key': '[REDACTED]',
        host: '127.0.0.1:8787',
      },
    });
    assert.deepEqual(line!.res, { headers: { 'set-cookie': '[REDACTED]' } });
  });

  test('top-level authorization, cookie, password, token, secret and headers.*', async () => {
    const { log, records } = memoryLogger();
    log.info({ authorization: 'a1', cookie: 'c1', password: 'p1', token: 't1', secret: 's1', headers: { authorization: 'a2', cookie: 'c2', accept: 'x' }, user: 'u' }, 'fields');
    const [line] = await records();
    assert.deepEqual(
      { ...line, time: 0, pid: 0 },
      {
        level: 30,
        time: 0,
        pid: 0,
        authorization: '[REDACTED]',
        cookie: '[REDACTED]',
        password: '[REDACTED]',
        token: '[REDACTED]',
        secret: '[REDACTED]',
        headers: { authorization: '[REDACTED]', cookie: '[REDACTED]', accept: 'x' },
        user: 'u',
        msg: 'fields',
      },
    );
  });
});

describe('scrubSecrets', () => {
  test('every occurrence, raw and JSON-escaped', () => {
    assert.equal(scrubSecrets('a SECRET b SECRET', ['SECRET']), 'a [REDACTED] b [REDACTED]');
    assert.equal(scrubSecrets('{"v":"x\\"y"}', ['x"y']), '{"v":"[REDACTED]"}');
    assert.equal(scrubSecrets('nothing here', ['SECRET']), 'nothing here');
    assert.equal(scrubSecrets('SECRET', []), 'SECRET');
  });
});
