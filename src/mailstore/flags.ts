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

export function hasFlag(flags: Iterable<string>, flag: string): boolean {
  const want = flag.toLowerCase();
  for (const f of flags) if (f.toLowerCase() === want) return true;
  return false;
}

export function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((f) => set.has(f));
}
