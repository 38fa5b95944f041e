// Group commit. The disk does ~1,800 fsyncs a second (DESIGN.md), so writes
// that arrive while one synchronous batch is in flight wait and go out
// together in the next one; all their promises settle together. Batches are
// written strictly one after another, so a write is never durable before
// the writes submitted ahead of it: an op that depends on another op is
// acknowledged only once both are on disk.
//
// Some writes may be lost in a crash without harm (the \Recent high-water
// mark) and should not cost a write of their own: `carry` adds them to the
// next synchronous batch, or writes them without an fsync once `carryMs`
// has passed without one.
//
// Ops that nobody waits for at once (another replica's, while clients are
// answered after the local fsync) may `linger`: they wait a few ms for
// company instead of costing a write of their own. A storage node applies
// every worker's ops; an fsync each turn there competed for the disk with
// the workers' fsyncs that clients wait for.

import type { BatchOp, Db } from "./leveldb";

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface CommitStats {
  batches: number;
  writes: number;
}

export class CommitQueue {
  private pending: BatchOp[] = [];
  /** Waiting for a synchronous batch. */
  private waiters: Waiter[] = [];
  /** Waiting for whichever batch comes next. */
  private carried: Waiter[] = [];
  private flushing: Promise<void> | null = null;
  /** When the next batch goes out: at the end of this turn, or when `timer` fires at `dueAt`. */
  private scheduled: "turn" | "timer" | undefined;
  private timer: NodeJS.Timeout | undefined;
  private dueAt = 0;
  /** When the submitted writes now pending must go out at the latest (their earliest linger deadline). */
  private pendingDueAt = Infinity;
  private closed = false;
  readonly stats: CommitStats = { batches: 0, writes: 0 };

  constructor(
    private readonly db: Db,
    private readonly carryMs = 1000,
  ) {}

  /** Resolves once `ops` are on disk (fsynced); with `lingerMs`, they wait up to that long for a batch to share. */
  submit(ops: BatchOp[], lingerMs = 0): Promise<void> {
    return this.enqueue(ops, this.waiters, lingerMs);
  }

  /** Resolves once `ops` are written, with the next synchronous batch or at most `carryMs` later without an fsync. */
  carry(ops: BatchOp[]): Promise<void> {
    return this.enqueue(ops, this.carried, this.carryMs);
  }

  private enqueue(ops: BatchOp[], into: Waiter[], withinMs: number): Promise<void> {
    if (this.closed) return Promise.reject(new Error("commit queue is closed"));
    return new Promise<void>((resolve, reject) => {
      for (const op of ops) this.pending.push(op);
      into.push({ resolve, reject });
      if (into === this.waiters) this.pendingDueAt = Math.min(this.pendingDueAt, Date.now() + withinMs);
      this.schedule(withinMs);
    });
  }

  /** Resolves when everything submitted or carried so far has been written (or has failed). */
  async drain(): Promise<void> {
    while (this.flushing || this.scheduled || this.waiters.length > 0 || this.carried.length > 0) {
      if (this.flushing) await this.flushing;
      else if (this.scheduled === "turn") await new Promise<void>((r) => setImmediate(r));
      else CommitQueue.flushScheduled(this);
    }
  }

  async close(): Promise<void> {
    await this.drain();
    this.closed = true;
  }

  /** Writes what is pending within `withinMs`, or at the end of this turn when 0; an earlier schedule stands. */
  private schedule(withinMs: number): void {
    // A batch in flight schedules what arrived meanwhile when it is done.
    if (this.flushing || this.scheduled === "turn") return;
    if (withinMs === 0) {
      clearTimeout(this.timer);
      this.scheduled = "turn";
      // The first batch waits for the end of this event-loop turn, not just of
      // this tick: commands pipelined behind the first write (STORE, STORE,
      // EXPUNGE in one packet) and other sessions' commands read in the same
      // turn then share its fsync instead of each waiting for the next one.
      setImmediate(CommitQueue.flushScheduled, this);
      return;
    }
    const dueAt = Date.now() + withinMs;
    if (this.scheduled !== "timer" || dueAt < this.dueAt) {
      clearTimeout(this.timer);
      this.scheduled = "timer";
      this.dueAt = dueAt;
      this.timer = setTimeout(CommitQueue.flushScheduled, withinMs, this);
    }
    // Carried writes alone must not keep a process alive; a waiter's must go out.
    if (this.waiters.length > 0) this.timer!.ref();
    else this.timer!.unref();
  }

  private static flushScheduled(queue: CommitQueue): void {
    queue.scheduled = undefined;
    clearTimeout(queue.timer);
    queue.flush();
  }

  /** Synchronous when anything submitted is pending; carried ops alone go out without an fsync. */
  private flush(): void {
    if (this.flushing || (this.waiters.length === 0 && this.carried.length === 0)) return;
    const sync = this.waiters.length > 0;
    const ops = this.pending;
    const waiters = this.waiters.concat(this.carried);
    this.stats.batches += 1;
    this.stats.writes += this.waiters.length;
    this.pending = [];
    this.waiters = [];
    this.carried = [];
    this.pendingDueAt = Infinity;
    this.flushing = writeBatch(this.db, ops, sync)
      .then(
        () => {
          for (const w of waiters) w.resolve();
        },
        (err: unknown) => {
          const e = err instanceof Error ? err : new Error(String(err));
          for (const w of waiters) w.reject(e);
        },
      )
      .finally(() => {
        this.flushing = null;
        // Lingering writes keep their deadline here too: under a steady stream of
        // them a storage node would otherwise write one batch right after another.
        if (this.waiters.length > 0) this.schedule(Math.max(0, this.pendingDueAt - Date.now()));
        else if (this.carried.length > 0) this.schedule(this.carryMs);
      });
  }
}

/**
 * One LevelDB write of `ops`. The chained form costs the main thread about a
 * third of the array form (`db.batch(ops)`): 42-45 against 140-190 us for
 * 26 puts, measured on this VM, because the array form copies each op
 * object and the binding reads every op's fields back through N-API.
 */
function writeBatch(db: Db, ops: BatchOp[], sync: boolean): Promise<void> {
  let batch: ReturnType<Db["batch"]> | undefined;
  try {
    batch = db.batch();
    for (const op of ops) {
      if (op.type === "put") batch.put(op.key, op.value);
      else batch.del(op.key);
    }
    return batch.write({ sync });
  } catch (err) {
    // A closed database throws at once, a bad op on put: the waiters are
    // rejected like those of a failed write, and the native batch is freed.
    batch?.close().catch(() => undefined);
    return Promise.reject(err);
  }
}
