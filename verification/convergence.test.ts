// Convergence, idempotence and the UID rules over random multi-replica
// histories, with tombstones purged along the way (see sim.ts for what each
// history does and checks).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkConverged, churnHistoryArb, historyArb, runHistory, type Cmd, type History } from "./sim";

describe("random causal delivery with duplicates", () => {
  it("three replicas converge to one state and digest, keeping the UID rules at every step", () => {
    fc.assert(
      fc.property(historyArb({ replicas: 3, maxCmds: 60 }), (h) => {
        checkConverged(h, runHistory(h));
      }),
      { numRuns: 1000 },
    );
  });

  it("tombstones purged by TombstoneStability are never named by a later op, and the digest holds", () => {
    let purged = 0;
    fc.assert(
      fc.property(churnHistoryArb(), (h) => {
        const res = runHistory(h);
        checkConverged(h, res);
        purged += res.purgedMidway;
      }),
      { numRuns: 3000 },
    );
    // Not vacuous: tombstones did go while ops were still travelling.
    console.log(`purged midway: ${purged}`);
    expect(purged).toBeGreaterThan(50);
  });

  it("a reassign owed for a message that was removed, and its tombstone purged, is not made", () => {
    // Found by the property below (seed 1658783486), shrunk by hand: r0's
    // message loses a UID collision, so r0 owes it a reassign; then r0 deletes
    // its mailbox, r1 acknowledges, and r0 purges the tombstones before paying.
    const local = (r: number, action: "append" | "append2" | "delete" | "reassign", x: number): Cmd => ({ t: "local", r, action, x, y: 0, z: 0, mask: 0 });
    const deliver = (r: number): Cmd => ({ t: "deliver", r, pick: 0, dup: false });
    const purge: Cmd = { t: "purge", r: 0 };
    const h: History = {
      replicas: 2,
      seed: 0,
      cmds: [
        local(0, "append", 5),
        local(1, "append2", 5), // the same UIDs in the same mailbox
        local(0, "delete", 3),
        deliver(0), // the collision: r0 owes its message a new UID
        local(0, "delete", 4), // the mailbox goes, the message with it
        ...[1, 1, 1].map(deliver),
        purge,
        deliver(0),
        deliver(0),
        purge,
        purge,
        purge,
        local(0, "reassign", 0),
      ],
    };
    const res = runHistory(h);
    expect(res.purgedMidway).toBeGreaterThan(0);
    expect(res.ops.flatMap((op) => op.effects).filter((e) => e.type === "uid.reassign")).toEqual([]);
    checkConverged(h, res);
  });

  it("two replicas with long partitions converge too", () => {
    fc.assert(
      fc.property(historyArb({ replicas: 2, maxCmds: 100 }), (h) => {
        checkConverged(h, runHistory(h));
      }),
      { numRuns: 500 },
    );
  });
});
