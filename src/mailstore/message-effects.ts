// Effects that put existing or new messages into a mailbox. APPEND, COPY,
// MOVE and RENAME INBOX all come down to message.add effects whose message
// ids are tags of the op being built and whose UIDs are consecutive from the
// destination's UIDNEXT.

import { makeTag } from "../crdt";
import type { Effect, Tag } from "../crdt/types";

export interface MessageSource {
  blob: string;
  size: number;
  internalDate: number;
  flags: readonly string[];
}

/**
 * Appends message.add effects to `effects`; the tag index of each is its
 * position in the op, so tags stay unique. Returns the UIDs given.
 */
export function addMessages(
  effects: Effect[],
  replica: string,
  seq: number,
  mailboxId: Tag,
  firstUid: number,
  sources: readonly MessageSource[],
): number[] {
  const uids: number[] = [];
  sources.forEach((s, i) => {
    const uid = firstUid + i;
    effects.push({
      type: "message.add",
      mailboxId,
      messageId: makeTag(replica, seq, effects.length),
      blob: s.blob,
      size: s.size,
      internalDate: s.internalDate,
      flags: [...s.flags],
      uid,
    });
    uids.push(uid);
  });
  return uids;
}

export function asEffects(x: Effect | readonly Effect[] | null | undefined): Effect[] {
  if (!x) return [];
  return Array.isArray(x) ? [...(x as readonly Effect[])] : [x as Effect];
}
