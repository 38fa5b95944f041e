import type { SequenceSet } from "../types";
import { ProtocolError } from "../tokenizer";
export function parseSequenceSet(text: string): SequenceSet {
  return text.split(",").map((p) => {
    const m = /^(\d+|\*)(?::(\d+|\*))?$/.exec(p);
    if (!m) throw new ProtocolError("Invalid sequence set");
    const v = (x: string) => (x === "*" ? null : Number(x));
    const from = v(m[1]!); const to = m[2] === undefined ? from : v(m[2]);
    if (from === 0 || to === 0) throw new ProtocolError("Invalid sequence set");
    return { from, to };
  });
}
export function expandSequenceSet(): number[] { throw new Error("x"); }
