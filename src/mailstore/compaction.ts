// Op log compaction and snapshot installation. Replication decides when (once
// every replica of a user has acknowledged the ops); this file only does it
// safely: a snapshot covering the state goes to disk in the same batch that
// deletes the ops, and the floor is kept, so that readers know which ops are
// gone and a peer that needs them gets a snapshot instead.
import { serializeState, versionVector } from "../crdt";
import type { VersionVector } from "../crdt/types";
import { keys } from "./keys";
import { jsonValue, parseJson, type BatchOp, type Db } from "./leveldb";
import type { UserReplica } from "./user-replica";

export const floorKey = (user: string) => `${keys.snapshot(user).replace(/^snap!/, "floor!")}`;

/** The highest seq per origin whose ops may be gone from this node's log. */
export async function compactedFloor(db: Db, user: string): Promise<VersionVector> {
  const v = await db.get(floorKey(user));
  return v ? parseJson<VersionVector>(v) : {};
}

/** Whether a peer at `after` needs ops this node no longer has. */
export function needsSnapshot(floor: VersionVector, after: VersionVector): boolean {
  return Object.entries(floor).some(([origin, seq]) => (after[origin] ?? 0) < seq);
}

/**
 * The batch that compacts `replica`'s log up to `floor` (clamped to its own
 * vector): a snapshot of the current state, the new floor, and a delete for
 * every op at or below it. Returns the number of ops removed.
 */
export async function compactionBatch(db: Db, replica: UserReplica, floor: VersionVector): Promise<{ batch: BatchOp[]; removed: number; floor: VersionVector }> {
  const user = replica.user;
  const own = versionVector(replica.state);
  const clamped: VersionVector = {};
  for (const [origin, seq] of Object.entries(floor)) clamped[origin] = Math.min(seq, own[origin] ?? 0);
  const previous = await compactedFloor(db, user);
  for (const [origin, seq] of Object.entries(previous)) clamped[origin] = Math.max(clamped[origin] ?? 0, seq);
  const batch: BatchOp[] = [
    { type: "put", key: keys.snapshot(user), value: serializeState(replica.state) },
    { type: "put", key: floorKey(user), value: jsonValue(clamped) },
  ];
  let removed = 0;
  // Only the ops between the two floors can be there to delete: one range read
  // per origin, not a walk over the whole log (its unacknowledged tail too).
  for (const [origin, seq] of Object.entries(clamped)) {
    const from = previous[origin] ?? 0;
    if (seq <= from) continue;
    for (const key of await db.keys({ gt: keys.op(user, origin, from), lte: keys.op(user, origin, seq) }).all()) {
      batch.push({ type: "del", key });
      removed++;
    }
  }
  return { batch, removed, floor: clamped };
}
