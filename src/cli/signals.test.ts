import pino from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { catchStopSignals } from "./signals";

const log = pino({ level: "silent" });

afterEach(() => vi.restoreAllMocks());

/** A node whose close() is counted; process.exit is stubbed so the test runner survives. */
function setup() {
  const exits: Array<number | undefined> = [];
  vi.spyOn(process, "exit").mockImplementation(((code?: number) => void exits.push(code)) as typeof process.exit);
  let closes = 0;
  const node = { close: async () => void closes++ };
  return { exits, node, closes: () => closes };
}

describe("catchStopSignals", () => {
  it("closes a node that was signalled while it started, once it is there, and exits 0", async () => {
    const { exits, node, closes } = setup();
    const signals = catchStopSignals(log);
    try {
      // The supervisor read the ready line and signalled before the handler of a running node existed.
      process.emit("SIGTERM", "SIGTERM");
      expect(closes()).toBe(0);
      expect(signals.runUntil(node)).toBe("running");
      await vi.waitFor(() => expect(exits).toEqual([0]));
      expect(closes()).toBe(1);
    } finally {
      signals.release();
    }
  });

  it("closes a running node at the first signal and exits at once on a second", async () => {
    const { exits } = setup();
    const signals = catchStopSignals(log);
    let closes = 0;
    try {
      // A close that never finishes: only the second signal can end the process.
      signals.runUntil({ close: () => new Promise<void>(() => void closes++) });
      process.emit("SIGINT", "SIGINT");
      expect(closes).toBe(1);
      expect(exits).toEqual([]);
      process.emit("SIGTERM", "SIGTERM");
      expect(exits).toEqual([1]);
    } finally {
      signals.release();
    }
  });

  it("hands the signals back when the start failed", () => {
    const { exits } = setup();
    const before = process.listenerCount("SIGTERM");
    const signals = catchStopSignals(log);
    expect(process.listenerCount("SIGTERM")).toBe(before + 1);
    signals.release();
    expect(process.listenerCount("SIGTERM")).toBe(before);
    expect(exits).toEqual([]);
  });
});
