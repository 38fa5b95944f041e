import { describe, expect, it } from "vitest";
import { ProtocolError } from "../tokenizer";
import { resolveSet, sequenceSetArg } from "../commands/args";
import type { SelectedView } from "../selected-view";
import {
  expandSequenceSet,
  formatSequenceSet,
  mergeSequenceSet,
  parseSequenceSet,
} from "./sequence-set";
import { tokenize } from "./test-support";

describe("parseSequenceSet accepts RFC 3501 sequence-set", () => {
  const accept: Array<[string, Array<[number | null, number | null]>]> = [
    ["1", [[1, 1]]],
    ["*", [[null, null]]],
    ["1:*", [[1, null]]],
    ["*:1", [[null, 1]]],
    ["4:2", [[4, 2]]],
    ["2:4", [[2, 4]]],
    ["1:1", [[1, 1]]],
    // RFC 3501 §9 example: 2,4:7,9,12:*
    ["2,4:7,9,12:*", [[2, 2], [4, 7], [9, 9], [12, null]]],
    ["4294967295", [[4294967295, 4294967295]]],
    ["1:4294967295", [[1, 4294967295]]],
    ["*:*", [[null, null]]],
    ["5,5,5", [[5, 5], [5, 5], [5, 5]]],
  ];
  for (const [text, ranges] of accept) {
    it(text, () => {
      expect(parseSequenceSet(text)).toEqual(ranges.map(([from, to]) => ({ from, to })));
    });
  }
});

describe("parseSequenceSet rejects what is not a sequence-set", () => {
  const reject = [
    "", "0", "0:5", "5:0", "01", "1:05", "1,", ",1", "1,,2", "1:", ":1", ":", ",", "1:2:3", "a", "1a", "a1",
    " 1", "1 ", "1\t", "4294967296", "1:4294967296", "99999999999", "18446744073709551616", "-1", "+1", "1.5",
    "1e3", "0x10", "$", "**", "1:**", "*1", "1*", "\u0661", "１", "1;2", "1:*,", "NaN", "Infinity",
  ];
  for (const text of reject) {
    it(JSON.stringify(text), () => {
      expect(() => parseSequenceSet(text)).toThrow(ProtocolError);
    });
  }
  it("refuses absurdly long text", () => {
    expect(() => parseSequenceSet("1,".repeat(40_000) + "1")).toThrow(ProtocolError);
  });
});

describe("sequence sets through the tokenizer", () => {
  it("takes the set from a FETCH command", () => {
    const cmd = tokenize("a1 FETCH 1:3,7,10:* FLAGS");
    expect(sequenceSetArg(cmd.args[0])).toEqual([
      { from: 1, to: 3 },
      { from: 7, to: 7 },
      { from: 10, to: null },
    ]);
  });
  it("refuses a quoted or missing set", () => {
    expect(() => sequenceSetArg(tokenize('a1 FETCH "1" FLAGS').args[0])).toThrow(ProtocolError);
    expect(() => sequenceSetArg(undefined)).toThrow(ProtocolError);
    expect(() => sequenceSetArg(tokenize("a1 FETCH (1) FLAGS").args[0])).toThrow(ProtocolError);
  });
});

describe("resolving sets", () => {
  it("a UID set: * is the highest UID, ranges go either way, UIDs not in the mailbox are skipped", () => {
    const view = (uids: number[]) => ({ knownUids: () => uids }) as unknown as SelectedView;
    const set = parseSequenceSet("2,9:7,12:*");
    expect(resolveSet(view([1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13]), set, true)).toEqual([2, 7, 8, 9, 12, 13]);
    // With 5 the highest UID, 12:* means 5:12.
    expect(resolveSet(view([1, 2, 3, 5]), set, true)).toEqual([2, 5]);
    // n:* always includes the highest UID, however large n (RFC 3501 §6.4.8).
    expect(resolveSet(view([4, 10, 20]), parseSequenceSet("5000:*"), true)).toEqual([20]);
    expect(resolveSet(view([4, 10, 20]), parseSequenceSet("11:19,1:3,21:30"), true)).toEqual([]);
    expect(resolveSet(view([]), set, true)).toEqual([]);
  });
  it("expandSequenceSet sorts, dedupes and drops numbers beyond max", () => {
    expect(expandSequenceSet(parseSequenceSet("5,3:1,2,*"), 6)).toEqual([1, 2, 3, 5, 6]);
    expect(expandSequenceSet(parseSequenceSet("4:10"), 6)).toEqual([4, 5, 6]);
    expect(expandSequenceSet(parseSequenceSet("9:10"), 6)).toEqual([]);
    expect(expandSequenceSet(parseSequenceSet("*"), 0)).toEqual([]);
    expect(expandSequenceSet(parseSequenceSet("1:*"), 3)).toEqual([1, 2, 3]);
  });
  it("expandSequenceSet refuses to build more numbers than the limit", () => {
    expect(() => expandSequenceSet(parseSequenceSet("1:4294967295"), 4294967295, 1000)).toThrow(RangeError);
    expect(expandSequenceSet(parseSequenceSet("1:4294967295"), 10, 1000)).toHaveLength(10);
  });
  it("mergeSequenceSet and formatSequenceSet give canonical ranges", () => {
    expect(mergeSequenceSet(parseSequenceSet("7:9,1,2,3,10,20:15"), 30)).toEqual([
      [1, 3],
      [7, 10],
      [15, 20],
    ]);
    expect(formatSequenceSet(parseSequenceSet("5:*,1,2,3"), 8)).toBe("1:3,5:8");
    expect(formatSequenceSet(parseSequenceSet("4"), 8)).toBe("4");
  });
});
