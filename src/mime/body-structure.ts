// RFC 3501 §7.4.2 BODY / BODYSTRUCTURE, laid out the way Dovecot writes them:
// type and subtype as found, "charset" "us-ascii" added to text parts without one,
// a multipart with no parts gets one empty text/plain part (1*body needs one).

import { envelope } from "./envelope";
import { ADJACENT, type MimeNode, type MimeParam, type Sexp } from "./types";

function paramList(params: MimeParam[], defaultCharset: boolean): Sexp {
  const out: Sexp[] = [];
  for (const p of params) out.push(p.name, p.value);
  if (defaultCharset && !params.some((p) => p.name === "charset")) out.push("charset", "us-ascii");
  return out.length > 0 ? out : null;
}

function extensionTail(node: MimeNode): Sexp[] {
  const disposition = node.disposition ? [node.disposition.value, paramList(node.disposition.params, false)] : null;
  return [disposition, node.language ? [...node.language] : null, node.location];
}

function emptyTextPart(extended: boolean): Sexp {
  const basic: Sexp[] = ["text", "plain", ["charset", "us-ascii"], null, null, "7bit", 0, 0];
  return extended ? [...basic, null, null, null, null] : basic;
}

export function bodyStructure(node: MimeNode, extended: boolean): Sexp {
  if (node.multipart) {
    const bodies = node.children.length > 0 ? node.children.map((c) => bodyStructure(c, extended)) : [emptyTextPart(extended)];
    const out: Sexp[] = [...bodies, node.subtype];
    if (extended) out.push(paramList(node.params, false), ...extensionTail(node));
    Object.defineProperty(out, ADJACENT, { value: bodies.length, enumerable: false });
    return out;
  }
  const isText = !node.message && node.type.toLowerCase() === "text";
  const out: Sexp[] = node.message ? ["message", "rfc822"] : [node.type, node.subtype];
  out.push(paramList(node.params, isText), node.id, node.description, node.encoding ?? "7bit", node.size);
  if (node.message) out.push(envelope(node.message), bodyStructure(node.message, extended), node.lines);
  else if (isText) out.push(node.lines);
  if (extended) out.push(node.md5, ...extensionTail(node));
  return out;
}
