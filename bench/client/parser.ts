// Incremental IMAP response parser for the load generator: splits the byte
// stream into responses (a line plus any literals it announces), without
// copying literal bodies unless asked to.

export interface ImapResponse {
  /** "*" for untagged, "+" for a continuation request, otherwise the tag. */
  tag: string;
  /** The response text with literal bodies left out (each `{n}` stays in place). */
  text: string;
  /** Sizes of the literals in order. */
  literalSizes: number[];
  /** Literal bodies, only when the parser keeps them. */
  literals?: Buffer[];
}

const EMPTY = Buffer.alloc(0);
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
      const eol = data.indexOf("\r\n", pos, "latin1");
      if (eol < 0) {
        this.pending = Buffer.from(data.subarray(pos));
        break;
      }
      const line = data.toString("latin1", pos, eol);
      pos = eol + 2;
      this.lineParts.push(line);
      const m = LITERAL_AT_END.exec(line);
      if (m) {
        const size = Number(m[1]);
        this.sizes.push(size);
        this.literalLeft = size;
        continue;
      }
      this.emit();
    }
    data = EMPTY;
  }

  private emit(): void {
    const text = this.lineParts.length === 1 ? this.lineParts[0] : this.lineParts.join("");
    const sp = text.indexOf(" ");
    const tag = sp < 0 ? text : text.slice(0, sp);
    const r: ImapResponse = { tag, text, literalSizes: this.sizes };
    if (this.keepLiterals) r.literals = this.bodies;
    this.lineParts = [];
    this.sizes = [];
    this.bodies = [];
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
