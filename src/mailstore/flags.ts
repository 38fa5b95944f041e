// Flag normalisation. System flags are case-insensitive (RFC 3501 §2.3.2) and
// are stored in their canonical spelling; \Recent is per session, never stored.

const SYSTEM_FLAGS = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"];
const CANONICAL = new Map(SYSTEM_FLAGS.map((f) => [f.toLowerCase(), f]));

export function normalizeFlags(flags: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const raw of flags) {
    const lower = raw.toLowerCase();
    if (lower === "\\recent" || raw.length === 0) continue;
    if (seen.has(lower)) continue;
    seen.add(lower);
    out.push(CANONICAL.get(lower) ?? raw);
  }
  return out;
}

/** Case-insensitive flag test. EXPUNGE and SEARCH run it on every message of a mailbox. */
export function hasFlag(flags: readonly string[], flag: string): boolean {
  return hasLowerFlag(flags, flag, flag.toLowerCase());
}

/** hasFlag with `want`, `flag` lower-cased, computed once by the caller. Exact and length checks spare most toLowerCase calls. */
export function hasLowerFlag(flags: readonly string[], flag: string, want: string): boolean {
  for (let i = 0; i < flags.length; i++) {
    const f = flags[i]!;
    if (f === flag || (f.length === want.length && f.toLowerCase() === want)) return true;
  }
  return false;
}

export function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((f) => set.has(f));
}
