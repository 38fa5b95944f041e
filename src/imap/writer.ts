export class Atom { constructor(readonly text: string) {} }
export class Literal { constructor(readonly data: Buffer) {} }
export type ImapValue = string | number | null | Buffer | Atom | Literal | ImapValue[];
export function encodeValue(v: ImapValue): Buffer {
  if (v === null) return Buffer.from("NIL");
  if (typeof v === "number") return Buffer.from(String(v));
  if (v instanceof Atom) return Buffer.from(v.text);
  if (v instanceof Literal) return Buffer.concat([Buffer.from(`{${v.data.length}}\r\n`), v.data]);
  if (Buffer.isBuffer(v)) return Buffer.concat([Buffer.from(`{${v.length}}\r\n`), v]);
  if (Array.isArray(v)) {
    const parts: Buffer[] = [Buffer.from("(")];
    v.forEach((x, i) => { if (i) parts.push(Buffer.from(" ")); parts.push(encodeValue(x)); });
    parts.push(Buffer.from(")"));
    return Buffer.concat(parts);
  }
  if (/^[\x01-\x09\x0b\x0c\x0e-\x7f]*$/.test(v) && v.length < 1000) return Buffer.from(quoted(v));
  const b = Buffer.from(v); return Buffer.concat([Buffer.from(`{${b.length}}\r\n`), b]);
}
export function quoted(s: string): string { return `"${s.replace(/[\\"]/g, (c) => "\\" + c)}"`; }
