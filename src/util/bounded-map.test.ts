import { describe, expect, it } from "vitest";
import { BoundedMap } from "./bounded-map";

describe("BoundedMap", () => {
  it("keeps the last `limit` entries, oldest out first", () => {
    const m = new BoundedMap<string, number>(3);
    for (const [i, k] of ["a", "b", "c", "d"].entries()) m.set(k, i);
    expect(m.size).toBe(3);
    expect(m.has("a")).toBe(false);
    expect([m.get("b"), m.get("c"), m.get("d")]).toEqual([1, 2, 3]);
  });

  it("a replaced entry becomes the newest", () => {
    const m = new BoundedMap<string, number>(2);
    m.set("a", 1).set("b", 2).set("a", 3).set("c", 4);
    expect(m.has("b")).toBe(false);
    expect(m.get("a")).toBe(3);
    expect(m.get("c")).toBe(4);
  });

  it("bounds by weight when given one, and frees the weight of deleted entries", () => {
    const m = new BoundedMap<string, Buffer>(10, (b) => b.length);
    m.set("x", Buffer.alloc(4)).set("y", Buffer.alloc(4));
    expect(m.delete("x")).toBe(true);
    m.set("z", Buffer.alloc(6));
    expect([m.has("y"), m.has("z")]).toEqual([true, true]);
    m.set("w", Buffer.alloc(5));
    expect([m.has("y"), m.has("z"), m.has("w")]).toEqual([false, false, true]);
    expect(m.delete("nope")).toBe(false);
  });
});
