// Latency recording (sorted arrays; exact percentiles by nearest rank), the
// generator's own CPU use, and the pace of an equal-load run.
import { sleep } from "../servers/proc";

/** Nearest-rank percentile of an ascending array; NaN when empty. p in [0, 100]. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  if (p <= 0) return sorted[0];
  if (p >= 100) return sorted[sorted.length - 1];
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.max(0, rank - 1)];
}

export interface LatencySummary {
  count: number;
  errors: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
}

export function summarize(samples: readonly number[], errors = 0): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const arr = Array.from(sorted);
  const sum = arr.reduce((a, b) => a + b, 0);
  return {
    count: arr.length,
    errors,
    p50: percentile(arr, 50),
    p99: percentile(arr, 99),
    mean: arr.length ? sum / arr.length : NaN,
    max: arr.length ? arr[arr.length - 1] : NaN,
  };
}

/** Per-command latency samples and failure counts. */
export class Recorder {
  readonly samples = new Map<string, number[]>();
  readonly errors = new Map<string, number>();
  readonly errorExamples: string[] = [];
  /** Connection set-ups (TCP, TLS, greeting), apart from the commands: they are not counted as commands. */
  readonly connects: number[] = [];

  record(command: string, latencyMs: number, ok: boolean, text?: string): void {
    let list = this.samples.get(command);
    if (!list) this.samples.set(command, (list = []));
    list.push(latencyMs);
    if (!ok) {
      this.errors.set(command, (this.errors.get(command) ?? 0) + 1);
      if (text && this.errorExamples.length < 10) this.errorExamples.push(`${command}: ${text.slice(0, 200)}`);
    }
  }

  connected(ms: number): void {
    this.connects.push(ms);
  }

  fail(command: string, why: string): void {
    this.errors.set(command, (this.errors.get(command) ?? 0) + 1);
    if (this.errorExamples.length < 10) this.errorExamples.push(`${command}: ${why.slice(0, 200)}`);
  }

  summary(): Record<string, LatencySummary> {
    const out: Record<string, LatencySummary> = {};
    const names = [...new Set([...this.samples.keys(), ...this.errors.keys()])].sort();
    for (const name of names) out[name] = summarize(this.samples.get(name) ?? [], this.errors.get(name) ?? 0);
    return out;
  }

  totalCount(): number {
    let n = 0;
    for (const l of this.samples.values()) n += l.length;
    return n;
  }
}

/** Measures this process's CPU use over an interval, in cores (1.0 = one core busy). */
export class CpuMeter {
  private readonly startCpu = process.cpuUsage();
  private readonly startWall = process.hrtime.bigint();

  stop(): { cores: number; userMs: number; systemMs: number; wallMs: number } {
    const d = process.cpuUsage(this.startCpu);
    const wallMs = Number(process.hrtime.bigint() - this.startWall) / 1e6;
    const cpuMs = (d.user + d.system) / 1000;
    return { cores: wallMs > 0 ? cpuMs / wallMs : 0, userMs: d.user / 1000, systemMs: d.system / 1000, wallMs };
  }
}

/** CPU per session in microseconds, from cores used over wallS seconds; NaN when no session ended. */
export function cpuPerSessionUs(cores: number, wallS: number, sessions: number): number {
  return sessions > 0 ? (cores * wallS * 1e6) / sessions : NaN;
}

export function randInt(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

/**
 * Spaces session starts at most `perSecond` apart, across all the clients
 * that share it: a fixed offered load instead of a closed loop, so that two
 * servers can be compared at the same throughput. A client that is late
 * does not make up for it with a burst.
 */
export class SessionPacer {
  private readonly gapMs: number;
  private last = -Infinity;

  constructor(readonly perSecond: number) {
    if (!(perSecond > 0)) throw new Error(`session rate must be above 0, got ${perSecond}`);
    this.gapMs = 1000 / perSecond;
  }

  /** Reserves the next start at or after `now` (ms) and returns how long to wait for it. */
  reserve(now: number): number {
    this.last = Math.max(now, this.last + this.gapMs);
    return this.last - now;
  }

  /** Resolves at this caller's reserved start. */
  async next(): Promise<void> {
    const wait = this.reserve(performance.now());
    if (wait > 0) await sleep(Math.ceil(wait));
  }
}
