// Mailbox name rules. Names are Unicode with "/" as the hierarchy separator;
// INBOX is case-insensitive (RFC 3501 §5.1), and so is the INBOX prefix of
// its inferiors, as in Dovecot.

import { StoreError } from "../imap/store-port";

export const SEPARATOR = "/";
const MAX_NAME_BYTES = 1000;

export function normalizeName(name: string): string {
  const upper = name.slice(0, 6).toUpperCase();
  if (upper === "INBOX") return name.length === 5 ? "INBOX" : name;
  if (upper === "INBOX/") return "INBOX" + name.slice(5);
  return name;
}

/**
 * Checks a name a client wants to create or rename to, and returns it
 * normalised; a single trailing separator is dropped (RFC 3501 §6.3.3).
 */
export function checkNewName(raw: string): string {
  if (raw.includes("//")) throw invalid(raw, "contains an empty hierarchy level");
  const name = raw.endsWith(SEPARATOR) ? raw.slice(0, -1) : raw;
  if (name.length === 0) throw invalid(raw, "is empty");
  if (/[\0\r\n]/.test(name)) throw invalid(raw, "contains NUL, CR or LF");
  if (name.startsWith(SEPARATOR)) throw invalid(raw, "starts with the hierarchy separator");
  // LIST patterns could never match such names exactly.
  if (/[*%]/.test(name)) throw invalid(raw, "contains a LIST wildcard");
  if (Buffer.byteLength(name, "utf8") > MAX_NAME_BYTES) throw invalid(raw, "is too long");
  return normalizeName(name);
}

/** "a/b/c" → ["a", "a/b"]. */
export function superiorNames(name: string): string[] {
  const parts = name.split(SEPARATOR);
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join(SEPARATOR));
  return out;
}

export function isInferior(name: string, of: string): boolean {
  return name.startsWith(of + SEPARATOR);
}

function invalid(name: string, why: string): StoreError {
  return new StoreError("CANNOT", `Invalid mailbox name ${JSON.stringify(name.slice(0, 100))}: ${why}`);
}
