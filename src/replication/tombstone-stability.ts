// When a user's tombstones may go (src/crdt/purge.ts): once their removals,
// and every op concurrent with a removal, have reached every replica. No
// replica can tell that from one look at the acknowledgements, so this
// takes two steps per generation of tombstones, each waiting until what
// every replica acknowledged covers a vector:
//
//  1. Capture the tombstones held now and `join`, everything any replica has
//     acknowledged. Every removal captured is in our vector, so once every
//     replica's acknowledgement covers that join, every replica has them all.
//  2. At that moment each replica's acknowledgement includes the removals, so
//     an op it made concurrently with one (before it had the removal) is in
//     its own entry of that acknowledgement. Take the join again; once every
//     replica covers it, every such op has reached every replica, and any op
//     still to come is causally after the removals and cannot name them.
//
// Acknowledgements may be stale: one that already covers a removal is still
// a bound on the ops its replica made without seeing it. Pure: the caller
// brings the vectors and does the purge.
import { commonVector, dominates, mergeVectors, type Tombstone, type VersionVector } from "../crdt";

interface Generation {
  tombstones: Tombstone[];
  /** What every replica must have acknowledged before the next step. */
  need: VersionVector;
  /** Step 2 reached: the removals are everywhere; now their concurrent ops must be. */
  everywhere: boolean;
}

export class TombstoneStability {
  private readonly generations = new Map<string, Generation>();

  /**
   * One look at `user`: `vectors` are our vector and every other replica's
   * latest acknowledgement (all of them; the caller waits while one is
   * missing). Returns the tombstones that may be purged now, often none.
   * `current` is read when a new generation starts.
   */
  step(user: string, vectors: readonly VersionVector[], current: () => Tombstone[]): Tombstone[] {
    const join = vectors.reduce(mergeVectors, {});
    const g = this.generations.get(user);
    if (!g) {
      const tombstones = current();
      if (tombstones.length > 0) this.generations.set(user, { tombstones, need: join, everywhere: false });
      return [];
    }
    if (!dominates(commonVector(vectors), g.need)) return [];
    if (!g.everywhere) {
      g.everywhere = true;
      g.need = join;
      return [];
    }
    this.generations.delete(user);
    return g.tombstones;
  }

  /** Whether a generation of `user`'s tombstones is on its way: the caller must look again. */
  pending(user: string): boolean {
    return this.generations.has(user);
  }
}
