import type { SequenceSet } from "../types";
export function parseSequenceSet(text: string): SequenceSet { void text; throw new Error("not implemented"); }
export function expandSequenceSet(set: SequenceSet, max: number): number[] { void set; void max; throw new Error("not implemented"); }
