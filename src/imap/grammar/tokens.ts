// Basic value helpers of RFC 3501 §9 (atom, astring, string, nstring, number,
// nz-number) over the generic tokens of src/imap/tokenizer.ts. The tokenizer's
// bare tokens are deliberately wider than ATOM-CHAR (they carry `\Seen`, `1:*`,
// `%`), so every grammar that needs a real atom checks it here.
import type { Token } from "../types";
import { ProtocolError } from "../tokenizer";

/** 2^32 - 1, the largest `number` / `nz-number` of RFC 3501 (RFC 9051 number is the same). */
export const MAX_NUMBER = 0xffffffff;

/** ATOM-CHAR: any CHAR except atom-specials ( ) { SP CTL % * " \ ] — and no 8-bit. */
export function isAtomChar(c: number): boolean {
  return (
    c > 0x20 &&
    c < 0x7f &&
    c !== 0x28 /* ( */ &&
    c !== 0x29 /* ) */ &&
    c !== 0x7b /* { */ &&
    c !== 0x25 /* % */ &&
    c !== 0x2a /* * */ &&
    c !== 0x22 /* " */ &&
    c !== 0x5c /* \ */ &&
    c !== 0x5d /* ] */
  );
}

/** ASTRING-CHAR: ATOM-CHAR or resp-specials (`]`). */
export function isAstringChar(c: number): boolean {
  return isAtomChar(c) || c === 0x5d;
}

/** True when `s` is a non-empty RFC 3501 atom. */
export function isAtom(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isAtomChar(s.charCodeAt(i))) return false;
  return true;
}

/** True when `s` is a non-empty run of ASTRING-CHAR (an astring written as an atom). */
export function isAstringAtom(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isAstringChar(s.charCodeAt(i))) return false;
  return true;
}

function describe(t: Token | undefined): string {
  if (!t) return "nothing";
  switch (t.type) {
    case "atom":
      return `atom ${JSON.stringify(t.value.length > 40 ? t.value.slice(0, 40) + "…" : t.value)}`;
    case "string":
      return t.literal ? "a literal" : "a quoted string";
    case "nil":
      return "NIL";
    case "list":
      return "a parenthesised list";
    case "section":
      return `${t.atom}[...]`;
  }
}

/**
 * astring as text (UTF-8 for strings). Lenient on purpose for atoms: the bare
 * tokens of LIST patterns (`%`, `*`) and historic clients' passwords reach
 * callers through here; use `strictAstringValue` where only ASTRING-CHAR may appear.
 */
export function astringValue(t: Token): string {
  if (t.type === "atom") return t.value;
  if (t.type === "string") return t.value.toString("utf8");
  if (t.type === "nil") return "NIL";
  throw new ProtocolError(`Expected a string, got ${describe(t)}`);
}

/** astring per RFC 3501: 1*ASTRING-CHAR or string. NIL as a bare word is the atom "NIL". */
export function strictAstringValue(t: Token | undefined, what = "a string"): string {
  if (t?.type === "string") return t.value.toString("utf8");
  if (t?.type === "nil") return "NIL";
  if (t?.type === "atom") {
    if (!isAstringAtom(t.value)) throw new ProtocolError(`Invalid characters in ${what}: ${t.value.slice(0, 40)}`);
    return t.value;
  }
  throw new ProtocolError(`Expected ${what}, got ${describe(t)}`);
}

/** atom per RFC 3501 (strict ATOM-CHAR); returned as written. */
export function atomValue(t: Token | undefined, what = "an atom"): string {
  if (t?.type === "nil") return "NIL";
  if (t?.type !== "atom") throw new ProtocolError(`Expected ${what}, got ${describe(t)}`);
  if (!isAtom(t.value)) throw new ProtocolError(`Invalid characters in ${what}: ${t.value.slice(0, 40)}`);
  return t.value;
}

/** string (quoted or literal) as bytes. */
export function stringValue(t: Token | undefined, what = "a string"): Buffer {
  if (t?.type !== "string") throw new ProtocolError(`Expected ${what}, got ${describe(t)}`);
  return t.value;
}

/** nstring: string or NIL (null). */
export function nstringValue(t: Token | undefined, what = "a string or NIL"): Buffer | null {
  if (t?.type === "nil") return null;
  if (t?.type !== "string") throw new ProtocolError(`Expected ${what}, got ${describe(t)}`);
  return t.value;
}

/** Parses RFC 3501 `number` text (1*DIGIT, at most 2^32-1). Throws ProtocolError. */
export function parseNumber(text: string, what = "number"): number {
  if (!/^[0-9]{1,10}$/.test(text)) throw new ProtocolError(`Invalid ${what}: ${text.slice(0, 20)}`);
  const n = Number(text);
  if (n > MAX_NUMBER) throw new ProtocolError(`${what} out of range: ${text}`);
  return n;
}

/** Parses RFC 3501 `nz-number` text (digit-nz *DIGIT, at most 2^32-1): no zero, no leading zeros. */
export function parseNzNumber(text: string, what = "number"): number {
  if (!/^[1-9][0-9]{0,9}$/.test(text)) throw new ProtocolError(`Invalid ${what}: ${text.slice(0, 20)}`);
  const n = Number(text);
  if (n > MAX_NUMBER) throw new ProtocolError(`${what} out of range: ${text}`);
  return n;
}

/** `number` token (a bare atom of digits). */
export function numberValue(t: Token | undefined, what = "a number"): number {
  if (t?.type !== "atom") throw new ProtocolError(`Expected ${what}, got ${describe(t)}`);
  return parseNumber(t.value, what);
}

/** `nz-number` token. */
export function nzNumberValue(t: Token | undefined, what = "a non-zero number"): number {
  if (t?.type !== "atom") throw new ProtocolError(`Expected ${what}, got ${describe(t)}`);
  return parseNzNumber(t.value, what);
}
