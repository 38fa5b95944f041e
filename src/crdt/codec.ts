// Snapshots and the convergence digest. Both use one canonical, sorted
// encoding, so two replicas with the same delivered ops produce the same bytes.

import { createHash } from "node:crypto";
import {
  type CrdtState,
  type MailboxState,
  type MessageRecord,
  type MessageState,
  liveFlags,
  newCrdtState,
  newMailbox,
} from "./state";
import { resolvedNames } from "./names";
import type { VersionVector } from "./types";

const byKey = <T>(entries: Iterable<[string, T]>): Array<[string, T]> =>
  [...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

const sortedTags = (s: Set<string>): string[] => [...s].sort();

type MessageJson = [
  id: string,
  origin: string,
  blob: string,
  size: number,
  internalDate: number,
  claim: number,
  removed: 0 | 1,
  flags: Array<[string, string[]]>,
];

interface MailboxJson {
  id: string;
  created: boolean;
  uidValidity: number;
  specialUse: string | null;
  names: Array<[string, string, number, number]>;
  tags: string[];
  claims: Array<[number, string | null]>;
  maxClaimed: number;
  messages: MessageJson[];
}

interface StateJson {
  v: 1;
  vv: VersionVector;
  uidReassignments: number;
  retiredUids: number;
  subscriptions: Array<[string, string[]]>;
  mailboxes: MailboxJson[];
}

function messageJson(m: MessageState): MessageJson {
  const flags: Array<[string, string[]]> = [];
  for (const [f, tags] of byKey(m.flags)) if (tags.size > 0) flags.push([f, sortedTags(tags)]);
  return [m.id, m.origin, m.blob, m.size, m.internalDate, m.claim, m.removed ? 1 : 0, flags];
}

/** `live`: without tombstones and the uid claims they hold (see digest). */
function mailboxJson(mb: MailboxState, live: boolean): MailboxJson {
  const names = mb.names
    .map((e): [string, string, number, number] => [e.name, e.replica, e.seq, e.index])
    .sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : a[2] - b[2] || a[3] - b[3]));
  return {
    id: mb.id,
    created: mb.created,
    uidValidity: mb.uidValidity,
    specialUse: mb.specialUse ?? null,
    names,
    tags: sortedTags(mb.tags),
    claims: [...mb.claims].filter(([, id]) => !(live && id !== null && mb.messages.get(id)?.removed)).sort((a, b) => a[0] - b[0]),
    maxClaimed: mb.maxClaimed,
    messages: byKey(mb.messages)
      .filter(([, m]) => !(live && m.removed))
      .map(([, m]) => messageJson(m)),
  };
}

function stateJson(state: CrdtState, live = false): StateJson {
  const subscriptions: Array<[string, string[]]> = [];
  for (const [name, tags] of byKey(state.subscriptions)) if (tags.size > 0) subscriptions.push([name, sortedTags(tags)]);
  return {
    v: 1,
    vv: Object.fromEntries(byKey(Object.entries(state.vv))),
    uidReassignments: state.uidReassignments,
    retiredUids: state.retiredUids,
    subscriptions,
    mailboxes: byKey(state.mailboxes).map(([, mb]) => mailboxJson(mb, live)),
  };
}

/**
 * SHA-256 over the converging state: every mailbox with its register, tags,
 * uid claims (retired ones included) and live messages, the subscriptions,
 * the repair counters, and the derived visible view (display names and uid →
 * message), so that a derivation that depends on arrival order shows up as a
 * digest mismatch. Left out: the version vector (it says which ops arrived,
 * not what state they made), and tombstones with the claims they hold, which
 * each replica purges when it learns they are stable (purge.ts).
 */
export function digest(state: CrdtState): string {
  const { vv: _vv, ...rest } = stateJson(state, true);
  const visible = byKey(resolvedNames(state)).map(([id, name]) => {
    const mb = state.mailboxes.get(id)!;
    return [id, name, mb.visible.map((r) => [r.uid, r.messageId, r.flags])];
  });
  return createHash("sha256").update(JSON.stringify({ ...rest, visible })).digest("hex");
}

export function serializeState(state: CrdtState): Buffer {
  return Buffer.from(JSON.stringify(stateJson(state)), "utf8");
}

export function deserializeState(b: Buffer): CrdtState {
  const j = JSON.parse(b.toString("utf8")) as StateJson;
  if (j.v !== 1) throw new Error(`crdt snapshot version ${String(j.v)} not supported`);
  const state = newCrdtState();
  state.vv = { ...j.vv };
  state.uidReassignments = j.uidReassignments;
  state.retiredUids = j.retiredUids;
  for (const [name, tags] of j.subscriptions) state.subscriptions.set(name, new Set(tags));
  for (const mj of j.mailboxes) {
    const mb = newMailbox(mj.id);
    mb.created = mj.created;
    mb.uidValidity = mj.uidValidity;
    if (mj.specialUse !== null) mb.specialUse = mj.specialUse;
    mb.names = mj.names.map(([name, replica, seq, index]) => ({ name, replica, seq, index }));
    mb.tags = new Set(mj.tags);
    mb.claims = new Map(mj.claims);
    mb.maxClaimed = mj.maxClaimed;
    for (const [id, origin, blob, size, internalDate, claim, removed, flags] of mj.messages) {
      const msg: MessageState = {
        id,
        mailboxId: mb.id,
        origin,
        blob,
        size,
        internalDate,
        flags: new Map(flags.map(([f, tags]) => [f, new Set(tags)])),
        claim,
        removed: removed === 1,
        record: null,
      };
      mb.messages.set(id, msg);
      // Snapshots written before an expunge dropped the message's existence tag still hold it.
      if (msg.removed) mb.tags.delete(id);
      if (!msg.removed && mb.claims.get(claim) === id) {
        const rec: MessageRecord = {
          messageId: id,
          mailboxId: mb.id,
          uid: claim,
          blob,
          size,
          internalDate,
          flags: liveFlags(msg),
        };
        msg.record = rec;
        mb.visible.push(rec);
      }
    }
    mb.visible.sort((a, b) => a.uid - b.uid);
    state.mailboxes.set(mb.id, mb);
  }
  return state;
}

export function cloneState(state: CrdtState): CrdtState {
  return deserializeState(serializeState(state));
}
