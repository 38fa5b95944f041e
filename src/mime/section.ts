// BODY[section] (RFC 3501 §6.4.5): which bytes of the stored message a section names.

import type { SectionSpec } from "../imap/types";
import { splitHeaderBlock } from "./header-block";
import type { MimeNode } from "./types";

const CRLF = Buffer.from("\r\n");

/** Within a message: a multipart's n-th part, or for a single-part message part 1 = its body. */
function partOfMessage(message: MimeNode, n: number): MimeNode | null {
  if (message.multipart) return message.children[n - 1] ?? null;
  return n === 1 ? message : null;
}

/** The node a part number names, or null if there is none. */
export function resolvePart(root: MimeNode, path: number[]): MimeNode | null {
  let node: MimeNode | null = null;
  for (const n of path) {
    if (!Number.isInteger(n) || n < 1) return null;
    if (node === null) node = partOfMessage(root, n);
    else if (node.multipart) node = node.children[n - 1] ?? null;
    else if (node.message) node = partOfMessage(node.message, n);
    else return null;
    if (node === null) return null;
  }
  return node;
}

function headerFields(body: Buffer, message: MimeNode, names: string[], keep: boolean): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const out: Buffer[] = [];
  for (const field of splitHeaderBlock(body, message.headerStart, message.bodyStart)) {
    if (field.key === "" || wanted.has(field.key) !== keep) continue;
    out.push(body.subarray(field.start, field.end));
    // The last field of a header block without a final line break still ends its line.
    if (body[field.end - 1] !== 0x0a) out.push(CRLF);
  }
  out.push(CRLF);
  return Buffer.concat(out);
}

/** HEADER, HEADER.FIELDS[.NOT] and TEXT of a message (top level or embedded). */
function ofMessage(body: Buffer, message: MimeNode, spec: SectionSpec): Buffer | null {
  switch (spec.text) {
    case "HEADER":
      return body.subarray(message.headerStart, message.bodyStart);
    case "HEADER.FIELDS":
      return headerFields(body, message, spec.fields ?? [], true);
    case "HEADER.FIELDS.NOT":
      return headerFields(body, message, spec.fields ?? [], false);
    case "TEXT":
      return body.subarray(message.bodyStart, message.bodyEnd);
    default:
      return null;
  }
}

/** The bytes of BODY[section] before any <partial> is applied; null when the section does not exist. */
export function section(body: Buffer, root: MimeNode, spec: SectionSpec): Buffer | null {
  if (spec.part.length === 0) {
    if (spec.text === undefined) return body;
    return ofMessage(body, root, spec);
  }
  const node = resolvePart(root, spec.part);
  if (!node) return null;
  if (spec.text === undefined) return body.subarray(node.bodyStart, node.bodyEnd);
  if (spec.text === "MIME") return body.subarray(node.headerStart, node.bodyStart);
  // n.HEADER / n.TEXT only exist where part n is itself a message.
  return node.message ? ofMessage(body, node.message, spec) : null;
}
