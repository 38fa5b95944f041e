// applyOp: the one place where the state changes. Deterministic: the result
// depends only on the state and the op (no clock, no I/O, no randomness).

import type { Effect, Op, ReplicaId, Tag } from "./types";
import { DEFAULT_MAILBOXES } from "./types";
import {
  type CrdtState,
  type MailboxState,
  type MessageRecord,
  type MessageState,
  findByUid,
  insertByUid,
  liveFlags,
  mailboxVisible,
  newMailbox,
} from "./state";
import { resolvedNames } from "./names";

export type StateChange =
  | { kind: "mailbox"; mailboxId: Tag }
  | { kind: "message.added"; mailboxId: Tag; messageId: Tag; uid: number }
  | { kind: "message.removed"; mailboxId: Tag; messageId: Tag; uid: number }
  | { kind: "flags"; mailboxId: Tag; messageId: Tag }
  | { kind: "subscriptions" };

export interface ReassignRequest {
  mailboxId: Tag;
  messageId: Tag;
  origin: ReplicaId;
}

export interface ApplyResult {
  applied: boolean;
  changes: StateChange[];
  reassign: ReassignRequest[];
}

/** Thrown when an op arrives before its causal context: a replication bug, never a data condition. */
export class CausalityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CausalityError";
  }
}

export function makeTag(replica: ReplicaId, seq: number, index: number): Tag {
  return `${replica}:${seq}:${index}`;
}

export const GENESIS_REPLICA = "genesis";

export function genesisOp(): Op {
  const effects: Effect[] = [];
  for (const m of DEFAULT_MAILBOXES) {
    const e: Effect = { type: "mailbox.create", mailboxId: m.mailboxId, name: m.name, uidValidity: 1 };
    if (m.specialUse !== undefined) e.specialUse = m.specialUse;
    effects.push(e);
  }
  for (const m of DEFAULT_MAILBOXES) effects.push({ type: "subscription.add", name: m.name });
  return { id: { replica: GENESIS_REPLICA, seq: 1 }, deps: {}, effects };
}

interface Ctx {
  state: CrdtState;
  op: Op;
  index: number;
  changes: StateChange[];
  reassign: ReassignRequest[];
}

export function applyOp(state: CrdtState, op: Op): ApplyResult {
  const { replica, seq } = op.id;
  const have = state.vv[replica] ?? 0;
  if (seq <= have) return { applied: false, changes: [], reassign: [] };
  if (seq !== have + 1) {
    throw new CausalityError(`op ${replica}:${seq} arrived before ${replica}:${have + 1}`);
  }
  for (const [r, n] of Object.entries(op.deps)) {
    if (r !== replica && (state.vv[r] ?? 0) < n) {
      throw new CausalityError(`op ${replica}:${seq} depends on ${r}:${n}, delivered ${state.vv[r] ?? 0}`);
    }
  }

  const namesBefore = resolvedNames(state);
  const ctx: Ctx = { state, op, index: 0, changes: [], reassign: [] };
  for (let i = 0; i < op.effects.length; i++) {
    ctx.index = i;
    applyEffect(ctx, op.effects[i]);
  }
  state.vv[replica] = seq;

  if (state.nameCache === null) {
    // Mailbox changes are reported for every mailbox whose visibility or
    // display name moved, including a bystander whose disambiguated name changed.
    // Appearing mailboxes go first (so message.added finds them), the rest last.
    const namesAfter = resolvedNames(state);
    const appeared: StateChange[] = [];
    const other: StateChange[] = [];
    const ids = new Set([...namesBefore.keys(), ...namesAfter.keys()]);
    for (const id of [...ids].sort()) {
      const before = namesBefore.get(id);
      const after = namesAfter.get(id);
      if (before === after) continue;
      (before === undefined ? appeared : other).push({ kind: "mailbox", mailboxId: id });
    }
    ctx.changes = [...appeared, ...ctx.changes, ...other];
  }
  return { applied: true, changes: ctx.changes, reassign: ctx.reassign };
}

function effectTag(ctx: Ctx): Tag {
  return makeTag(ctx.op.id.replica, ctx.op.id.seq, ctx.index);
}

function mailbox(ctx: Ctx, id: Tag): MailboxState {
  let mb = ctx.state.mailboxes.get(id);
  if (!mb) {
    mb = newMailbox(id);
    ctx.state.mailboxes.set(id, mb);
  }
  return mb;
}

function addTag(ctx: Ctx, mb: MailboxState, tag: Tag): void {
  const wasVisible = mailboxVisible(mb);
  mb.tags.add(tag);
  if (!wasVisible && mailboxVisible(mb)) ctx.state.nameCache = null;
}

