// Convergence, idempotence and the UID rules over random multi-replica
// histories, with tombstones purged along the way (see sim.ts for what each
// history does and checks).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkConverged, churnHistoryArb, historyArb, runHistory } from "./sim";

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

  it("two replicas with long partitions converge too", () => {
    fc.assert(
      fc.property(historyArb({ replicas: 2, maxCmds: 100 }), (h) => {
        checkConverged(h, runHistory(h));
      }),
      { numRuns: 500 },
    );
  });
});
