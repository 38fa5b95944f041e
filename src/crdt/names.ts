// Name resolution: the register winner of each mailbox, then unique display
// names when two visible mailboxes hold the same name (concurrent CREATE or
// RENAME of "Foo" on two sides of a split brain).

import { createHash } from "node:crypto";
import { type CrdtState, type MailboxState, type NameEntry, mailboxVisible } from "./state";

/** Total order on register writes; only used between concurrent writes. */
export function compareEntries(a: NameEntry, b: NameEntry): number {
  if (a.seq !== b.seq) return a.seq - b.seq;
  if (a.replica !== b.replica) return a.replica < b.replica ? -1 : 1;
  return a.index - b.index;
}

export function registerName(mb: MailboxState): string | undefined {
  let best: NameEntry | undefined;
  for (const e of mb.names) if (!best || compareEntries(e, best) > 0) best = e;
  return best?.name;
}

/** INBOX is case-insensitive (RFC 3501 §5.1); every other name is case-sensitive. */
export function nameKey(name: string): string {
  return name.toUpperCase() === "INBOX" ? "INBOX" : name;
}

function rankForName(a: MailboxState, b: MailboxState): number {
  // The fixed default folders always keep their names; otherwise the smaller id wins.
  const da = a.id.startsWith("default:") ? 0 : 1;
  const db = b.id.startsWith("default:") ? 0 : 1;
  if (da !== db) return da - db;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function suffix(id: string): string {
  return createHash("sha256").update(id).digest("hex").slice(0, 8);
}

/** Visible mailbox id → its unique display name. A pure function of the state. */
export function computeNames(state: CrdtState): Map<string, string> {
  const groups = new Map<string, Array<{ mb: MailboxState; name: string }>>();
  for (const mb of state.mailboxes.values()) {
    if (!mailboxVisible(mb)) continue;
    const name = registerName(mb);
    if (name === undefined) continue;
    const key = nameKey(name);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push({ mb, name });
  }
  const out = new Map<string, string>();
  const used = new Set<string>();
  const losers: Array<{ mb: MailboxState; name: string }> = [];
  for (const [key, g] of groups) {
    g.sort((x, y) => rankForName(x.mb, y.mb));
    out.set(g[0].mb.id, g[0].name);
    used.add(key);
    for (let i = 1; i < g.length; i++) losers.push(g[i]);
  }
  losers.sort((x, y) => rankForName(x.mb, y.mb));
  for (const { mb, name } of losers) {
    let candidate = `${name}-${suffix(mb.id)}`;
    for (let n = 2; used.has(nameKey(candidate)); n++) candidate = `${name}-${suffix(mb.id)}-${n}`;
    used.add(nameKey(candidate));
    out.set(mb.id, candidate);
  }
  return out;
}

export function resolvedNames(state: CrdtState): Map<string, string> {
  if (!state.nameCache) state.nameCache = computeNames(state);
  return state.nameCache;
}
