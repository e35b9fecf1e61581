import { RedisScript, type RedisConnection } from '../store/redis/connection.js';
import { SignInThrottle, type BackoffPolicy, type SignInGuard, type SignInThrottleOptions, type ThrottleVerdict } from './sign-in-throttle.js';

/**
 * `SignInThrottle`'s two counts (per username and address, per username) in Redis hashes, so that N instances
 * slow a guesser as one does: without it, each instance would grant its own attempts. One script reads both
 * counts and, when neither says wait, counts the attempt as a failure in both, atomically (two instances
 * cannot both let the same attempt through). Redis's clock decides. A count untouched for `forgetAfterMs` expires.
 */
const ATTEMPT = new RedisScript(`
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local forget = tonumber(ARGV[7])
local function load(key)
  local v = redis.call('HMGET', key, 'f', 'w', 'l')
  local f, w, l = tonumber(v[1]), tonumber(v[2]), tonumber(v[3])
  if f == nil or w == nil or l == nil or now - l >= forget then return 0, 0 end
  return f, w
end
local function waitAfter(f, at, after, initial, max)
  local over = f - after
  if over < 0 then return 0 end
  return at + math.min(max, initial * math.pow(2, math.min(over, 60)))
end
local pf, pw = load(KEYS[1])
local af, aw = 0, 0
if #KEYS > 1 then af, aw = load(KEYS[2]) end
local pwait, await = math.max(0, pw - now), math.max(0, aw - now)
if pwait > 0 or await > 0 then return { 0, math.ceil(pwait), math.ceil(await) } end
pf = pf + 1
redis.call('HSET', KEYS[1], 'f', pf, 'w', waitAfter(pf, now, tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])), 'l', now)
redis.call('PEXPIRE', KEYS[1], forget)
if #KEYS > 1 then
  af = af + 1
  redis.call('HSET', KEYS[2], 'f', af, 'w', waitAfter(af, now, tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])), 'l', now)
  redis.call('PEXPIRE', KEYS[2], forget)
end
return { 1, 0, 0 }
`);

/** The right password: the pair starts afresh, the username's count loses this one attempt. */
const SUCCEEDED = new RedisScript(`
redis.call('DEL', KEYS[1])
if #KEYS < 2 then return 0 end
local v = redis.call('HMGET', KEYS[2], 'f', 'l')
local f, l = tonumber(v[1]), tonumber(v[2])
if f == nil or l == nil then return 0 end
f = math.max(0, f - 1)
local over = f - tonumber(ARGV[1])
local w = 0
if over >= 0 then w = l + math.min(tonumber(ARGV[3]), tonumber(ARGV[2]) * math.pow(2, math.min(over, 60))) end
redis.call('HSET', KEYS[2], 'f', f, 'w', w)
return 1
`);

const DAY_MS = 86_400_000;

export class RedisSignInThrottle implements SignInGuard {
  private readonly local: SignInThrottle;
  private readonly perAddress: BackoffPolicy;
  private readonly perAccount: BackoffPolicy | false;
  private readonly forget: number;

  constructor(private readonly redis: RedisConnection, options: SignInThrottleOptions) {
    this.local = new SignInThrottle(options);
    this.perAddress = options.perAddress;
    this.perAccount = options.perAccount;
    this.forget = options.forgetAfterMs ?? DAY_MS;
  }

  async attempt(username: string, address: string): Promise<ThrottleVerdict> {
    if (!this.redis.usable()) return this.local.attempt(username, address);
    const account = this.perAccount;
    const args = [this.perAddress.after, this.perAddress.initial, this.perAddress.max, account ? account.after : 0, account ? account.initial : 0, account ? account.max : 0, this.forget];
    try {
      const [ok, pair, whole] = (await ATTEMPT.run(this.redis.client, this.keys(username, address), args)) as [number, number, number];
      this.redis.succeeded();
      if (ok === 1) return { ok: true };
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(Math.max(pair, whole) / 1000)), scope: pair >= whole ? 'address' : 'account' };
    } catch (err) {
      this.redis.failed(err, 'sign-in back-off counts per instance');
      return this.local.attempt(username, address);
    }
  }

  async succeeded(username: string, address: string): Promise<void> {
    this.local.succeeded(username, address);
    const account = this.perAccount;
    try {
      await SUCCEEDED.run(this.redis.client, this.keys(username, address), account ? [account.after, account.initial, account.max] : []);
    } catch (err) {
      this.redis.failed(err, 'sign-in back-off counts per instance');
    }
  }

  /** Usernames and addresses are typed by strangers: hashed, so a key stays short and cannot collide across the two counts. */
  private keys(username: string, address: string): string[] {
    const pair = this.redis.hashedKey('signin:pair:', JSON.stringify([username, address]));
    return this.perAccount ? [pair, this.redis.hashedKey('signin:user:', username)] : [pair];
  }
}
