// Effect builders: pure reads of the state producing the effects a shell puts
// into an op. Removals carry exactly what this replica has observed, which is
// what makes concurrent adds win.

import type { Effect, Tag } from "./types";
import type { CrdtState } from "./state";
import { uidNext } from "./queries";

export function buildCreate(
  _state: CrdtState,
  mailboxId: Tag,
  name: string,
  uidValidity: number,
  specialUse?: string,
): Effect {
  const e: Effect = { type: "mailbox.create", mailboxId, name, uidValidity };
  if (specialUse !== undefined) e.specialUse = specialUse;
  return e;
}

export function buildRename(_state: CrdtState, mailboxId: Tag, name: string): Effect {
  return { type: "mailbox.rename", mailboxId, name };
}

export function buildDelete(state: CrdtState, mailboxId: Tag): Effect {
  const mb = state.mailboxes.get(mailboxId);
  const observedTags = mb ? [...mb.tags].sort() : [];
  const observedMessages: Tag[] = [];
  if (mb) for (const m of mb.messages.values()) if (!m.removed) observedMessages.push(m.id);
  observedMessages.sort();
  return { type: "mailbox.delete", mailboxId, observedTags, observedMessages };
}

export function buildRemoveMessages(mailboxId: Tag, messageIds: Tag[]): Effect {
  return { type: "message.remove", mailboxId, messageIds: [...messageIds] };
}

/** [] when nothing would change (the caller then writes no op). */
export function buildFlagChange(
  state: CrdtState,
  mailboxId: Tag,
  messageId: Tag,
  mode: "set" | "add" | "remove",
  flags: string[],
): Effect[] {
  const msg = state.mailboxes.get(mailboxId)?.messages.get(messageId);
  if (!msg || msg.removed) return [];
  const wanted = [...new Set(flags)].sort();
  const present = (f: string) => (msg.flags.get(f)?.size ?? 0) > 0;
  const observe = (list: string[]) =>
    list.filter(present).map((flag) => ({ flag, tags: [...msg.flags.get(flag)!].sort() }));
  const out: Effect[] = [];
  if (mode === "add") {
    // A fresh tag even for a flag already set: add-wins against a concurrent -FLAGS.
    if (wanted.length > 0) out.push({ type: "flags.add", mailboxId, messageId, flags: wanted });
    return out;
  }
  if (mode === "remove") {
    const observed = observe(wanted);
    if (observed.length > 0) out.push({ type: "flags.remove", mailboxId, messageId, observed });
    return out;
  }
  const keep = new Set(wanted);
  const observed = observe([...msg.flags.keys()].filter((f) => !keep.has(f)).sort());
  if (observed.length > 0) out.push({ type: "flags.remove", mailboxId, messageId, observed });
  const missing = wanted.filter((f) => !present(f));
  if (missing.length > 0) out.push({ type: "flags.add", mailboxId, messageId, flags: missing });
  return out;
}

export function buildSubscribe(name: string): Effect {
  return { type: "subscription.add", name };
}

export function buildUnsubscribe(state: CrdtState, name: string): Effect {
  const tags = state.subscriptions.get(name);
  return { type: "subscription.remove", name, observedTags: tags ? [...tags].sort() : [] };
}

/**
 * uid.reassign effects for messages this replica originated, with fresh uids
 * above every uid it has seen; consecutive within one op per mailbox.
 */
export function buildReassigns(state: CrdtState, items: ReadonlyArray<{ mailboxId: Tag; messageId: Tag }>): Effect[] {
  const next = new Map<Tag, number>();
  const out: Effect[] = [];
  for (const { mailboxId, messageId } of items) {
    const uid = next.get(mailboxId) ?? uidNext(state, mailboxId);
    next.set(mailboxId, uid + 1);
    out.push({ type: "uid.reassign", mailboxId, messageId, uid });
  }
  return out;
}
