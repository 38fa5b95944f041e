// The durable op log of one user, as LevelDB keys `op!user!replica!seq`.
// Ops are kept after snapshots: replication serves them to peers that are
// behind (compaction is the replication layer's decision, DESIGN.md).

import { isCausallyReady } from "../crdt/causality";
import type { Op, VersionVector } from "../crdt/types";
import { keys, parseOpKey, PREFIX_END } from "./keys";
import { jsonValue, parseJson, type BatchOp, type Db } from "./leveldb";

export function opPut(user: string, op: Op): BatchOp {
  return { type: "put", key: keys.op(user, op.id.replica, op.id.seq), value: jsonValue(op) };
}

/** Ops of `user` not covered by `after`, grouped by origin in ascending seq order. */
export async function readOpsAfter(db: Db, user: string, after: VersionVector): Promise<Map<string, Op[]>> {
  const prefix = keys.opPrefix(user);
  const byReplica = new Map<string, Op[]>();
  const it = db.iterator({ gt: prefix, lt: prefix + PREFIX_END });
  try {
    for (;;) {
      const entry = await it.next();
      if (!entry) break;
      const [key, value] = entry;
      const { replica, seq } = parseOpKey(key);
      const seen = after[replica] ?? 0;
      if (seq <= seen) {
        // Jump over the part of this origin's log the snapshot already covers.
        it.seek(keys.op(user, replica, seen + 1));
        continue;
      }
      let list = byReplica.get(replica);
      if (!list) byReplica.set(replica, (list = []));
      list.push(parseJson<Op>(value));
    }
  } finally {
    await it.close();
  }
  return byReplica;
}

export { isCausallyReady };

/**
 * Orders per-origin op lists into a causal delivery order starting from `vv`.
 * Ops that can never become ready (a gap in the log) are returned separately.
 */
export function causalOrder(byReplica: Map<string, Op[]>, start: VersionVector): { ordered: Op[]; stuck: Op[] } {
  const vv: VersionVector = { ...start };
  const queues = [...byReplica.values()].map((ops) => ({ ops, next: 0 }));
  const ordered: Op[] = [];
  let progress = true;
  while (progress) {
    progress = false;
    for (const q of queues) {
      while (q.next < q.ops.length) {
        const op = q.ops[q.next]!;
        if (op.id.seq <= (vv[op.id.replica] ?? 0)) {
          q.next += 1;
          continue;
        }
        if (!isCausallyReady(op, vv)) break;
        ordered.push(op);
        vv[op.id.replica] = op.id.seq;
        q.next += 1;
        progress = true;
      }
    }
  }
  const stuck = queues.flatMap((q) => q.ops.slice(q.next));
  return { ordered, stuck };
}

