import { describe, expect, it } from "vitest";
import { atTurnEnd, TurnEndQueue } from "./turn-end";

const nextTurns = (n: number) => new Promise<void>((resolve) => {
  const step = (left: number): void => void (left === 0 ? resolve() : setImmediate(step, left - 1));
  step(n);
});

describe("atTurnEnd", () => {
  it("runs a task added by a task in the same turn, before an immediate that task queued", async () => {
    const order: string[] = [];
    atTurnEnd((o: string[]) => {
      o.push("batch flushed");
      // What a plain setImmediate would do: run in the next turn.
      setImmediate(() => o.push("next turn"));
      atTurnEnd((p: string[]) => p.push("link flushed"), o);
    }, order);
    await nextTurns(3);
    expect(order).toEqual(["batch flushed", "link flushed", "next turn"]);
  });

  it("runs tasks in the order they were added, each with its own argument, once", async () => {
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) atTurnEnd((n: number) => seen.push(n), i);
    await nextTurns(2);
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    await nextTurns(2);
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });
});

describe("TurnEndQueue", () => {
  /** A queue whose turns run when the test says so. */
  const manual = () => {
    const turns: Array<() => void> = [];
    return { turns, queue: new TurnEndQueue((run) => turns.push(run)) };
  };

  it("schedules one turn however many tasks are added, and a new one after it ran", () => {
    const { turns, queue } = manual();
    const seen: string[] = [];
    queue.add((s: string) => seen.push(s), "a");
    queue.add((s: string) => seen.push(s), "b");
    expect(turns).toHaveLength(1);
    turns.shift()!();
    expect(seen).toEqual(["a", "b"]);
    queue.add((s: string) => seen.push(s), "c");
    expect(turns).toHaveLength(1);
    turns.shift()!();
    expect(seen).toEqual(["a", "b", "c"]);
  });

  it("lets a throwing task's error out and runs the tasks after it in the next turn", () => {
    const { turns, queue } = manual();
    const seen: string[] = [];
    queue.add((s: string) => seen.push(s), "before");
    queue.add(() => {
      throw new Error("flush failed");
    }, undefined);
    queue.add((s: string) => seen.push(s), "after");
    expect(() => turns.shift()!()).toThrow("flush failed");
    expect(seen).toEqual(["before"]);
    expect(turns).toHaveLength(1);
    turns.shift()!();
    expect(seen).toEqual(["before", "after"]);
    // Nothing ran twice, and the queue schedules again when used again.
    queue.add((s: string) => seen.push(s), "later");
    expect(turns).toHaveLength(1);
    turns.shift()!();
    expect(seen).toEqual(["before", "after", "later"]);
  });
});
