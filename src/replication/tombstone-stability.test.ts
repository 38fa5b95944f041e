// The two steps of TombstoneStability, with the vectors of a worker w and a
// storage s written out by hand. verification/ runs the same rule over
// random histories (and catches a one-step rule).
import { describe, expect, it } from "vitest";
import type { Tombstone } from "../crdt";
import { TombstoneStability } from "./tombstone-stability";

const T: Tombstone[] = [["default:INBOX", "w:1:0"]];

describe("TombstoneStability", () => {
  it("purges once every replica has the removals and then the ops made concurrently with them", () => {
    const st = new TombstoneStability();
    // w expunged (w:2); s has not seen it, and meanwhile made s:1 (a flag change on the message).
    expect(st.step("u", [{ w: 2 }, { w: 1, s: 1 }], () => T)).toEqual([]);
    expect(st.pending("u")).toBe(true);
    // s acknowledges the expunge; w has not got s:1 yet.
    expect(st.step("u", [{ w: 2 }, { w: 2, s: 1 }], () => [])).toEqual([]);
    // Every replica covers the first join (w:2, s:1)? Not w, which lacks s:1.
    expect(st.step("u", [{ w: 2 }, { w: 2, s: 1 }], () => [])).toEqual([]);
    // w gets s:1: the removals are everywhere. Second step: s:1, concurrent, must be everywhere too: it is.
    expect(st.step("u", [{ w: 2, s: 1 }, { w: 2, s: 1 }], () => [])).toEqual([]);
    expect(st.step("u", [{ w: 2, s: 1 }, { w: 2, s: 1 }], () => [])).toEqual(T);
    expect(st.pending("u")).toBe(false);
  });

  it("waits for an op made concurrently and acknowledged only with the removal", () => {
    const st = new TombstoneStability();
    st.step("u", [{ w: 2 }, { w: 2 }], () => T);
    // Both have the removal: step two. s made s:1 before it had w:2 (its ack said w:1 then), and
    // acknowledges both now; w has not received s:1.
    expect(st.step("u", [{ w: 2 }, { w: 2, s: 1 }], () => [])).toEqual([]);
    expect(st.step("u", [{ w: 2 }, { w: 2, s: 1 }], () => [])).toEqual([]);
    expect(st.step("u", [{ w: 2, s: 1 }, { w: 2, s: 1 }], () => [])).toEqual(T);
  });

  it("keeps users apart and starts no generation without tombstones", () => {
    const st = new TombstoneStability();
    expect(st.step("a", [{ w: 1 }], () => [])).toEqual([]);
    expect(st.pending("a")).toBe(false);
    st.step("b", [{ w: 1 }], () => T);
    expect(st.pending("a")).toBe(false);
    expect(st.pending("b")).toBe(true);
    // A lone replica (no peers) still takes both steps.
    expect(st.step("b", [{ w: 1 }], () => [])).toEqual([]);
    expect(st.step("b", [{ w: 1 }], () => [])).toEqual(T);
  });
});
