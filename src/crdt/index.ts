// Public API of the per-user mail CRDT (see DESIGN.md, "The CRDT model").
// Every change goes through applyOp; everything else reads the state or
// builds effects from it. UserState is opaque: only this module looks inside.

import type { Effect, Op, ReplicaId, Tag, VersionVector } from "./types";
import type { CrdtState } from "./state";
import * as apply from "./apply";
import * as builders from "./builders";
import * as codec from "./codec";
import * as q from "./queries";
import * as purge from "./purge";

export * from "./types";
export type { MessageRecord } from "./state";
export type { MailboxRecord, UidStats } from "./queries";
export type { StateChange, ApplyResult, ReassignRequest } from "./apply";
export type { Tombstone } from "./purge";
export { CausalityError, GENESIS_REPLICA } from "./apply";
export { isCausallyReady, isDelivered, dominates, mergeVectors, commonVector } from "./causality";

import type { MessageRecord } from "./state";
import type { MailboxRecord, UidStats } from "./queries";
import type { ApplyResult } from "./apply";
import { newCrdtState } from "./state";

declare const userStateBrand: unique symbol;
export type UserState = { readonly [userStateBrand]: "UserState" };

const inner = (s: UserState): CrdtState => s as unknown as CrdtState;
const outer = (s: CrdtState): UserState => s as unknown as UserState;

export function createState(): UserState {
  return outer(newCrdtState());
}

/** id {replica:"genesis", seq:1}, deps {}: the default folders (uidValidity 1), all subscribed. */
export function genesisOp(): Op {
  return apply.genesisOp();
}

/**
 * Applies one op: idempotent by op id (a redelivery returns applied: false),
 * throws CausalityError if the op's causal context has not been delivered.
 * `reassign` lists messages whose uid claim collided; the replica equal to
 * `origin` must answer with a uid.reassign op (see buildReassigns).
 * Arrays from messages() stay valid and are updated in place by later ops.
 */
export function applyOp(state: UserState, op: Op): ApplyResult {
  return apply.applyOp(inner(state), op);
}

export function versionVector(state: UserState): VersionVector {
  return { ...inner(state).vv };
}

export function digest(state: UserState): string {
  return codec.digest(inner(state));
}

/** Visible mailboxes, each with a unique resolved name, sorted by name. */
export function listMailboxes(state: UserState): MailboxRecord[] {
  return q.listMailboxes(inner(state));
}

/** By resolved name; "INBOX" in any case. */
export function findMailbox(state: UserState, name: string): MailboxRecord | undefined {
  return q.findMailbox(inner(state), name);
}

export function mailboxById(state: UserState, mailboxId: Tag): MailboxRecord | undefined {
  return q.mailboxById(inner(state), mailboxId);
}

/** Visible messages ascending by uid. A live view: do not mutate it; copy it to keep a snapshot. */
export function messages(state: UserState, mailboxId: Tag): readonly MessageRecord[] {
  return q.messages(inner(state), mailboxId);
}

/** The removed messages the state still holds. */
export function tombstones(state: UserState): purge.Tombstone[] {
  return purge.tombstones(inner(state));
}

/**
 * Drops tombstones whose removal, and every op concurrent with it, every
 * replica has delivered: no op that names them can arrive any more. Local
 * and unobservable (the digest leaves tombstones out). Returns how many went.
 */
export function purgeTombstones(state: UserState, which: readonly purge.Tombstone[]): number {
  return purge.purgeTombstones(inner(state), which);
}

/** Every message the state holds, removed ones (tombstones) included: what the size of a snapshot follows. */
export function messageEntries(state: UserState): number {
  return q.messageEntries(inner(state));
}

export function messageByUid(state: UserState, mailboxId: Tag, uid: number): MessageRecord | undefined {
  return q.messageByUid(inner(state), mailboxId, uid);
}

/** The visible record of a message by id (undefined while it waits for a uid, or once removed). */
export function messageById(state: UserState, mailboxId: Tag, messageId: Tag): MessageRecord | undefined {
  return q.messageById(inner(state), mailboxId, messageId);
}

/** Highest uid ever claimed in the mailbox (retired and expunged included) + 1; never decreases. */
export function uidNext(state: UserState, mailboxId: Tag): number {
  return q.uidNext(inner(state), mailboxId);
}

export function subscriptions(state: UserState): string[] {
  return q.subscriptions(inner(state));
}

/** Counters for metrics: uid reassignments, retired uids, UIDVALIDITY resets (always 0 for now). */
export function uidStats(state: UserState): UidStats {
  return q.uidStats(inner(state));
}

/** Messages `origin` made that still wait for a uid.reassign (recovery after a crash). */
export function pendingReassignments(state: UserState, origin: ReplicaId): apply.ReassignRequest[] {
  return q.pendingReassignments(inner(state), origin);
}

/** Origins whose turn to reassign comes first (see queries.reassignBlockers); [] = go ahead. */
export function reassignBlockers(state: UserState, origin: ReplicaId): ReplicaId[] {
  return q.reassignBlockers(inner(state), origin);
}

export function buildCreate(
  state: UserState,
  mailboxId: Tag,
  name: string,
  uidValidity: number,
  specialUse?: string,
): Effect {
  return builders.buildCreate(inner(state), mailboxId, name, uidValidity, specialUse);
}

export function buildRename(state: UserState, mailboxId: Tag, name: string): Effect {
  return builders.buildRename(inner(state), mailboxId, name);
}

/** Observed existence tags of the mailbox and its observed live messages. */
export function buildDelete(state: UserState, mailboxId: Tag): Effect {
  return builders.buildDelete(inner(state), mailboxId);
}

export function buildRemoveMessages(mailboxId: Tag, messageIds: Tag[]): Effect {
  return builders.buildRemoveMessages(mailboxId, messageIds);
}

/** 0–2 effects; [] when the change would do nothing (write no op then). */
export function buildFlagChange(
  state: UserState,
  mailboxId: Tag,
  messageId: Tag,
  mode: "set" | "add" | "remove",
  flags: string[],
): Effect[] {
  return builders.buildFlagChange(inner(state), mailboxId, messageId, mode, flags);
}

export function buildSubscribe(name: string): Effect {
  return builders.buildSubscribe(name);
}

export function buildUnsubscribe(state: UserState, name: string): Effect {
  return builders.buildUnsubscribe(inner(state), name);
}

/** uid.reassign effects with fresh uids (uidNext, uidNext+1, ... per mailbox) for one op. */
export function buildReassigns(
  state: UserState,
  items: ReadonlyArray<{ mailboxId: Tag; messageId: Tag }>,
): Effect[] {
  return builders.buildReassigns(inner(state), items);
}

/** `${replica}:${seq}:${index}` */
export function makeTag(replica: ReplicaId, seq: number, index: number): Tag {
  return apply.makeTag(replica, seq, index);
}

export function serializeState(state: UserState): Buffer {
  return codec.serializeState(inner(state));
}

export function deserializeState(b: Buffer): UserState {
  return outer(codec.deserializeState(b));
}

export function cloneState(state: UserState): UserState {
  return outer(codec.cloneState(inner(state)));
}
