// Decoded views for SEARCH: header values (RFC 2047), body text (transfer
// encoding + charset → UTF-8) and the Date: header as a timestamp.

import libmime from "libmime";
import { decode as decodeCharset } from "libmime/lib/charset";
import { decode as decodeBase64 } from "libbase64";
import { decode as decodeQp } from "libqp";
import { fieldValue, splitHeaderBlock } from "./header-block";
import type { MimeNode } from "./types";

function decodeWords(value: string): string {
  try {
    return libmime.decodeWords(value);
  } catch {
    return value; // unknown charset in an encoded-word: search the text as sent
  }
}

/** Decoded values of every top-level header field with this name, in order. */
export function headerValues(body: Buffer, root: MimeNode, field: string): string[] {
  const key = field.toLowerCase();
  return splitHeaderBlock(body, root.headerStart, root.bodyStart)
    .filter((f) => f.key === key)
    .map((f) => decodeWords(fieldValue(body, f)));
}

function transferDecode(raw: Buffer, encoding: string | null): Buffer {
  switch (encoding?.toLowerCase()) {
    case "base64":
      // libbase64 passes a Buffer through as already decoded; it wants the text.
      return decodeBase64(raw.toString("latin1"));
    case "quoted-printable":
      return decodeQp(raw);
    default:
      return raw;
  }
}

function partText(body: Buffer, node: MimeNode): string {
  const raw = transferDecode(body.subarray(node.bodyStart, node.bodyEnd), node.encoding);
  const charset = node.params.find((p) => p.name === "charset")?.value;
  try {
    return decodeCharset(raw, charset ?? "utf-8");
  } catch {
    return raw.toString("utf8");
  }
}

function collectText(body: Buffer, node: MimeNode, out: string[]): void {
  if (node.multipart) node.children.forEach((c) => collectText(body, c, out));
  else if (node.message) collectText(body, node.message, out);
  else if (node.type.toLowerCase() === "text") out.push(partText(body, node));
}

/** The decoded text of all text/* parts, embedded messages included; other parts are skipped. */
export function searchableText(body: Buffer, root: MimeNode): string {
  const out: string[] = [];
  collectText(body, root, out);
  return out.join("\n");
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
// RFC 5322 §4.3 obsolete zone names; unknown ones count as +0000 as that section says.
const ZONES: Record<string, number> = {
  ut: 0, gmt: 0, z: 0, est: -500, edt: -400, cst: -600, cdt: -500, mst: -700, mdt: -600, pst: -800, pdt: -700,
};
const DATE = /(\d{1,2})\s+([a-z]{3})[a-z]*\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([+-]\d{4}|[a-z]+))?/i;

/** Date: header → epoch ms (RFC 5322 date-time, obsolete forms included); undefined if absent or unreadable. */
export function sentDate(body: Buffer, root: MimeNode): number | undefined {
  const value = root.envelope?.date ?? headerValues(body, root, "date")[0];
  const m = value ? DATE.exec(value) : null;
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[2]!.toLowerCase());
  if (month < 0) return undefined;
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  const zone = m[7] ? (/^[+-]/.test(m[7]) ? Number(m[7]) : (ZONES[m[7].toLowerCase()] ?? 0)) : 0;
  const zoneMinutes = Math.sign(zone) * (Math.floor(Math.abs(zone) / 100) * 60 + (Math.abs(zone) % 100));
  const utc = Date.UTC(year, month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0));
  const ms = utc - zoneMinutes * 60_000;
  return Number.isFinite(ms) ? ms : undefined;
}
