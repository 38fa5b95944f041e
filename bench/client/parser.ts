// Incremental IMAP response parser for the load generator: splits the byte
// stream into responses (a line plus any literals it announces), without
// copying literal bodies unless asked to.

export interface ImapResponse {
  /** "*" for untagged, "+" for a continuation request, otherwise the tag. */
  tag: string;
  /** The response text with literal bodies left out (each `{n}` stays in place). */
  text: string;
  /** Sizes of the literals in order. */
  literalSizes: readonly number[];
  /** Literal bodies, only when the parser keeps them. */
  literals?: Buffer[];
}

const EMPTY = Buffer.alloc(0);
const NO_LITERALS: readonly number[] = Object.freeze([]);
const LITERAL_AT_END = /\{(\d+)\+?\}$/;

export class ResponseParser {
  private pending: Buffer = EMPTY;
  private lineParts: string[] = [];
  private sizes: number[] = [];
  private bodies: Buffer[] = [];
  private body: Buffer[] = [];
  private literalLeft = -1;

  constructor(
    private readonly onResponse: (r: ImapResponse) => void,
    private readonly keepLiterals = false,
  ) {}

  push(chunk: Buffer): void {
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = EMPTY;
    let pos = 0;
    while (pos < data.length || this.literalLeft === 0) {
      if (this.literalLeft >= 0) {
        const n = Math.min(this.literalLeft, data.length - pos);
        if (this.keepLiterals && n > 0) this.body.push(Buffer.from(data.subarray(pos, pos + n)));
        pos += n;
        this.literalLeft -= n;
        if (this.literalLeft > 0) break;
        if (this.keepLiterals) this.bodies.push(Buffer.concat(this.body));
        this.body = [];
        this.literalLeft = -1;
        continue;
      }
      // The CR of the first CRLF at or after pos; a byte search (memchr) for LF
      // costs less than a string search for "\r\n".
      let eol = -1;
      for (let lf = data.indexOf(0x0a, pos); lf >= 0; lf = data.indexOf(0x0a, lf + 1)) {
        if (lf > pos && data[lf - 1] === 0x0d) {
          eol = lf - 1;
          break;
        }
      }
      if (eol < 0) {
        this.pending = Buffer.from(data.subarray(pos));
        break;
      }
      const line = data.toString("latin1", pos, eol);
      pos = eol + 2;
      // "}" last: only then can the line announce a literal.
      const m = line.charCodeAt(line.length - 1) === 0x7d ? LITERAL_AT_END.exec(line) : null;
      if (m) {
        const size = Number(m[1]);
        this.lineParts.push(line);
        this.sizes.push(size);
        this.literalLeft = size;
        continue;
      }
      if (this.lineParts.length === 0) this.emitLine(line);
      else {
        this.lineParts.push(line);
        this.emit();
      }
    }
    data = EMPTY;
  }

  /** The common case, a response without literals: no arrays of its own (FETCH FLAGS sends a hundred a session). */
  private emitLine(text: string): void {
    this.deliver(text, NO_LITERALS, undefined);
  }

  private emit(): void {
    const { lineParts, sizes, bodies } = this;
    this.lineParts = [];
    this.sizes = [];
    this.bodies = [];
    this.deliver(lineParts.join(""), sizes, bodies);
  }

  private deliver(text: string, literalSizes: readonly number[], literals: Buffer[] | undefined): void {
    const sp = text.indexOf(" ");
    const r: ImapResponse = { tag: sp < 0 ? text : text.slice(0, sp), text, literalSizes };
    if (this.keepLiterals) r.literals = literals ?? [];
    this.onResponse(r);
  }
}

/** For a tagged response: its status word (OK, NO, BAD) and the rest. */
export function taggedStatus(r: ImapResponse): { status: string; rest: string } {
  const afterTag = r.text.slice(r.tag.length + 1);
  const sp = afterTag.indexOf(" ");
  return sp < 0 ? { status: afterTag.toUpperCase(), rest: "" } : { status: afterTag.slice(0, sp).toUpperCase(), rest: afterTag.slice(sp + 1) };
}

/** `* 17 EXISTS` -> 17, otherwise undefined. */
export function existsCount(r: ImapResponse): number | undefined {
  if (r.tag !== "*") return undefined;
  const m = /^\* (\d+) EXISTS$/i.exec(r.text);
  return m ? Number(m[1]) : undefined;
}

/** `* SEARCH 1 2 3` -> [1,2,3]; undefined when not a SEARCH response. */
export function searchResult(r: ImapResponse): number[] | undefined {
  if (r.tag !== "*") return undefined;
  const m = /^\* SEARCH(?: (.*))?$/i.exec(r.text);
  if (!m) return undefined;
  return m[1] ? m[1].trim().split(/\s+/).map(Number) : [];
}

/** Capabilities from a greeting `[CAPABILITY ...]` code or a `* CAPABILITY` line. */
export function capabilitiesIn(text: string): string[] | undefined {
  const m = /\[CAPABILITY ([^\]]*)\]/i.exec(text) ?? /^\* CAPABILITY (.*)$/i.exec(text);
  return m ? m[1].trim().toUpperCase().split(/\s+/) : undefined;
}
