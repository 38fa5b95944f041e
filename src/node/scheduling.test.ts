import { readFileSync } from "node:fs";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { applyScheduling, policyFromStat, SCHED_BATCH, SCHED_OTHER, threadPolicy } from "./scheduling";

function capturingLogger(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

describe("scheduling", () => {
  it("reads the policy field of /proc stat lines, whatever the command name holds", () => {
    expect(threadPolicy(process.pid)).toBe(SCHED_OTHER);
    const own = readFileSync("/proc/self/stat", "utf8");
    const fields = own.slice(own.lastIndexOf(")") + 2).split(" ");
    fields[38] = String(SCHED_BATCH);
    // A command name may hold spaces and parentheses; the fields start after the last ")".
    expect(policyFromStat(`4711 (we) ird (na me)) ${fields.join(" ")}`)).toBe(SCHED_BATCH);
    expect(() => policyFromStat("4711 (short) R 1 2")).toThrow(/no policy field/);
  });

  it("runs nothing for the normal policy", async () => {
    const { log } = capturingLogger();
    const ran: string[][] = [];
    expect(await applyScheduling("normal", log, async (file, args) => void ran.push([file, ...args]))).toBe("normal");
    expect(ran).toEqual([]);
  });

  it("asks chrt for this process's event-loop thread only, and keeps serving when that fails", async () => {
    const { log, lines } = capturingLogger();
    const ran: string[][] = [];
    const failing = async (file: string, args: string[]) => {
      ran.push([file, ...args]);
      throw new Error("spawn chrt ENOENT");
    };
    expect(await applyScheduling("batch", log, failing)).toBe("normal");
    // --pid without --all-tasks: the thread whose id is the process id, not libuv's pool.
    expect(ran).toEqual([["chrt", "--batch", "--pid", "0", String(process.pid)]]);
    expect(lines.find((l) => l.level === 40)?.err).toBe("spawn chrt ENOENT");
  });

  it("reports the normal policy when chrt exits 0 but the thread's policy did not change", async () => {
    const { log, lines } = capturingLogger();
    expect(await applyScheduling("batch", log, async () => undefined)).toBe("normal");
    expect(lines.find((l) => l.level === 40)?.err).toMatch(/did not change/);
  });
});
