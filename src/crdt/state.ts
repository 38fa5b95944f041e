// Internal representation of one user's CRDT state. Callers only ever see the
// opaque UserState brand from index.ts; everything here is module-private.

import type { ReplicaId, Tag, VersionVector } from "./types";

/** A view of a message the IMAP layer reads; replaced (never mutated) when flags change. */
export interface MessageRecord {
  messageId: Tag;
  mailboxId: Tag;
  uid: number;
  blob: string;
  size: number;
  internalDate: number;
  flags: string[];
}

export interface MessageState {
  id: Tag;
  mailboxId: Tag;
  /** Replica that made the message.add: the only one allowed to issue uid.reassign for it. */
  origin: ReplicaId;
  blob: string;
  size: number;
  internalDate: number;
  /** Add-wins OR-Set: flag → tags of the adds not yet removed. */
  flags: Map<string, Set<Tag>>;
  /** The uid of this message's causally latest claim (its add or its last reassign). */
  claim: number;
  /** Expunged, or removed by a DELETE that observed it. Final. */
  removed: boolean;
  /** Non-null exactly while the message is visible (live and sole holder of its claim). */
  record: MessageRecord | null;
}

/** One write to a mailbox's name register; its position is the op id plus the effect index. */
export interface NameEntry {
  name: string;
  replica: ReplicaId;
  seq: number;
  index: number;
}

export interface MailboxState {
  id: Tag;
  /** False only for a placeholder made by an out-of-causal-order add; never visible. */
  created: boolean;
  uidValidity: number;
  specialUse?: string;
  /** Concurrent writes of the name register (a multi-value register; the winner is resolved on read). */
  names: NameEntry[];
  /** OR-Set existence tags: create tag, rename tags and message ids. Visible while non-empty. */
  tags: Set<Tag>;
  /** Every message ever added, including removed ones (tombstones keep uid claims and stop late flag changes). */
  messages: Map<Tag, MessageState>;
  /** uid → the one message that claimed it, or null once two different messages claimed it (retired). */
  claims: Map<number, Tag | null>;
  maxClaimed: number;
  /** Visible messages ascending by uid, maintained on every change. */
  visible: MessageRecord[];
}

export interface CrdtState {
  vv: VersionVector;
  mailboxes: Map<Tag, MailboxState>;
  subscriptions: Map<string, Set<Tag>>;
  /** uid.reassign effects applied: the metric of split-brain UID repairs. */
  uidReassignments: number;
  /** uids retired because two messages claimed them. */
  retiredUids: number;
  /** Resolved visible names, recomputed lazily after a change of names or visibility. */
  nameCache: Map<Tag, string> | null;
}

export function newCrdtState(): CrdtState {
  return {
    vv: {},
    mailboxes: new Map(),
    subscriptions: new Map(),
    uidReassignments: 0,
    retiredUids: 0,
    nameCache: null,
  };
}

export function mailboxVisible(mb: MailboxState): boolean {
  return mb.created && mb.tags.size > 0;
}

export function newMailbox(id: Tag): MailboxState {
  return {
    id,
    created: false,
    uidValidity: 0,
    names: [],
    tags: new Set(),
    messages: new Map(),
    claims: new Map(),
    maxClaimed: 0,
    visible: [],
  };
}

export function liveFlags(msg: MessageState): string[] {
  const out: string[] = [];
  for (const [flag, tags] of msg.flags) if (tags.size > 0) out.push(flag);
  return out.sort();
}

/** Index of the record with this uid in an ascending visible list, or -1. */
export function findByUid(list: readonly MessageRecord[], uid: number): number {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const u = list[mid].uid;
    if (u === uid) return mid;
    if (u < uid) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** Insertion point keeping the list ascending; the common case (a new highest uid) is O(1). */
export function insertByUid(list: MessageRecord[], rec: MessageRecord): void {
  if (list.length === 0 || list[list.length - 1].uid < rec.uid) {
    list.push(rec);
    return;
  }
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid].uid < rec.uid) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, rec);
}
