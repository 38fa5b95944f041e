// Turns one framer unit into tag, command name and generic argument tokens
// (RFC 3501 §9). Command grammars (src/imap/grammar) give the tokens meaning.
import type { ParsedCommand, Token } from "./types";

/**
 * A syntax error in client input. The session answers `tag BAD` when `tag` is
 * known, `* BAD` otherwise. `status`/`responseCode` let a grammar ask for a
 * different answer (an unknown search charset must be `NO [BADCHARSET ...]`).
 */
export class ProtocolError extends Error {
  /** Short machine-readable reason, e.g. "BADCHARSET". */
  code?: string;
  /** Text for the bracketed response code, e.g. "BADCHARSET (UTF-8 US-ASCII)". */
  responseCode?: string;
  status: "BAD" | "NO" = "BAD";
  constructor(
    message: string,
    public tag?: string,
  ) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** Nesting of parenthesised lists and sections beyond this is refused (stack and memory safety). */
export const MAX_LIST_DEPTH = 32;

const UID_COMMANDS = new Set(["FETCH", "STORE", "COPY", "MOVE", "SEARCH", "EXPUNGE"]);
/** Atoms after which `[` opens a section rather than being an atom character. */
const SECTION_ATOMS = new Set(["BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE"]);

const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const LPAREN = 0x28;
const RPAREN = 0x29;
const LBRACE = 0x7b;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const LT = 0x3c;

/** Returned by peek() at the end of the whole unit. */
const END = -1;
/** Returned by peek() at the end of a text part that a literal follows. */
const BOUNDARY = -2;

/** ATOM-CHAR of RFC 3501 plus `]` (ASTRING-CHAR) — what a tag may contain, `+` aside. */
function isAstringChar(c: number): boolean {
  return (
    c > 0x20 &&
    c < 0x7f &&
    c !== LPAREN &&
    c !== RPAREN &&
    c !== LBRACE &&
    c !== 0x25 /* % */ &&
    c !== 0x2a /* * */ &&
    c !== DQUOTE &&
    c !== BACKSLASH
  );
}

/**
 * Characters of a bare argument token. Wider than ATOM-CHAR on purpose: the
 * generic tokenizer must carry flags (`\Seen`), wildcards (`%`, `*`) and
 * sequence sets (`1:*`); each grammar validates its own atoms.
 */
function isArgAtomChar(c: number): boolean {
  return c > 0x20 && c < 0x7f && c !== LPAREN && c !== RPAREN && c !== LBRACE && c !== DQUOTE;
}

class Reader {
  private part = 0;
  pos = 0;
  tag: string | undefined;

  constructor(
    private readonly parts: Buffer[],
    private readonly literals: Set<number>,
  ) {}

  get text(): Buffer {
    return this.parts[this.part]!;
  }

  peek(): number {
    const t = this.text;
    if (this.pos < t.length) return t[this.pos]!;
    return this.part + 1 < this.parts.length ? BOUNDARY : END;
  }

  fail(message: string): never {
    throw new ProtocolError(message, this.tag);
  }

