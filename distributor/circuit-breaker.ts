// Node health as the distributor sees it. A node that failed is skipped at
// once until its retry time, so a login never waits out a dead node's connect
// timeout (pluto made each such login wait 12 seconds). Pure: the caller
// passes the time, which keeps it deterministic under test.

export type BreakerState = "closed" | "open" | "half-open";

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** First wait before a probe is allowed; doubles per failed probe. */
  baseRetryMs: number;
  maxRetryMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { failureThreshold: 1, baseRetryMs: 500, maxRetryMs: 15_000 };

export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private retryMs: number;
  private probing = false;

  constructor(private readonly opts: BreakerOptions = DEFAULT_BREAKER) {
    this.retryMs = opts.baseRetryMs;
  }

  state(now: number): BreakerState {
    if (this.failures < this.opts.failureThreshold) return "closed";
    return now - this.openedAt >= this.retryMs ? "half-open" : "open";
  }

  /** Whether traffic may go to the node now. In half-open state one probe at a time is let through. */
  allows(now: number): boolean {
    const s = this.state(now);
    if (s === "closed") return true;
    if (s === "open" || this.probing) return false;
    this.probing = true;
    return true;
  }

  /** The node answered: close the circuit. */
  success(): void {
    this.failures = 0;
    this.probing = false;
    this.retryMs = this.opts.baseRetryMs;
  }

  /** A connect or request failed at time `now`. */
  failure(now: number): void {
    const wasOpen = this.failures >= this.opts.failureThreshold;
    this.failures++;
    if (wasOpen) this.retryMs = Math.min(this.retryMs * 2, this.opts.maxRetryMs);
    if (this.failures >= this.opts.failureThreshold) this.openedAt = now;
    this.probing = false;
  }

  /** When the next probe is allowed (for the reconnect timer). */
  nextProbeAt(): number {
    return this.openedAt + this.retryMs;
  }
}