/** A multi-value register write: it supersedes every write in its causal past. */
function writeName(ctx: Ctx, mb: MailboxState, name: string): void {
  const { replica, seq } = ctx.op.id;
  const deps = ctx.op.deps;
  mb.names = mb.names.filter(
    (e) => !((e.replica === replica && e.seq <= seq) || (deps[e.replica] ?? 0) >= e.seq),
  );
  mb.names.push({ name, replica, seq, index: ctx.index });
  ctx.state.nameCache = null;
}

function applyEffect(ctx: Ctx, e: Effect): void {
  switch (e.type) {
    case "mailbox.create": {
      const mb = mailbox(ctx, e.mailboxId);
      if (!mb.created) {
        mb.created = true;
        mb.uidValidity = e.uidValidity;
        if (e.specialUse !== undefined) mb.specialUse = e.specialUse;
      }
      // HOOK (out of scope): a UIDVALIDITY reset, the design's last resort, would be a new
      // effect that sets mb.uidValidity and clears mb.claims/maxClaimed, counted as a metric.
      writeName(ctx, mb, e.name);
      addTag(ctx, mb, effectTag(ctx));
      return;
    }
    case "mailbox.rename": {
      const mb = mailbox(ctx, e.mailboxId);
      writeName(ctx, mb, e.name);
      addTag(ctx, mb, effectTag(ctx));
      return;
    }
    case "mailbox.delete": {
      const mb = ctx.state.mailboxes.get(e.mailboxId);
      if (!mb) return;
      const wasVisible = mailboxVisible(mb);
      removeMessages(ctx, mb, e.observedMessages);
      for (const t of e.observedTags) mb.tags.delete(t);
      if (wasVisible !== mailboxVisible(mb)) ctx.state.nameCache = null;
      return;
    }
    case "message.add": {
      const mb = mailbox(ctx, e.mailboxId);
      if (mb.messages.has(e.messageId)) return;
      const msg: MessageState = {
        id: e.messageId,
        mailboxId: e.mailboxId,
        origin: ctx.op.id.replica,
        blob: e.blob,
        size: e.size,
        internalDate: e.internalDate,
        flags: new Map(),
        claim: 0,
        removed: false,
        record: null,
      };
      for (const f of e.flags) msg.flags.set(f, new Set([e.messageId]));
      mb.messages.set(e.messageId, msg);
      addTag(ctx, mb, e.messageId);
      claim(ctx, mb, msg, e.uid);
      return;
    }
    case "message.remove": {
      const mb = ctx.state.mailboxes.get(e.mailboxId);
      if (mb) removeMessages(ctx, mb, e.messageIds);
      return;
    }
    case "flags.add": {
      const msg = liveMessage(ctx, e.mailboxId, e.messageId);
      if (!msg) return;
      const tag = effectTag(ctx);
      for (const f of e.flags) {
        let tags = msg.flags.get(f);
        if (!tags) msg.flags.set(f, (tags = new Set()));
        tags.add(tag);
      }
      refreshFlags(ctx, msg);
      return;
    }
    case "flags.remove": {
      const msg = liveMessage(ctx, e.mailboxId, e.messageId);
      if (!msg) return;
      for (const { flag, tags } of e.observed) {
        const have = msg.flags.get(flag);
        if (!have) continue;
        for (const t of tags) have.delete(t);
        if (have.size === 0) msg.flags.delete(flag);
      }
      refreshFlags(ctx, msg);
      return;
    }
    case "uid.reassign": {
      const mb = ctx.state.mailboxes.get(e.mailboxId);
      const msg = mb?.messages.get(e.messageId);
      if (!mb || !msg) return;
      ctx.state.uidReassignments++;
      claim(ctx, mb, msg, e.uid);
      return;
    }
    case "subscription.add": {
      let tags = ctx.state.subscriptions.get(e.name);
      if (!tags) ctx.state.subscriptions.set(e.name, (tags = new Set()));
      const was = tags.size > 0;
      tags.add(effectTag(ctx));
      if (!was) ctx.changes.push({ kind: "subscriptions" });
      return;
    }
    case "subscription.remove": {
      const tags = ctx.state.subscriptions.get(e.name);
      if (!tags || tags.size === 0) return;
      for (const t of e.observedTags) tags.delete(t);
      if (tags.size === 0) {
        ctx.state.subscriptions.delete(e.name);
        ctx.changes.push({ kind: "subscriptions" });
      }
      return;
    }
  }
}

