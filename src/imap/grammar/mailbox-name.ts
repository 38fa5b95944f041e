// Mailbox names travel as modified UTF-7 (RFC 3501 §5.1.3); everything behind the protocol uses Unicode.
import type { Token } from "../types";
import { imap } from "utf7";
import { ProtocolError } from "../tokenizer";
import { astringValue } from "./tokens";

export function decodeMailboxName(token: Token): string {
  const wire = astringValue(token);
  // Raw 8-bit is not modified UTF-7; a name that does not re-encode to itself is malformed (e.g. "&" unterminated).
  if (/[^\x20-\x7e]/.test(wire)) throw new ProtocolError("mailbox name must be 7-bit modified UTF-7");
  const name = imap.decode(wire);
  if (imap.encode(name) !== wire) throw new ProtocolError("mailbox name is not valid modified UTF-7");
  return name.toUpperCase() === "INBOX" ? "INBOX" : name;
}

export function encodeMailboxName(name: string): string {
  return imap.encode(name);
}
