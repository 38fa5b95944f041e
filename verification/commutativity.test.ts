// Concurrent ops commute, and redelivery changes nothing.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Op,
  type ReplicaId,
  type UserState,
  applyOp,
  buildReassigns,
  cloneState,
  digest,
  genesisOp,
  pendingReassignments,
  versionVector,
} from "../src/crdt";
import { type LocalCmd, historyArb, localCmdArb, localEffects, runHistory, visibleDump } from "./sim";

/** Ops made one after another by `replica` from its own evolving copy of `base`. */
function branch(base: UserState, replica: ReplicaId, cmds: LocalCmd[]): Op[] {
  const s = cloneState(base);
  const ops: Op[] = [];
  let seq = versionVector(s)[replica] ?? 0;
  const owed: Array<{ mailboxId: string; messageId: string }> = [];
  for (const c of cmds) {
    const effects =
      c.action === "reassign" ? buildReassigns(s, owed.splice(0)) : localEffects(s, replica, seq + 1, c);
    if (effects.length === 0) continue;
    const op: Op = { id: { replica, seq: ++seq }, deps: versionVector(s), effects };
    ops.push(op);
    for (const r of applyOp(s, op).reassign) if (r.origin === replica) owed.push(r);
  }
  return ops;
}

/** Applies ops in order; returns the reassign requests seen, as sorted strings. */
function play(s: UserState, ops: Op[]): string[] {
  const asked: string[] = [];
  for (const op of ops) for (const r of applyOp(s, op).reassign) asked.push(`${r.origin} ${r.mailboxId} ${r.messageId}`);
  return asked.sort();
}

/** A random interleaving of two sequences, each kept in its own order. */
function interleave<T>(a: T[], b: T[], bits: boolean[]): T[] {
  const out: T[] = [];
  let i = 0;
  let j = 0;
  for (let k = 0; i < a.length || j < b.length; k++) {
    if (j >= b.length || (i < a.length && bits[k % Math.max(1, bits.length)])) out.push(a[i++]);
    else out.push(b[j++]);
  }
  return out;
}

const baseArb = historyArb({ replicas: 2, maxCmds: 30 }).map((h) => runHistory(h, { monitor: false }).replicas[0]);

describe("concurrent ops commute", () => {
  it("two replicas' concurrent ops give the same state in either order and in any interleaving", () => {
    fc.assert(
      fc.property(
        baseArb,
        fc.array(localCmdArb(1), { minLength: 1, maxLength: 4 }),
        fc.array(localCmdArb(1), { minLength: 1, maxLength: 4 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
        (base, ca, cb, bits) => {
          const a = branch(base, "r0", ca);
          const b = branch(base, "r1", cb);
          const s1 = cloneState(base);
          const s2 = cloneState(base);
          const s3 = cloneState(base);
          const asked1 = play(s1, [...a, ...b]);
          const asked2 = play(s2, [...b, ...a]);
          play(s3, interleave(a, b, bits));
          expect(digest(s2)).toBe(digest(s1));
          expect(visibleDump(s2)).toBe(visibleDump(s1));
          expect(digest(s3)).toBe(digest(s1));
          // Whichever order a replica learned of a collision in, every message still
          // waiting for a uid was reported to its origin (reports for a message that
          // is expunged later may differ, and do not matter).
          const pending = ["r0", "r1"].flatMap((r) =>
            pendingReassignments(s1, r).map((p) => `${p.origin} ${p.mailboxId} ${p.messageId}`),
          );
          for (const p of pending) {
            expect(asked1).toContain(p);
            expect(asked2).toContain(p);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("idempotence", () => {
  it("redelivering any op, at once or later, changes nothing", () => {
    fc.assert(
      fc.property(historyArb({ replicas: 3, maxCmds: 40 }), fc.array(fc.nat(), { minLength: 1, maxLength: 10 }), (h, picks) => {
        const run = runHistory(h, { monitor: false });
        const s = run.replicas[0];
        const before = digest(s);
        const dump = visibleDump(s);
        for (const p of picks) {
          const all = [genesisOp(), ...run.ops];
          const res = applyOp(s, all[p % all.length]);
          expect(res).toEqual({ applied: false, changes: [], reassign: [] });
        }
        const res = applyOp(s, { id: { replica: "genesis", seq: 1 }, deps: {}, effects: [] });
        expect(res.applied).toBe(false);
        expect(digest(s)).toBe(before);
        expect(visibleDump(s)).toBe(dump);
      }),
      { numRuns: 500 },
    );
  });
});
