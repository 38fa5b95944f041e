// Failed logins are slowed down and then refused, per client address and per
// user, over a sliding window. A guesser from one address hits the address
// limit; a guesser spread over many addresses hits the user limit. A user who
// logs in successfully clears the failures they caused from that address, so
// a mistyped password does not leave its owner waiting.
//
// Memory is bounded: at most `maxKeys` addresses and `maxKeys` users are
// tracked (least recently touched dropped first), and each keeps at most
// its limit of timestamps (more could not change the answer).
import { BoundedMap } from "../util/bounded-map";

export interface AuthRateLimitOptions {
  /** Failures from one client address within the window before its logins are refused. Default 10. */
  maxFailuresPerIp?: number;
  /** Failures for one user (from any address) within the window before their logins are refused. Default 5. */
  maxFailuresPerUser?: number;
  /** Sliding window length. Default 60 s. */
  windowSeconds?: number;
  /** Delay after the first failure; doubles with each further one. Default 1000 ms. */
  delayMs?: number;
  /** Cap on the delay. Default 8 × delayMs. */
  maxDelayMs?: number;
  /** Tracked addresses (and, separately, users) before the least recently used are forgotten. Default 10 000. */
  maxKeys?: number;
  /** Milliseconds clock; tests inject a fake one. */
  now?: () => number;
}

/** What to do with a login attempt before looking at the password. */
export type RateLimitDecision = { refuse: true } | { refuse: false; delayMs: number };

interface Failure {
  at: number;
  /** The other key of the failure: the user for an address entry, the address for a user entry. */
  other: string;
}

/** Failures per key, the key touched longest ago dropped past `maxKeys`. */
class FailureLog {
  private readonly entries: BoundedMap<string, Failure[]>;
  constructor(
    maxKeys: number,
    private readonly keep: number,
  ) {
    this.entries = new BoundedMap(maxKeys);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Failures of `key` within the window (dropping the expired ones). */
  recent(key: string, since: number): Failure[] {
    const list = this.entries.get(key);
    if (!list) return [];
    const live = list.filter((f) => f.at > since);
    if (live.length === 0) this.entries.delete(key);
    else if (live.length !== list.length) this.entries.set(key, live);
    return live;
  }

  add(key: string, failure: Failure, since: number): void {
    const live = this.recent(key, since);
    live.push(failure);
    if (live.length > this.keep) live.splice(0, live.length - this.keep);
    this.entries.set(key, live);
  }

  /** Drops the failures of `key` whose other side is `other`. */
  forget(key: string, other: string): void {
    const list = this.entries.get(key);
    if (!list) return;
    const rest = list.filter((f) => f.other !== other);
    if (rest.length === 0) this.entries.delete(key);
    else this.entries.set(key, rest);
  }
}

export class AuthRateLimiter {
  readonly maxFailuresPerIp: number;
  readonly maxFailuresPerUser: number;
  readonly windowMs: number;
  readonly delayMs: number;
  readonly maxDelayMs: number;
  private readonly now: () => number;
  private readonly byIp: FailureLog;
  private readonly byUser: FailureLog;

  constructor(opts: AuthRateLimitOptions = {}) {
    this.maxFailuresPerIp = Math.max(1, opts.maxFailuresPerIp ?? 10);
    this.maxFailuresPerUser = Math.max(1, opts.maxFailuresPerUser ?? 5);
    this.windowMs = Math.max(1, (opts.windowSeconds ?? 60) * 1000);
    this.delayMs = Math.max(0, opts.delayMs ?? 1000);
    this.maxDelayMs = Math.max(this.delayMs, opts.maxDelayMs ?? this.delayMs * 8);
    this.now = opts.now ?? Date.now;
    const maxKeys = Math.max(1, opts.maxKeys ?? 10_000);
    this.byIp = new FailureLog(maxKeys, this.maxFailuresPerIp);
    this.byUser = new FailureLog(maxKeys, this.maxFailuresPerUser);
  }

  private since(): number {
    return this.now() - this.windowMs;
  }

  /** Failures within the window: from this address, and against this user. */
  failures(ip: string, user: string): { ip: number; user: number } {
    const since = this.since();
    return { ip: this.byIp.recent(ip, since).length, user: this.byUser.recent(normalise(user), since).length };
  }

  /** True when a login from `ip` as `user` must be refused without checking the password. */
  isBlocked(ip: string, user: string): boolean {
    const f = this.failures(ip, user);
    return f.ip >= this.maxFailuresPerIp || f.user >= this.maxFailuresPerUser;
  }

  /** Milliseconds to wait before answering this login: 0 without recent failures, then doubling, capped. */
  delayFor(ip: string, user: string): number {
    const f = this.failures(ip, user);
    const n = Math.max(f.ip, f.user);
    if (n === 0 || this.delayMs === 0) return 0;
    return Math.min(this.maxDelayMs, this.delayMs * 2 ** Math.min(n - 1, 30));
  }

  /** Both answers at once (the contract's `check`). */
  check(ip: string, user: string): RateLimitDecision {
    if (this.isBlocked(ip, user)) return { refuse: true };
    return { refuse: false, delayMs: this.delayFor(ip, user) };
  }

  recordFailure(ip: string, user: string): void {
    const at = this.now();
    const since = at - this.windowMs;
    const u = normalise(user);
    this.byIp.add(ip, { at, other: u }, since);
    this.byUser.add(u, { at, other: ip }, since);
  }

  /** The user proved they know the password from this address: forget what they got wrong from it. */
  recordSuccess(ip: string, user: string): void {
    const u = normalise(user);
    this.byUser.forget(u, ip);
    this.byIp.forget(ip, u);
  }

  /** Tracked keys, for tests and metrics. */
  get trackedKeys(): { ips: number; users: number } {
    return { ips: this.byIp.size, users: this.byUser.size };
  }
}

/** User names are matched case-sensitively by the directory, but guessing "Alice" and "alice" is one attack. */
function normalise(user: string): string {
  return user.slice(0, 256).toLowerCase();
}

export interface RateLimitedAuthOptions {
  /** Waits; tests inject one that records instead of waiting. */
  sleep?: (ms: number) => Promise<void>;
  /** Called when an attempt is refused without checking the password (log it, count it). */
  onRefused?: (ip: string, user: string) => void;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Wraps a password check for one client address: refused attempts answer
 * false without calling `verify` (the session then says NO
 * [AUTHENTICATIONFAILED], which tells a guesser nothing), others wait the
 * limiter's delay first, and the outcome is recorded.
 */
export function rateLimitedAuthenticator(
  limiter: AuthRateLimiter,
  ip: string,
  verify: (user: string, password: string) => Promise<boolean>,
  opts: RateLimitedAuthOptions = {},
): (user: string, password: string) => Promise<boolean> {
  const sleep = opts.sleep ?? realSleep;
  return async (user, password) => {
    const decision = limiter.check(ip, user);
    if (decision.refuse) {
      opts.onRefused?.(ip, user);
      // Count the attempt: a client that keeps hammering stays refused.
      limiter.recordFailure(ip, user);
      return false;
    }
    if (decision.delayMs > 0) await sleep(decision.delayMs);
    const ok = await verify(user, password);
    if (ok) limiter.recordSuccess(ip, user);
    else limiter.recordFailure(ip, user);
    return ok;
  };
}
