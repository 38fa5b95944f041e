// Byte-level view of a header block. BODY[HEADER.FIELDS] must return the field
// lines exactly as stored (folding, line endings, 8-bit bytes), which a parsed
// key/value map cannot give back, so fields are kept as byte ranges.

export interface RawField {
  /** Lower-cased field name; "" for a line that is not a well-formed field. */
  key: string;
  /** Offset of the field's first byte. */
  start: number;
  /** Offset just past the field's last line ending (continuation lines included). */
  end: number;
  /** Offset just past the colon. */
  valueStart: number;
}

const LF = 0x0a;
const CR = 0x0d;
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

function isBlankLine(buf: Buffer, start: number, end: number): boolean {
  const len = end - start;
  return (len === 1 && buf[start] === LF) || (len === 2 && buf[start] === CR && buf[start + 1] === LF);
}

/** Splits buf[start, end) into header fields, stopping at the blank line that ends the block. */
export function splitHeaderBlock(buf: Buffer, start: number, end: number): RawField[] {
  const fields: RawField[] = [];
  let pos = start;
  while (pos < end) {
    const lf = buf.indexOf(LF, pos);
    const lineEnd = lf < 0 || lf >= end ? end : lf + 1;
    if (isBlankLine(buf, pos, lineEnd)) break;
    const first = buf[pos];
    const last = fields[fields.length - 1];
    if ((first === 0x20 || first === 0x09) && last) {
      last.end = lineEnd;
    } else {
      const colon = buf.indexOf(0x3a, pos);
      let key = "";
      let valueStart = lineEnd;
      if (colon >= 0 && colon < lineEnd) {
        const name = buf.toString("latin1", pos, colon).replace(/[ \t]+$/, "");
        if (FIELD_NAME.test(name)) {
          key = name.toLowerCase();
          valueStart = colon + 1;
        }
      }
      fields.push({ key, start: pos, end: lineEnd, valueStart });
    }
    pos = lineEnd;
  }
  return fields;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Header bytes as text: UTF-8 when they are valid UTF-8 (RFC 6532), otherwise one char per byte. */
export function bytesToText(buf: Buffer): string {
  try {
    return strictUtf8.decode(buf);
  } catch {
    return buf.toString("latin1");
  }
}

/** RFC 5322 unfolding (CRLF before WSP removed, the WSP kept), trimmed. */
export function unfold(raw: string): string {
  return raw.replace(/\r?\n(?=[ \t])/g, "").replace(/[\r\n]+$/, "").trim();
}

/** The unfolded, trimmed text value of a field. */
export function fieldValue(buf: Buffer, field: RawField): string {
  return unfold(bytesToText(buf.subarray(field.valueStart, field.end)));
}

/** First field with the given lower-case key, or undefined. */
export function firstField(fields: RawField[], key: string): RawField | undefined {
  return fields.find((f) => f.key === key);
}
