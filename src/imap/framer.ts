// Splits the client's byte stream into command units (RFC 3501 §2.2, §4.3,
// RFC 7888 LITERAL+) without interpreting them. Everything it keeps in memory
// is bounded: the text of one command by maxLineLength, its literal bytes by
// maxLiteralSize. Anything larger is skipped without being buffered.

export interface FramerLimits {
  maxLineLength: number;
  maxLiteralSize: number;
}

export type FramerEvent =
  // A complete command unit: the text of the line(s) with each literal's bytes spliced in
  // as a separate chunk, in order. `parts` alternates: text Buffer, literal Buffer, text Buffer...
  | { type: "unit"; parts: Buffer[]; literalAt: number[] /* indexes in parts that are literals */ }
  // Something refused at the framing level. `tag` is the tag at the start of the line if readable.
  | { type: "error"; tag?: string; command?: string; code: "TOOBIG" | "LINE"; message: string };

const LF = 0x0a;
const CR = 0x0d;
/** Enough of a command's start to read its tag and name for an error answer. */
const HEAD_BYTES = 128;
/** Enough of a skipped line's end to recognise a literal announcement in it. */
const TAIL_BYTES = 64;

type Skip = { code: "TOOBIG" | "LINE"; message: string };

/**
 * Text parts keep the `{n}` / `{n+}` announcement at their end (the CRLF is
 * stripped), so the tokenizer can check each literal against its announcement.
 * A unit of a single line without literals has exactly the bytes a raw line
 * would have, so a session that set rawLineMode too late (the DONE arrived in
 * the same chunk as IDLE) can use the unit's parts[0] as the raw line.
 */
export class CommandFramer {
  /** While true, the next line is returned raw (IDLE's DONE, AUTHENTICATE responses): a unit with one part and no literal parsing. */
  rawLineMode = false;

  private line: Buffer[] = [];
  private lineLength = 0;
  private parts: Buffer[] = [];
  private literalAt: number[] = [];
  private textTotal = 0;
  private literalTotal = 0;
  private head = Buffer.alloc(0);
  private tail = Buffer.alloc(0);
  private skip: Skip | null = null;
  /** Literal being received into a buffer of its announced size. */
  private literal: Buffer | null = null;
  private literalFilled = 0;
  /** Bytes of an over-limit non-synchronising literal still to throw away. */
  private discardRemaining = 0;

  constructor(
    private readonly limits: FramerLimits,
    private readonly onContinuationNeeded: (literalSize: number) => void,
  ) {}

  /** Bytes currently held for incomplete commands (for tests and metrics). */
  get bufferedBytes(): number {
    let n = this.lineLength + this.head.length + this.tail.length;
    for (const p of this.parts) n += p.length;
    if (this.literal) n += this.literal.length;
    return n;
  }

  /** Feed raw bytes; returns the events completed by them, in order. */
  push(chunk: Buffer): FramerEvent[] {
    const events: FramerEvent[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      if (this.discardRemaining > 0) {
        const n = Math.min(this.discardRemaining, chunk.length - pos);
        this.discardRemaining -= n;
        pos += n;
        continue;
      }
      if (this.literal) {
        const n = Math.min(this.literal.length - this.literalFilled, chunk.length - pos);
        chunk.copy(this.literal, this.literalFilled, pos, pos + n);
        this.literalFilled += n;
        pos += n;
        if (this.literalFilled === this.literal.length) this.finishLiteral();
        continue;
      }
      const lf = chunk.indexOf(LF, pos);
      const end = lf === -1 ? chunk.length : lf;
      this.appendText(chunk.subarray(pos, end));
      pos = end;
      if (lf !== -1) {
        pos = lf + 1;
        this.finishLine(events);
      }
    }
    return events;
  }

