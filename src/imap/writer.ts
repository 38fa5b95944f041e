// Response values on the wire (RFC 3501 §4, §9):
//
//   quoted   = DQUOTE *QUOTED-CHAR DQUOTE      ; QUOTED-CHAR: any 7-bit TEXT-CHAR, `"` and `\` escaped
//   literal  = "{" number "}" CRLF *CHAR8      ; CHAR8 = %x01-ff (no NUL)
//   nil      = "NIL"
//   number   = 1*DIGIT                          ; 0 .. 2^32-1 for most uses
//
// Choices made here:
// - A JS string becomes a quoted string when that is legal (only %x01-7f
//   without CR/LF, at most MAX_QUOTED_LENGTH bytes), otherwise a literal of its
//   UTF-8 bytes (8-bit header values, folded text, long values).
// - NUL never goes out inside a literal, because RFC 3501 forbids it there
//   (only RFC 3516 literal8 may carry it). In a JS string U+0000 becomes
//   U+FFFD before encoding; in raw octets (Buffer / Literal, i.e. message data)
//   each NUL byte becomes 0x80, which is what Dovecot does, so sizes and offsets
//   stay the same as RFC822.SIZE and partial fetches promise.
// - Numbers must be non-negative safe integers; anything else is a programming
//   error (RangeError), never silently written.

/** Bare text written as is (flags, keywords like `\Seen`, `NIL`-free atoms). May not contain CR, LF or NUL. */
export class Atom {
  constructor(readonly text: string) {
    if (/[\r\n\0]/.test(text)) throw new RangeError("Atom text may not contain CR, LF or NUL");
  }
}

/** Octets always written as a literal, whatever their content. */
export class Literal {
  constructor(readonly data: Buffer) {}
}

export type ImapValue = string | number | null | Buffer | Atom | Literal | ImapValue[];

/** Longest string (in bytes) sent as a quoted string; longer ones become literals. */
export const MAX_QUOTED_LENGTH = 1000;

const NIL = Buffer.from("NIL");
const OPEN = Buffer.from("(");
const CLOSE = Buffer.from(")");
const SP = Buffer.from(" ");

/** True when `s` may be sent as a quoted string: 7-bit, no NUL/CR/LF, not too long. */
export function canQuote(s: string | Buffer): boolean {
  if (s.length > MAX_QUOTED_LENGTH) return false;
  if (typeof s === "string") return /^[\x01-\x09\x0b\x0c\x0e-\x7f]*$/.test(s);
  for (const c of s) if (c === 0 || c === 0x0a || c === 0x0d || c > 0x7f) return false;
  return true;
}

/** `"..."` with `"` and `\` escaped. Throws RangeError when `s` cannot be quoted (see canQuote). */
export function quoted(s: string): string {
  if (!canQuote(s)) throw new RangeError("String cannot be sent as a quoted string");
  return `"${s.replace(/[\\"]/g, (c) => "\\" + c)}"`;
}

/** `{n}\r\n` + octets, with NUL bytes replaced by 0x80 (literals may not carry NUL). */
export function literal(data: Buffer): Buffer {
  let bytes = data;
  if (data.includes(0)) {
    bytes = Buffer.from(data);
    for (let i = bytes.indexOf(0); i >= 0; i = bytes.indexOf(0, i + 1)) bytes[i] = 0x80;
  }
  return Buffer.concat([Buffer.from(`{${bytes.length}}\r\n`), bytes]);
}

/** A string as a quoted string when legal, else a literal of its UTF-8 bytes (U+0000 sent as U+FFFD). */
export function quotedOrLiteral(s: string | Buffer): Buffer {
  if (typeof s === "string") {
    const text = s.includes("\0") ? s.replace(/\0/g, "\ufffd") : s;
    if (canQuote(text)) return Buffer.from(quoted(text), "latin1");
    return literal(Buffer.from(text, "utf8"));
  }
  if (canQuote(s)) return Buffer.from(quoted(s.toString("latin1")), "latin1");
  return literal(s);
}

/** nstring: NIL for null, otherwise quotedOrLiteral. */
export function nstring(s: string | Buffer | null): Buffer {
  return s === null ? NIL : quotedOrLiteral(s);
}

/** A number as IMAP `number` text; RangeError for negatives, fractions, NaN and unsafe integers. */
export function encodeNumber(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`Not an IMAP number: ${n}`);
  return Buffer.from(String(n));
}

/**
 * One response value: null → NIL, number → digits, string → quoted or literal,
 * Buffer / Literal → literal, Atom → bare text, array → parenthesised list.
 */
export function encodeValue(v: ImapValue): Buffer {
  if (v === null) return NIL;
  if (typeof v === "number") return encodeNumber(v);
  if (typeof v === "string") return quotedOrLiteral(v);
  if (v instanceof Atom) return Buffer.from(v.text);
  if (v instanceof Literal) return literal(v.data);
  if (Buffer.isBuffer(v)) return literal(v);
  if (Array.isArray(v)) {
    const parts: Buffer[] = [OPEN];
    v.forEach((x, i) => {
      if (i) parts.push(SP);
      parts.push(encodeValue(x));
    });
    parts.push(CLOSE);
    return Buffer.concat(parts);
  }
  throw new TypeError("Not an IMAP value");
}