  /** Steps over the literal that follows the current text part and returns its bytes. */
  takeLiteral(size: number): Buffer {
    const next = this.part + 1;
    if (this.pos !== this.text.length || !this.literals.has(next)) this.fail("Literal must end the line");
    const data = this.parts[next]!;
    if (data.length !== size) this.fail("Literal size mismatch");
    if (next + 1 >= this.parts.length || this.literals.has(next + 1)) this.fail("Malformed command unit");
    this.part = next + 1;
    this.pos = 0;
    return data;
  }
}

/** Tokenises one framer unit into tag, command name (upper-case; `UID X` → name X, uid true), args. */
export function parseCommand(parts: Buffer[], literalAt: number[]): ParsedCommand {
  if (parts.length === 0 || literalAt.includes(0)) throw new ProtocolError("Empty command line");
  const r = new Reader(parts, new Set(literalAt));

  const tagStart = r.pos;
  while (isAstringChar(r.peek()) && r.peek() !== 0x2b) r.pos++;
  const tag = r.text.toString("latin1", tagStart, r.pos);
  if (tag.length === 0) throw new ProtocolError(r.peek() === END ? "Empty command line" : "Missing or invalid tag");
  if (r.peek() !== SP) {
    if (r.peek() === END) throw new ProtocolError("Missing command", tag);
    throw new ProtocolError("Invalid tag");
  }
  r.tag = tag;
  r.pos++;

  let name = readCommandWord(r);
  let uid = false;
  if (name === "UID") {
    if (r.peek() !== SP) r.fail("Missing UID command");
    r.pos++;
    name = readCommandWord(r);
    if (!UID_COMMANDS.has(name)) r.fail(`UID ${name} is not a command`);
    uid = true;
  }

  let args: Token[] = [];
  if (r.peek() !== END) {
    if (r.peek() !== SP) r.fail("Expected space after command name");
    args = readSequence(r, "top", 0);
  }
  return { tag, name, uid, args };
}

function readCommandWord(r: Reader): string {
  const start = r.pos;
  while (isAstringChar(r.peek()) && r.peek() !== RBRACKET) r.pos++;
  if (r.pos === start) r.fail("Missing command name");
  return r.text.toString("latin1", start, r.pos).toUpperCase();
}

type Context = "top" | "list" | "section";

/**
 * Reads space-separated tokens until the end of the unit (top), `)` (list) or
 * `]` (section); the closing character is consumed.
 */
function readSequence(r: Reader, ctx: Context, depth: number): Token[] {
  const tokens: Token[] = [];
  let needSpace = false;
  for (;;) {
    let c = r.peek();
    let sawSpace = false;
    while (c === SP) {
      r.pos++;
      sawSpace = true;
      c = r.peek();
    }
    if (c === END) {
      if (ctx !== "top") r.fail(ctx === "list" ? "Unterminated list" : "Unterminated section");
      return tokens;
    }
    if (c === RPAREN) {
      if (ctx !== "list") r.fail("Unexpected )");
      r.pos++;
      return tokens;
    }
    if (c === RBRACKET && ctx === "section") {
      r.pos++;
      return tokens;
    }
    if (needSpace && !sawSpace) r.fail("Expected space between arguments");
    tokens.push(readToken(r, ctx, depth));
    needSpace = true;
  }
}

function readToken(r: Reader, ctx: Context, depth: number): Token {
  const c = r.peek();
  if (c === BOUNDARY) r.fail("Unexpected literal");
  if (c === LPAREN) {
    if (depth + 1 > MAX_LIST_DEPTH) r.fail("Lists nested too deeply");
    r.pos++;
    return { type: "list", items: readSequence(r, "list", depth + 1) };
  }
  if (c === DQUOTE) return { type: "string", value: readQuoted(r), literal: false };
  if (c === LBRACE) return { type: "string", value: readLiteral(r), literal: true };
  return readAtom(r, ctx, depth);
}

function readQuoted(r: Reader): Buffer {
  r.pos++;
  const text = r.text;
  const bytes: number[] = [];
  for (;;) {
    if (r.pos >= text.length) r.fail("Unterminated quoted string");
    const c = text[r.pos++]!;
    if (c === DQUOTE) return Buffer.from(bytes);
    if (c === BACKSLASH) {
      const e = r.pos < text.length ? text[r.pos++]! : -1;
      if (e !== DQUOTE && e !== BACKSLASH) r.fail("Invalid escape in quoted string");
      bytes.push(e);
      continue;
    }
    // 8-bit bytes are let through (UTF-8 from clients that never heard of literals); CR/LF/NUL never.
    if (c === 0x00 || c === 0x0a || c === 0x0d) r.fail("Invalid character in quoted string");
    bytes.push(c);
  }
}

function readLiteral(r: Reader): Buffer {
  const text = r.text;
  const m = /^\{(\d{1,10})(\+?)\}$/.exec(text.toString("latin1", r.pos));
  if (!m) r.fail("Malformed literal");
  const size = Number(m[1]);
  if (size > 0xffffffff) r.fail("Literal size out of range");
  r.pos = text.length;
  return r.takeLiteral(size);
}

function readAtom(r: Reader, ctx: Context, depth: number): Token {
  const text = r.text;
  const start = r.pos;
  for (;;) {
    const c = r.peek();
    if (c < 0 || !isArgAtomChar(c)) break;
    if (c === RBRACKET && ctx === "section") break;
    if (c === LBRACKET && ctx === "section") r.fail("Unexpected [ inside a section");
    if (c === LBRACKET && SECTION_ATOMS.has(text.toString("latin1", start, r.pos).toUpperCase())) {
      const atom = text.toString("latin1", start, r.pos);
      return readSection(r, atom, depth);
    }
    r.pos++;
  }
  if (r.pos === start) {
    const c = r.peek();
    r.fail(c >= 0x80 ? "8-bit character outside a string" : `Unexpected character 0x${c.toString(16)}`);
  }
  const value = text.toString("latin1", start, r.pos);
  if (value.toUpperCase() === "NIL") return { type: "nil" };
  return { type: "atom", value };
}

function readSection(r: Reader, atom: string, depth: number): Token {
  if (depth + 1 > MAX_LIST_DEPTH) r.fail("Lists nested too deeply");
  r.pos++;
  const section = readSequence(r, "section", depth + 1);
  checkSectionShape(r, section);
  const token: Token = { type: "section", atom, section };
  if (r.peek() === LT) {
    const rest = r.text.toString("latin1", r.pos, Math.min(r.text.length, r.pos + 24));
    // partial = "<" number "." nz-number ">"
    const m = /^<(\d{1,10})\.([1-9]\d{0,9})>/.exec(rest);
    if (!m) {
      if (/^<\d{1,10}\.0+>/.test(rest)) r.fail("Partial length must be non-zero");
      r.fail("Malformed partial <start.length>");
    }
    const start = Number(m[1]);
    const length = Number(m[2]);
    if (start > 0xffffffff || length > 0xffffffff) r.fail("Partial out of range");
    token.partial = { start, length };
    r.pos += m[0].length;
  }
  const c = r.peek();
  if (c !== END && c !== SP && c !== RPAREN) r.fail("Unexpected character after section");
  return token;
}

/**
 * The shape every section of RFC 3501 / RFC 3516 has: empty, one section-text
 * atom, or an atom followed by one parenthesised header-list of astrings
 * (`HEADER.FIELDS (From To)`). The command grammar checks the words themselves.
 */
function checkSectionShape(r: Reader, section: Token[]): void {
  if (section.length === 0) return;
  const [first, second] = section;
  if (first!.type !== "atom") r.fail("Section must start with a part number or section text");
  if (section.length === 1) return;
  if (section.length > 2 || second!.type !== "list") r.fail("Unexpected data in section");
  for (const item of second.items) {
    if (item.type !== "atom" && item.type !== "string" && item.type !== "nil") r.fail("Header list must contain field names");
  }
}
