import type { Token } from "../types";
import { imap } from "utf7";
import { astringValue } from "./tokens";
export function decodeMailboxName(token: Token): string {
  const s = imap.decode(astringValue(token));
  return s.toUpperCase() === "INBOX" ? "INBOX" : s;
}
export function encodeMailboxName(name: string): string { return imap.encode(name); }