  private appendText(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.parts.length === 0 && this.head.length < HEAD_BYTES) {
      this.head = Buffer.concat([this.head, bytes.subarray(0, HEAD_BYTES - this.head.length)]);
    }
    if (!this.skip) {
      // +1 leaves room for the CR of the CRLF, which is not part of the line.
      if (this.textTotal + this.lineLength + bytes.length > this.limits.maxLineLength + 1) {
        this.startSkipping({ code: "LINE", message: "Command line too long" });
      } else {
        this.line.push(Buffer.from(bytes));
        this.lineLength += bytes.length;
        return;
      }
    }
    const t = bytes.length >= TAIL_BYTES ? bytes.subarray(bytes.length - TAIL_BYTES) : bytes;
    const joined = Buffer.concat([this.tail, t]);
    this.tail = Buffer.from(joined.subarray(Math.max(0, joined.length - TAIL_BYTES)));
  }

  /** Drops what was buffered of this command; the rest of it is skipped too. */
  private startSkipping(reason: Skip): void {
    this.skip = reason;
    this.tail = Buffer.concat(this.line).subarray(-TAIL_BYTES);
    this.line = [];
    this.lineLength = 0;
    this.parts = [];
    this.literalAt = [];
  }

  private finishLine(events: FramerEvent[]): void {
    let text = this.skip ? this.tail : Buffer.concat(this.line, this.lineLength);
    if (text.length > 0 && text[text.length - 1] === CR) text = text.subarray(0, text.length - 1);
    this.line = [];
    this.lineLength = 0;
    this.tail = Buffer.alloc(0);
    const atStart = this.parts.length === 0 && !this.skip;

    if (this.rawLineMode && atStart) {
      if (text.length > this.limits.maxLineLength) {
        events.push({ type: "error", code: "LINE", message: "Line too long" });
      } else {
        events.push({ type: "unit", parts: [text], literalAt: [] });
      }
      this.reset();
      return;
    }
    if (atStart && text.length === 0) {
      // Empty lines between commands carry nothing; clients send them to keep alive.
      this.reset();
      return;
    }
    if (!this.skip && this.textTotal + text.length > this.limits.maxLineLength) {
      this.startSkipping({ code: "LINE", message: "Command line too long" });
    }

    const announced = literalAnnouncement(text);
    if (!announced) {
      if (this.skip) {
        events.push(this.errorEvent(this.skip));
      } else {
        this.parts.push(text);
        events.push({ type: "unit", parts: this.parts, literalAt: this.literalAt });
      }
      this.reset();
      return;
    }

    const { size, sync } = announced;
    if (this.skip) {
      if (sync) {
        // The client waits for "+" that never comes; the error answer ends the command.
        events.push(this.errorEvent(this.skip));
        this.reset();
      } else {
        this.discardRemaining = size;
      }
      return;
    }

    this.parts.push(text);
    this.textTotal += text.length;
    if (size > this.limits.maxLiteralSize || this.literalTotal + size > this.limits.maxLiteralSize) {
      const tooBig: Skip = { code: "TOOBIG", message: "Literal too big" };
      if (sync) {
        this.skip = tooBig;
        events.push(this.errorEvent(tooBig));
        this.reset();
      } else {
        this.startSkipping(tooBig);
        this.discardRemaining = size;
      }
      return;
    }
    if (sync) this.onContinuationNeeded(size);
    this.literal = Buffer.allocUnsafe(size);
    this.literalFilled = 0;
    if (size === 0) this.finishLiteral();
  }

  private finishLiteral(): void {
    const lit = this.literal as Buffer;
    this.literalAt.push(this.parts.length);
    this.parts.push(lit);
    this.literalTotal += lit.length;
    this.literal = null;
    this.literalFilled = 0;
  }

  private errorEvent(skip: Skip): FramerEvent {
    const { tag, command } = readTagAndCommand(this.head);
    const event: FramerEvent = { type: "error", code: skip.code, message: skip.message };
    if (tag !== undefined) event.tag = tag;
    if (command !== undefined) event.command = command;
    return event;
  }

  private reset(): void {
    this.parts = [];
    this.literalAt = [];
    this.textTotal = 0;
    this.literalTotal = 0;
    this.head = Buffer.alloc(0);
    this.tail = Buffer.alloc(0);
    this.skip = null;
  }
}

/** `{n}` or `{n+}` at the very end of a line (RFC 3501 literal, RFC 7888 literal+). */
export function literalAnnouncement(text: Buffer): { size: number; sync: boolean } | null {
  let i = text.length - 1;
  if (i < 2 || text[i] !== 0x7d /* } */) return null;
  i--;
  const sync = text[i] !== 0x2b; /* + */
  if (!sync) i--;
  const digitsEnd = i + 1;
  while (i >= 0 && text[i]! >= 0x30 && text[i]! <= 0x39) i--;
  if (i < 0 || text[i] !== 0x7b /* { */ || i + 1 === digitsEnd) return null;
  const digits = text.toString("latin1", i + 1, digitsEnd);
  // Beyond 2^53 the exact value no longer matters: it is over any limit.
  const size = digits.replace(/^0+(?=\d)/, "").length > 15 ? Number.MAX_SAFE_INTEGER : Number(digits);
  return { size, sync };
}

const TAG_CHAR = /^[\x21\x23\x24\x26\x27\x2b-\x5b\x5d-\x7a\x7c-\x7e]+$/;

/** Best effort: the tag and command name at the start of a command, for error answers. */
export function readTagAndCommand(head: Buffer): { tag?: string; command?: string } {
  const text = head.toString("latin1");
  const words = text.split(/[ \r\n]/);
  const tag = words[0] ?? "";
  if (!TAG_CHAR.test(tag) || tag.includes("+")) return {};
  const out: { tag?: string; command?: string } = { tag };
  const name = (words[1] ?? "").toUpperCase();
  if (/^[A-Z][A-Z0-9_.-]*$/.test(name)) {
    out.command = name;
    const sub = (words[2] ?? "").toUpperCase();
    if (name === "UID" && /^[A-Z]+$/.test(sub)) out.command = `UID ${sub}`;
  }
  return out;
}
