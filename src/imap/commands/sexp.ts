// MIME response data (ENVELOPE, BODY, BODYSTRUCTURE) to wire bytes. Leaves go
// through the response writer; lists honour the MIME module's ADJACENT marker
// (RFC 3501 writes multipart bodies and envelope addresses without SP).
import { ADJACENT, type Sexp } from "../../mime/types";
import { encodeValue } from "../writer";

export function encodeSexp(value: Sexp): Buffer {
  const out: Buffer[] = [];
  write(value, out);
  return Buffer.concat(out);
}

const OPEN = Buffer.from("(");
const CLOSE = Buffer.from(")");
const SP = Buffer.from(" ");

function write(value: Sexp, out: Buffer[]): void {
  if (!Array.isArray(value)) {
    out.push(encodeValue(value));
    return;
  }
  const adjacent = (value as Sexp[] & { [ADJACENT]?: number })[ADJACENT] ?? 0;
  out.push(OPEN);
  value.forEach((item, i) => {
    if (i > 0 && i >= adjacent) out.push(SP);
    write(item, out);
  });
  out.push(CLOSE);
}
