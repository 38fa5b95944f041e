// The replication protocol under a seeded scheduler: thousands of schedules
// per run. A failure names its seed; replay one with
//   CHARON_TEST_SEED=<seed> npx vitest run verification/protocol-sim.test.ts
import { describe, expect, it } from "vitest";
import { checkConverged } from "./sim";
import { runProtocolSchedule } from "./protocol-sim";

const SCHEDULES = 2_000;
const replay = process.env.CHARON_TEST_SEED ? Number(process.env.CHARON_TEST_SEED) : undefined;
const base = replay ?? Math.floor(Math.random() * 1e9);

function runOne(seed: number, ignoreCausality = false): string | undefined {
  const replicas = 2 + (seed % 3);
  try {
    const res = runProtocolSchedule(seed, { replicas, steps: 60 + (seed % 90), ignoreCausality });
    checkConverged({ replicas, cmds: [], seed }, res);
    return undefined;
  } catch (err) {
    return `seed ${seed}: ${(err as Error).message.split("\n")[0]}`;
  }
}

describe("replication protocol simulation", () => {
  it(`converges with nothing lost over ${replay === undefined ? SCHEDULES : 1} schedules of drops, duplicates, reordering, cuts and crashes (base seed ${base})`, () => {
    const seeds = replay === undefined ? Array.from({ length: SCHEDULES }, (_, i) => base + i) : [replay];
    let ran = 0;
    const failures: string[] = [];
    for (const seed of seeds) {
      const f = runOne(seed);
      ran++;
      if (f) failures.push(f);
      if (failures.length >= 5) break;
    }
    expect(failures).toEqual([]);
    expect(ran).toBe(seeds.length);
  });

  it("fails when delivery ignores causality (negative control)", () => {
    const failures: string[] = [];
    for (let i = 0; i < 500 && failures.length === 0; i++) {
      const f = runOne(base + i, true);
      if (f) failures.push(f);
    }
    expect(failures.length).toBeGreaterThan(0);
  });
});