function liveMessage(ctx: Ctx, mailboxId: Tag, messageId: Tag): MessageState | undefined {
  const msg = ctx.state.mailboxes.get(mailboxId)?.messages.get(messageId);
  // Expunge is final: flag changes racing with it are dropped.
  return msg && !msg.removed ? msg : undefined;
}

function refreshFlags(ctx: Ctx, msg: MessageState): void {
  if (!msg.record) return;
  const flags = liveFlags(msg);
  const old = msg.record.flags;
  if (flags.length === old.length && flags.every((f, i) => f === old[i])) return;
  const rec: MessageRecord = { ...msg.record, flags };
  const mb = ctx.state.mailboxes.get(msg.mailboxId)!;
  mb.visible[findByUid(mb.visible, rec.uid)] = rec;
  msg.record = rec;
  ctx.changes.push({ kind: "flags", mailboxId: msg.mailboxId, messageId: msg.id });
}

/**
 * A uid claim. Claims are kept forever, so a uid never names two messages:
 * the second distinct claimant of a uid retires it, both claimants lose it
 * and their origins are asked (via `reassign`) to claim fresh uids.
 */
function claim(ctx: Ctx, mb: MailboxState, msg: MessageState, uid: number): void {
  if (msg.record && msg.record.uid !== uid) hide(ctx, mb, [msg]);
  msg.claim = uid;
  if (uid > mb.maxClaimed) mb.maxClaimed = uid;
  const holder = mb.claims.get(uid);
  if (holder === undefined || holder === msg.id) {
    mb.claims.set(uid, msg.id);
    if (!msg.removed && !msg.record) show(ctx, mb, msg);
    return;
  }
  if (holder !== null) {
    mb.claims.set(uid, null);
    ctx.state.retiredUids++;
    const other = mb.messages.get(holder);
    if (other && other.claim === uid) {
      if (other.record) hide(ctx, mb, [other]);
      if (!other.removed) requestReassign(ctx, other);
    }
  }
  if (!msg.removed) requestReassign(ctx, msg);
}

function requestReassign(ctx: Ctx, msg: MessageState): void {
  ctx.reassign.push({ mailboxId: msg.mailboxId, messageId: msg.id, origin: msg.origin });
}

function show(ctx: Ctx, mb: MailboxState, msg: MessageState): void {
  const rec: MessageRecord = {
    messageId: msg.id,
    mailboxId: mb.id,
    uid: msg.claim,
    blob: msg.blob,
    size: msg.size,
    internalDate: msg.internalDate,
    flags: liveFlags(msg),
  };
  msg.record = rec;
  insertByUid(mb.visible, rec);
  ctx.changes.push({ kind: "message.added", mailboxId: mb.id, messageId: msg.id, uid: rec.uid });
}

/** Takes messages out of the visible list; one pass when there are many (large EXPUNGE or DELETE). */
function hide(ctx: Ctx, mb: MailboxState, msgs: MessageState[]): void {
  const recs: MessageRecord[] = [];
  for (const m of msgs) {
    if (!m.record) continue;
    recs.push(m.record);
    m.record = null;
  }
  if (recs.length === 0) return;
  if (recs.length <= 8) {
    for (const r of recs) {
      const at = findByUid(mb.visible, r.uid);
      if (at >= 0) mb.visible.splice(at, 1);
    }
  } else {
    // In place, so an array handed out by messages() stays the mailbox's list.
    const gone = new Set(recs);
    const list = mb.visible;
    let w = 0;
    for (let r = 0; r < list.length; r++) if (!gone.has(list[r])) list[w++] = list[r];
    list.length = w;
  }
  recs.sort((a, b) => a.uid - b.uid);
  for (const r of recs) {
    ctx.changes.push({ kind: "message.removed", mailboxId: mb.id, messageId: r.messageId, uid: r.uid });
  }
}

/**
 * Messages named by an op that are not in the map were removed and purged
 * (see purge.ts): the op is concurrent with nothing that still matters.
 */
function removeMessages(ctx: Ctx, mb: MailboxState, ids: readonly Tag[]): void {
  const wasVisible = mailboxVisible(mb);
  const hit: MessageState[] = [];
  for (const id of ids) {
    const msg = mb.messages.get(id);
    if (!msg || msg.removed) continue;
    msg.removed = true;
    // Flags of a tombstone are meaningless and would differ by arrival order.
    msg.flags.clear();
    // A message keeps its mailbox alive against a concurrent DELETE while it exists, not after.
    mb.tags.delete(id);
    hit.push(msg);
  }
  if (wasVisible !== mailboxVisible(mb)) ctx.state.nameCache = null;
  hide(ctx, mb, hit);
}
