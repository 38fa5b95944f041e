// RFC 3501 §9 sequence-set (RFC 9051 §9 is the same for what we advertise):
//
//   sequence-set = (seq-number / seq-range) ["," sequence-set]
//   seq-range    = seq-number ":" seq-number     ; either order: 2:4 == 4:2
//   seq-number   = nz-number / "*"
//   nz-number    = digit-nz *DIGIT               ; 1 .. 4294967295 (2^32-1)
//
// `*` is kept as null in the parsed set and stands for the largest number in
// use when the set is resolved (see expandSequenceSet / mergeSequenceSet).
import type { SeqRange, SequenceSet } from "../types";
import { ProtocolError } from "../tokenizer";
import { MAX_NUMBER } from "./tokens";

/** Longest sequence-set text accepted; the framer's line limit bounds it anyway. */
export const MAX_SEQUENCE_SET_LENGTH = 64 * 1024;

function seqNumber(text: string, whole: string): number | null {
  if (text === "*") return null;
  if (!/^[1-9][0-9]{0,9}$/.test(text)) {
    throw new ProtocolError(
      text === "" ? `Invalid sequence set (empty number): ${clip(whole)}` : `Invalid sequence set number ${clip(text)}`,
    );
  }
  const n = Number(text);
  if (n > MAX_NUMBER) throw new ProtocolError(`Sequence number out of range: ${clip(text)}`);
  return n;
}

function clip(s: string): string {
  return s.length > 40 ? s.slice(0, 40) + "…" : s;
}

/** Parses sequence-set text strictly; throws ProtocolError (BAD) for anything else. */
export function parseSequenceSet(text: string): SequenceSet {
  if (typeof text !== "string" || text.length === 0) throw new ProtocolError("Empty sequence set");
  if (text.length > MAX_SEQUENCE_SET_LENGTH) throw new ProtocolError("Sequence set too long");
  const out: SequenceSet = [];
  for (const part of text.split(",")) {
    if (part === "") throw new ProtocolError(`Invalid sequence set (empty element): ${clip(text)}`);
    const colon = part.indexOf(":");
    if (colon < 0) {
      const n = seqNumber(part, text);
      out.push({ from: n, to: n });
      continue;
    }
    const a = part.slice(0, colon);
    const b = part.slice(colon + 1);
    if (b.includes(":")) throw new ProtocolError(`Invalid sequence range ${clip(part)}`);
    out.push({ from: seqNumber(a, text), to: seqNumber(b, text) });
  }
  return out;
}

/** The range with `*` replaced by `max` and its ends in ascending order. */
export function normalizeRange(r: SeqRange, max: number): [number, number] {
  const a = r.from ?? max;
  const b = r.to ?? max;
  return a <= b ? [a, b] : [b, a];
}

/**
 * Merged ascending ranges of the set with `*` = max, clipped to [1, max] when
 * `clip` is true (numbers beyond max dropped). Cheap for any set size.
 */
export function mergeSequenceSet(set: SequenceSet, max: number, clipToMax = false): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (const r of set) {
    let [a, b] = normalizeRange(r, max);
    if (clipToMax) {
      if (a > max) continue;
      b = Math.min(b, max);
      if (a < 1) a = 1;
      if (b < a) continue;
    }
    ranges.push([a, b]);
  }
  ranges.sort((x, y) => x[0] - y[0]);
  const merged: Array<[number, number]> = [];
  for (const [a, b] of ranges) {
    const last = merged[merged.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else merged.push([a, b]);
  }
  return merged;
}

/**
 * Every number of the set, ascending and without duplicates, with `*` = max and
 * numbers above max dropped (what a sequence-number set means for a mailbox of
 * `max` messages). Refuses (RangeError) to build more than `limit` numbers, so a
 * caller cannot be made to allocate 2^32 entries; pass a limit that fits the
 * caller (by default max itself, which is already bounded by the mailbox).
 */
export function expandSequenceSet(set: SequenceSet, max: number, limit = max): number[] {
  const out: number[] = [];
  for (const [a, b] of mergeSequenceSet(set, max, true)) {
    if (out.length + (b - a + 1) > limit) throw new RangeError(`sequence set expands to more than ${limit} numbers`);
    for (let n = a; n <= b; n++) out.push(n);
  }
  return out;
}

/** Canonical text of a set: merged ascending ranges, `*` resolved against max. */
export function formatSequenceSet(set: SequenceSet, max: number): string {
  return mergeSequenceSet(set, max)
    .map(([a, b]) => (a === b ? String(a) : `${a}:${b}`))
    .join(",");
}
