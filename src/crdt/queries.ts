// Read-only views of the state for the IMAP engine.

import type { ReplicaId, Tag } from "./types";
import { type CrdtState, type MessageRecord, mailboxVisible } from "./state";
import { nameKey, resolvedNames } from "./names";

export interface MailboxRecord {
  mailboxId: Tag;
  name: string;
  uidValidity: number;
  specialUse?: string;
}

function record(state: CrdtState, id: Tag, name: string): MailboxRecord {
  const mb = state.mailboxes.get(id)!;
  const r: MailboxRecord = { mailboxId: id, name, uidValidity: mb.uidValidity };
  if (mb.specialUse !== undefined) r.specialUse = mb.specialUse;
  return r;
}

export function listMailboxes(state: CrdtState): MailboxRecord[] {
  const out: MailboxRecord[] = [];
  for (const [id, name] of resolvedNames(state)) out.push(record(state, id, name));
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function findMailbox(state: CrdtState, name: string): MailboxRecord | undefined {
  const key = nameKey(name);
  for (const [id, n] of resolvedNames(state)) if (nameKey(n) === key) return record(state, id, n);
  return undefined;
}

export function mailboxById(state: CrdtState, id: Tag): MailboxRecord | undefined {
  const name = resolvedNames(state).get(id);
  return name === undefined ? undefined : record(state, id, name);
}

const EMPTY: readonly MessageRecord[] = Object.freeze([]);

export function messages(state: CrdtState, mailboxId: Tag): readonly MessageRecord[] {
  const mb = state.mailboxes.get(mailboxId);
  return mb && mailboxVisible(mb) ? mb.visible : EMPTY;
}

export function messageEntries(state: CrdtState): number {
  let n = 0;
  for (const mb of state.mailboxes.values()) n += mb.messages.size;
  return n;
}

export function messageByUid(state: CrdtState, mailboxId: Tag, uid: number): MessageRecord | undefined {
  const mb = state.mailboxes.get(mailboxId);
  if (!mb || !mailboxVisible(mb)) return undefined;
  const holder = mb.claims.get(uid);
  if (!holder) return undefined;
  const rec = mb.messages.get(holder)?.record;
  return rec && rec.uid === uid ? rec : undefined;
}

export function messageById(state: CrdtState, mailboxId: Tag, messageId: Tag): MessageRecord | undefined {
  const mb = state.mailboxes.get(mailboxId);
  if (!mb || !mailboxVisible(mb)) return undefined;
  return mb.messages.get(messageId)?.record ?? undefined;
}

export function uidNext(state: CrdtState, mailboxId: Tag): number {
  return (state.mailboxes.get(mailboxId)?.maxClaimed ?? 0) + 1;
}

export function subscriptions(state: CrdtState): string[] {
  const out: string[] = [];
  for (const [name, tags] of state.subscriptions) if (tags.size > 0) out.push(name);
  return out.sort();
}

export interface UidStats {
  /** uid.reassign effects applied (split-brain repairs). */
  reassignments: number;
  /** uids retired because two messages claimed them. */
  retiredUids: number;
  /** UIDVALIDITY changes; always 0 until the last-resort reset exists. */
  uidValidityResets: number;
}

export function uidStats(state: CrdtState): UidStats {
  return { reassignments: state.uidReassignments, retiredUids: state.retiredUids, uidValidityResets: 0 };
}

/**
 * Live messages made at `origin` that hold no uid because their claim was
 * retired: what that replica still owes a uid.reassign for. Lets a shell that
 * crashed between seeing `reassign` and writing the op catch up after restart.
 */
export function pendingReassignments(
  state: CrdtState,
  origin: ReplicaId,
): Array<{ mailboxId: Tag; messageId: Tag; origin: ReplicaId }> {
  const out: Array<{ mailboxId: Tag; messageId: Tag; origin: ReplicaId }> = [];
  for (const mb of [...state.mailboxes.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    for (const msg of mb.messages.values()) {
      if (msg.origin === origin && !msg.removed && !msg.record) {
        out.push({ mailboxId: mb.id, messageId: msg.id, origin });
      }
    }
  }
  return out;
}


/**
 * Origins that sort before `origin` and still owe reassigns in a mailbox where
 * `origin` owes one too. Two origins that reassign at the same moment both
 * pick the same uidNext and collide again, forever if they keep in step; a
 * shell that waits its turn while this is non-empty (with a timeout, for a
 * peer that is down) breaks that symmetry.
 */
export function reassignBlockers(state: CrdtState, origin: ReplicaId): ReplicaId[] {
  const out = new Set<ReplicaId>();
  for (const mb of state.mailboxes.values()) {
    let mine = false;
    const before = new Set<ReplicaId>();
    for (const msg of mb.messages.values()) {
      if (msg.removed || msg.record) continue;
      if (msg.origin === origin) mine = true;
      else if (msg.origin < origin) before.add(msg.origin);
    }
    if (mine) for (const r of before) out.add(r);
  }
  return [...out].sort();
}
