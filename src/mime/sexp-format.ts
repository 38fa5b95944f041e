// Reference serialisation of a Sexp as RFC 3501 response text. The response
// writer owns the wire format; this one exists so tests can compare whole
// BODYSTRUCTURE / ENVELOPE lines, and to pin down the ADJACENT rule.

import { ADJACENT, type Sexp } from "./types";

function quoteOrLiteral(s: string): string {
  if (/^[\x01-\x09\x0b\x0c\x0e-\x7f]*$/.test(s)) return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  return `{${Buffer.byteLength(s)}}\r\n${s}`;
}

export function formatSexp(value: Sexp): string {
  if (value === null) return "NIL";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return quoteOrLiteral(value);
  const adjacent = (value as Sexp[] & { [ADJACENT]?: number })[ADJACENT] ?? 0;
  let out = "(";
  value.forEach((item, i) => {
    if (i > 0 && i >= adjacent) out += " ";
    out += formatSexp(item);
  });
  return out + ")";
}
