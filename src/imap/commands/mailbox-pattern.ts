// LIST/LSUB mailbox patterns (RFC 3501 §6.3.8): `*` matches anything, `%`
// anything but the separator; INBOX matches case-insensitively.
import { imap as utf7 } from "utf7";
import { encodeMailboxName } from "../grammar/mailbox-name";
import { astringValue } from "../grammar/tokens";
import { encodeValue } from "../writer";
import { ProtocolError } from "../tokenizer";
import type { Token } from "../types";

export const SEPARATOR = "/";

/** reference and pattern of LIST/LSUB, decoded from modified UTF-7. */
export function parseListArgs(args: Token[]): { reference: string; pattern: string } {
  if (args.length !== 2) throw new ProtocolError("Expected reference name and mailbox pattern");
  return { reference: listString(args[0]!), pattern: listString(args[1]!) };
}

function listString(t: Token): string {
  // astringValue reads the bare word NIL as the name "NIL", as RFC 3501's grammar does.
  const raw = astringValue(t);
  try {
    return utf7.decode(raw);
  } catch {
    throw new ProtocolError("Invalid modified UTF-7 in mailbox name");
  }
}

export class MailboxPattern {
  private readonly re: RegExp;
  /** `%` at the end also returns the levels of hierarchy it matches (RFC 3501 §6.3.8). */
  readonly endsWithPercent: boolean;

  constructor(private readonly pattern: string) {
    const body = [...pattern]
      .map((c) => (c === "*" ? ".*" : c === "%" ? "[^/]*" : c.replace(/[\\^$.|?+()[\]{}]/g, "\\$&")))
      .join("");
    this.re = new RegExp(`^${body}$`, "s");
    this.endsWithPercent = pattern.endsWith("%");
  }

  matches(name: string): boolean {
    if (this.re.test(name)) return true;
    const head = this.pattern.slice(0, 5);
    if (head.toUpperCase() === "INBOX" && (name === "INBOX" || name.startsWith("INBOX/"))) {
      return this.re.test(head + name.slice(5));
    }
    return false;
  }
}

/** RFC 3501 leaves the combination to the server; like Dovecot, the reference is a plain prefix. */
export function canonicalPattern(reference: string, pattern: string): string {
  if (pattern.startsWith(SEPARATOR) && reference.endsWith(SEPARATOR)) return reference + pattern.slice(1);
  return reference + pattern;
}

/** Names that exist only as the superiors of other names. */
export function impliedParents(names: Iterable<string>): Set<string> {
  const all = new Set(names);
  const out = new Set<string>();
  for (const n of all) {
    const parts = n.split(SEPARATOR);
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join(SEPARATOR);
      if (p !== "" && !all.has(p)) out.add(p);
    }
  }
  return out;
}

/** INBOX first, then by name. */
export function mailboxOrder(a: string, b: string): number {
  if (a === "INBOX") return b === "INBOX" ? 0 : -1;
  if (b === "INBOX") return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `LIST (attrs) "/" name` as response content. */
export function listLine(kind: "LIST" | "LSUB", attrs: string[], name: string): Buffer {
  return Buffer.concat([
    Buffer.from(`${kind} (${attrs.join(" ")}) "${SEPARATOR}" `),
    encodeValue(encodeMailboxName(name)),
  ]);
}
