// Tombstones. An expunged message stays in its mailbox's map, removed, for as
// long as an op that names it may still arrive: a flag change or a second
// expunge made concurrently must find it gone, and its uid claim must retire
// the uid if a concurrent add claimed the same one. Once the removal and
// every op concurrent with it have reached every replica, nothing can name
// the message again and it can go. Only the shell can tell when that is (it
// has the acknowledgements); this file only does the purge.
//
// A purge is local and changes nothing observable: the digest leaves
// tombstones out, and maxClaimed stays, so a purged uid is never handed out
// again.

import type { CrdtState } from "./state";
import type { Tag } from "./types";

/** A removed message, by mailbox and message id. */
export type Tombstone = readonly [mailboxId: Tag, messageId: Tag];

export function tombstones(state: CrdtState): Tombstone[] {
  const out: Tombstone[] = [];
  for (const mb of state.mailboxes.values()) {
    for (const msg of mb.messages.values()) if (msg.removed) out.push([mb.id, msg.id]);
  }
  return out;
}

/** Drops these tombstones and the uid claims they hold; returns how many were dropped. */
export function purgeTombstones(state: CrdtState, which: readonly Tombstone[]): number {
  let n = 0;
  for (const [mailboxId, messageId] of which) {
    const mb = state.mailboxes.get(mailboxId);
    const msg = mb?.messages.get(messageId);
    if (!mb || !msg?.removed) continue;
    mb.messages.delete(messageId);
    if (mb.claims.get(msg.claim) === messageId) mb.claims.delete(msg.claim);
    n++;
  }
  return n;
}
