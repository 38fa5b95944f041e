// RFC 3501 §9 flags as a client may set them (STORE, APPEND):
//
//   flag-list    = "(" [flag *(SP flag)] ")"
//   flag         = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" /
//                  flag-keyword / flag-extension
//   flag-keyword = atom
//   flag-extension = "\" atom      ; future expansion
//
// System flags are case-insensitive and normalised to their canonical spelling.
// `\Recent` is session state the server alone sets (§2.3.2), and `\*` only
// appears in PERMANENTFLAGS; like Dovecot, any backslash flag other than the
// five settable system flags is refused with BAD ("Invalid system flag").
// Keywords keep the client's spelling; a later duplicate differing only in case
// is dropped (flags are case-insensitive).
import type { Token } from "../types";
import { ProtocolError } from "../tokenizer";
import { isAtom } from "./tokens";

/** The system flags a client may store or append, in canonical case. */
export const SETTABLE_SYSTEM_FLAGS = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"] as const;

const CANONICAL = new Map<string, string>(SETTABLE_SYSTEM_FLAGS.map((f) => [f.toLowerCase(), f]));

/** Longest keyword accepted (Dovecot's limit is similar; keeps FLAGS responses sane). */
export const MAX_KEYWORD_LENGTH = 250;

/**
 * One flag's text validated and normalised: a settable system flag in canonical
 * case, or a keyword atom as written. Throws ProtocolError (BAD) otherwise.
 */
export function parseFlag(text: string): string {
  if (text.startsWith("\\")) {
    const canonical = CANONICAL.get(text.toLowerCase());
    if (canonical) return canonical;
    if (text.toLowerCase() === "\\recent") throw new ProtocolError("\\Recent cannot be set by a client");
    throw new ProtocolError(`Invalid system flag ${text.slice(0, 40)}`);
  }
  if (!isAtom(text)) throw new ProtocolError(`Invalid flag keyword ${text.slice(0, 40)}`);
  if (text.length > MAX_KEYWORD_LENGTH) throw new ProtocolError("Flag keyword too long");
  return text;
}

/**
 * Flags of STORE / APPEND. Accepts a `flag-list` token, or (STORE's
 * `flag *(SP flag)` form) a single flag token or an array of flag tokens.
 * Strings, NIL and nested lists are not flags.
 */
export function parseFlagList(token: Token | Token[]): string[] {
  const items = Array.isArray(token) ? token : token.type === "list" ? token.items : [token];
  const out: string[] = [];
  const seen = new Set<string>();
  for (const t of items) {
    if (t.type === "nil") throw new ProtocolError("NIL is not a flag");
    if (t.type !== "atom") throw new ProtocolError("Flags must be atoms");
    const flag = parseFlag(t.value);
    const key = flag.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(flag);
  }
  return out;
}
