// Group commit. The disk does ~1,800 fsyncs a second (DESIGN.md), so writes
// that arrive while one synchronous batch is in flight wait and go out
// together in the next one; all their promises settle together. Batches are
// written strictly one after another, so a write is never durable before
// the writes submitted ahead of it: an op that depends on another op is
// acknowledged only once both are on disk.

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
  private waiters: Waiter[] = [];
  private flushing: Promise<void> | null = null;
  private scheduled = false;
  private closed = false;
  readonly stats: CommitStats = { batches: 0, writes: 0 };

  constructor(private readonly db: Db) {}

  /** Resolves once `ops` are on disk (fsynced). */
  submit(ops: BatchOp[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error("commit queue is closed"));
    return new Promise<void>((resolve, reject) => {
      for (const op of ops) this.pending.push(op);
      this.waiters.push({ resolve, reject });
      this.schedule();
    });
  }

  /** Resolves when everything submitted so far has been written (or has failed). */
  async drain(): Promise<void> {
    while (this.flushing || this.scheduled || this.waiters.length > 0) {
      if (this.flushing) await this.flushing;
      else await new Promise<void>((r) => setImmediate(r));
    }
  }

  async close(): Promise<void> {
    await this.drain();
    this.closed = true;
  }

  private schedule(): void {
    if (this.flushing || this.scheduled) return;
    this.scheduled = true;
    // A microtask lets writes issued in the same tick share the first batch.
    queueMicrotask(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.flushing || this.waiters.length === 0) return;
    const ops = this.pending;
    const waiters = this.waiters;
    this.pending = [];
    this.waiters = [];
    this.stats.batches += 1;
    this.stats.writes += waiters.length;
    this.flushing = this.db
      .batch(ops, { sync: true })
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
        if (this.waiters.length > 0) this.schedule();
      });
  }
}
