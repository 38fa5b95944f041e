// Ops of one user received from peers and not yet applied. An op waits here
// until every op in its causal context has been applied; a duplicate (an op
// the replica already has, or one already waiting) is dropped by its id.
// Pure: the caller passes the replica's version vector in.
import { isCausallyReady, isDelivered } from "../crdt/causality";
import type { Op, VersionVector } from "../crdt/types";

const key = (op: Op) => `${op.id.replica}:${op.id.seq}`;

export class CausalInbox {
  private readonly waiting = new Map<string, Op>();

  constructor(readonly limit = 50_000) {}

  get size(): number {
    return this.waiting.size;
  }

  /** Adds what is new; returns how many were taken (the rest were duplicates or over the limit). */
  add(ops: readonly Op[], vv: VersionVector): number {
    let taken = 0;
    for (const op of ops) {
      const k = key(op);
      if (isDelivered(op, vv) || this.waiting.has(k)) continue;
      // Beyond the limit an op is dropped, not lost: anti-entropy sends it again once the gap is filled.
      if (this.waiting.size >= this.limit) break;
      this.waiting.set(k, op);
      taken++;
    }
    return taken;
  }

  /** The next op that can be applied on top of `vv`, removing what `vv` already covers. */
  next(vv: VersionVector): Op | undefined {
    for (const [k, op] of this.waiting) {
      if (isDelivered(op, vv)) {
        this.waiting.delete(k);
        continue;
      }
      if (isCausallyReady(op, vv)) {
        this.waiting.delete(k);
        return op;
      }
    }
    return undefined;
  }

  clear(): void {
    this.waiting.clear();
  }
}
