// Convergence, idempotence and the UID rules over random multi-replica
// histories (see sim.ts for what each history does and checks).

import fc from "fast-check";
import { describe, it } from "vitest";
import { checkConverged, historyArb, runHistory } from "./sim";

describe("random causal delivery with duplicates", () => {
  it("three replicas converge to one state and digest, keeping the UID rules at every step", () => {
    fc.assert(
      fc.property(historyArb({ replicas: 3, maxCmds: 60 }), (h) => {
        checkConverged(h, runHistory(h));
      }),
      { numRuns: 1000 },
    );
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
