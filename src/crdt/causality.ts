// Causal delivery rules over version vectors, shared by the op log's replay
// and by replication's inbox.
import type { Op, VersionVector } from "./types";

/** Whether `op` is the next op of its origin and everything it depends on is in `vv`. */
export function isCausallyReady(op: Op, vv: VersionVector): boolean {
  if (op.id.seq !== (vv[op.id.replica] ?? 0) + 1) return false;
  for (const [replica, seq] of Object.entries(op.deps)) {
    if (replica !== op.id.replica && (vv[replica] ?? 0) < seq) return false;
  }
  return true;
}

/** Whether `vv` already covers `op`. */
export function isDelivered(op: Op, vv: VersionVector): boolean {
  return op.id.seq <= (vv[op.id.replica] ?? 0);
}

/** Whether `a` has everything `b` has. */
export function dominates(a: VersionVector, b: VersionVector): boolean {
  return Object.entries(b).every(([r, s]) => (a[r] ?? 0) >= s);
}

/** Everything either vector has: the pointwise maximum. */
export function mergeVectors(a: VersionVector, b: VersionVector): VersionVector {
  const out: VersionVector = { ...a };
  for (const [r, s] of Object.entries(b)) if ((out[r] ?? 0) < s) out[r] = s;
  return out;
}

/** What every vector has: the pointwise minimum (an origin missing from one counts as 0 and is left out). */
export function commonVector(vectors: readonly VersionVector[]): VersionVector {
  const out: VersionVector = {};
  if (vectors.length === 0) return out;
  for (const r of Object.keys(vectors[0]!)) {
    const seq = Math.min(...vectors.map((v) => v[r] ?? 0));
    if (seq > 0) out[r] = seq;
  }
  return out;
}
