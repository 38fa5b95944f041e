// A simulated cluster for property tests: replicas make ops from their own
// state with the real effect builders, ops travel in random causally valid
// orders with duplicates, and every delivery is checked against the UID rules
// and the change feed. The apply function is a parameter so that deliberately
// broken merges can be run through the same checks (negative controls).

import fc from "fast-check";
import {
  type ApplyResult,
  type Effect,
  type Op,
  type ReplicaId,
  type Tag,
  type UserState,
  applyOp,
  buildCreate,
  buildDelete,
  buildFlagChange,
  buildReassigns,
  buildRemoveMessages,
  buildRename,
  buildSubscribe,
  buildUnsubscribe,
  createState,
  deserializeState,
  digest,
  genesisOp,
  listMailboxes,
  makeTag,
  messageByUid,
  messages,
  pendingReassignments,
  purgeTombstones,
  reassignBlockers,
  serializeState,
  subscriptions,
  tombstones,
  uidNext,
  versionVector,
  type Tombstone,
  type VersionVector,
} from "../src/crdt";
import { TombstoneStability } from "../src/replication/tombstone-stability";
import { mulberry32 } from "../src/util/mulberry32";

export type ApplyFn = (state: UserState, op: Op) => ApplyResult;

/** The rule that says which tombstones a replica may purge (TombstoneStability's `step`). */
export interface PurgeRule {
  step(user: string, vectors: readonly VersionVector[], current: () => Tombstone[]): Tombstone[];
}

export const NAMES = ["Foo", "Bar", "Foo/Sub", "Work"] as const;
export const FLAGS = ["\\Seen", "\\Flagged", "\\Deleted", "$Work"] as const;

export type Action =
  | "append"
  | "append2"
  | "move"
  | "expunge"
  | "flags"
  | "create"
  | "rename"
  | "delete"
  | "subscribe"
  | "unsubscribe"
  | "reassign";

export type LocalCmd = { t: "local"; r: number; action: Action; x: number; y: number; z: number; mask: number };
export type Cmd =
  | LocalCmd
  | { t: "deliver"; r: number; pick: number; dup: boolean }
  /** One step of replica r's tombstone purging, with every replica's vector as its acknowledgement. */
  | { t: "purge"; r: number };

export interface History {
  replicas: number;
  cmds: Cmd[];
  /** Drives the final full delivery (its order and duplicates). */
  seed: number;
}

/** How often each action is drawn, relative to the others. */
export const ACTION_WEIGHTS: ReadonlyArray<readonly [Action, number]> = [
  ["append", 6],
  ["append2", 2],
  ["move", 2],
  ["expunge", 2],
  ["flags", 4],
  ["create", 2],
  ["rename", 2],
  ["delete", 2],
  ["subscribe", 1],
  ["unsubscribe", 1],
  ["reassign", 2],
];

const weighted = (table: ReadonlyArray<readonly [Action, number]>) => table.map(([a, weight]) => ({ arbitrary: fc.constant(a), weight }));

export const ACTIONS: Array<{ arbitrary: fc.Arbitrary<Action>; weight: number }> = weighted(ACTION_WEIGHTS);

export function localCmdArb(replicas: number, actions = ACTIONS): fc.Arbitrary<LocalCmd> {
  return fc.record({
    t: fc.constant("local" as const),
    r: fc.nat({ max: replicas - 1 }),
    action: fc.oneof(...actions),
    x: fc.nat({ max: 7 }),
    y: fc.nat({ max: 7 }),
    z: fc.nat({ max: 7 }),
    mask: fc.nat({ max: 15 }),
  });
}

export function historyArb(opts: {
  replicas: number;
  maxCmds: number;
  actions?: typeof ACTIONS;
  deliverWeight?: number;
  purgeWeight?: number;
}): fc.Arbitrary<History> {
  const r = fc.nat({ max: opts.replicas - 1 });
  const local = localCmdArb(opts.replicas, opts.actions);
  const deliver = fc.record({
    t: fc.constant("deliver" as const),
    r,
    pick: fc.nat({ max: 1000 }),
    dup: fc.boolean(),
  });
  const purge = fc.record({ t: fc.constant("purge" as const), r });
  return fc.record({
    replicas: fc.constant(opts.replicas),
    cmds: fc.array(fc.oneof({ arbitrary: local, weight: 5 }, { arbitrary: deliver, weight: opts.deliverWeight ?? 4 }, { arbitrary: purge, weight: opts.purgeWeight ?? 1 }), {
      minLength: Math.floor(opts.maxCmds / 3),
      maxLength: opts.maxCmds,
      size: "max",
    }),
    seed: fc.nat(),
  });
}

/**
 * Two replicas appending, expunging and changing flags, with frequent purge
 * steps: the history where purging too early shows, a flag change made
 * before its replica had the expunge arriving after the purge.
 */
export function churnHistoryArb(): fc.Arbitrary<History> {
  const churn = new Set<Action>(["append", "expunge", "flags"]);
  const actions = weighted(ACTION_WEIGHTS.filter(([a]) => churn.has(a)));
  return historyArb({ replicas: 2, maxCmds: 60, actions, deliverWeight: 10, purgeWeight: 4 });
}

/**
 * The effects a replica's user action produces from that replica's state, the
 * way the IMAP engine would make them (refusing what IMAP refuses).
 */
export function localEffects(s: UserState, replica: ReplicaId, seq: number, c: LocalCmd): Effect[] {
  const boxes = listMailboxes(s);
  // Half the picks land on INBOX so that concurrent appends collide on uids often.
  const inbox = boxes.find((b) => b.name === "INBOX")!;
  const box = c.x < 4 && c.action !== "delete" && c.action !== "rename" ? inbox : boxes[c.x % boxes.length];
  const msgs = messages(s, box.mailboxId);
  const msg = msgs.length ? msgs[c.y % msgs.length] : undefined;
  const flagsOf = (mask: number) => FLAGS.filter((_, i) => mask & (1 << i));
  switch (c.action) {
    case "append":
    case "append2": {
      const n = c.action === "append" ? 1 : 2;
      const effects: Effect[] = [];
      for (let i = 0; i < n; i++) {
        effects.push({
          type: "message.add",
          mailboxId: box.mailboxId,
          messageId: makeTag(replica, seq, i),
          blob: `blob-${c.z}`,
          size: 100 + c.z,
          internalDate: 1_700_000_000_000 + c.z,
          flags: flagsOf(c.mask),
          uid: uidNext(s, box.mailboxId) + i,
        });
      }
      return effects;
    }
    case "move": {
      const dest = c.z < 3 ? inbox : boxes[c.z % boxes.length];
      if (!msg || dest.mailboxId === box.mailboxId) return [];
      return [
        {
          type: "message.add",
          mailboxId: dest.mailboxId,
          messageId: makeTag(replica, seq, 0),
          blob: msg.blob,
          size: msg.size,
          internalDate: msg.internalDate,
          flags: msg.flags,
          uid: uidNext(s, dest.mailboxId),
        },
        buildRemoveMessages(box.mailboxId, [msg.messageId]),
      ];
    }
    case "expunge":
      if (!msg) return [];
      return [buildRemoveMessages(box.mailboxId, [msg.messageId])];
    case "flags": {
      if (!msg) return [];
      const mode = (["set", "add", "remove"] as const)[c.z % 3];
      return buildFlagChange(s, box.mailboxId, msg.messageId, mode, flagsOf(c.mask));
    }
    case "create": {
      const name = NAMES[c.y % NAMES.length];
      if (boxes.some((b) => b.name === name)) return [];
      return [buildCreate(s, makeTag(replica, seq, 0), name, seq)];
    }
    case "rename": {
      const name = NAMES[c.y % NAMES.length];
      if (box.name === "INBOX" || boxes.some((b) => b.name === name)) return [];
      return [buildRename(s, box.mailboxId, name)];
    }
    case "delete":
      if (box.name === "INBOX") return [];
      return [buildDelete(s, box.mailboxId)];
    case "subscribe":
      return [buildSubscribe(NAMES[c.y % NAMES.length])];
    case "unsubscribe": {
      const subs = subscriptions(s);
      if (subs.length === 0) return [];
      return [buildUnsubscribe(s, subs[c.y % subs.length])];
    }
    case "reassign":
      return [];
  }
}

/** The existing messages an op refers to (its adds make new ones). */
function namedMessages(op: Op): Tag[] {
  return op.effects.flatMap((e) => {
    switch (e.type) {
      case "message.remove":
        return e.messageIds;
      case "mailbox.delete":
        return e.observedMessages;
      case "flags.add":
      case "flags.remove":
      case "uid.reassign":
        return [e.messageId];
      default:
        return [];
    }
  });
}

export class CheckFailure extends Error {}

function check(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new CheckFailure(msg);
}

/** Everything a client can observe, in a canonical form. */
export function visibleDump(state: UserState): string {
  return JSON.stringify({
    mailboxes: listMailboxes(state).map((m) => ({
      ...m,
      uidNext: uidNext(state, m.mailboxId),
      messages: messages(state, m.mailboxId).map((r) => [r.uid, r.messageId, r.blob, r.flags]),
    })),
    subscriptions: subscriptions(state),
  });
}

/** Per-replica observer of the UID rules and of the change feed. */
class Monitor {
  /** uid → the message it was ever visible for, per mailbox. */
  private readonly everVisible = new Map<Tag, Map<number, Tag>>();
  private readonly maxVisible = new Map<Tag, number>();
  private readonly lastUidNext = new Map<Tag, number>();
  /** The visible messages as rebuilt from the change feed alone. */
  private readonly mirror = new Map<Tag, Map<Tag, number>>();

  constructor(private readonly name: string) {}

  observe(state: UserState, before: string[] /* mailbox id=name before */, res: ApplyResult): void {
    const who = this.name;
    for (const c of res.changes) {
      if (c.kind === "message.added") {
        const ever = this.everVisible.get(c.mailboxId) ?? new Map<number, Tag>();
        this.everVisible.set(c.mailboxId, ever);
        const prev = ever.get(c.uid);
        check(prev === undefined || prev === c.messageId, `${who}: uid ${c.uid} in ${c.mailboxId} was ${prev}, now ${c.messageId}`);
        ever.set(c.uid, c.messageId);
        const max = this.maxVisible.get(c.mailboxId) ?? 0;
        check(c.uid > max, `${who}: uid ${c.uid} in ${c.mailboxId} arrived after uid ${max} was visible`);
        this.maxVisible.set(c.mailboxId, c.uid);
        const m = this.mirror.get(c.mailboxId) ?? new Map<Tag, number>();
        this.mirror.set(c.mailboxId, m);
        check(!m.has(c.messageId), `${who}: ${c.messageId} added twice`);
        m.set(c.messageId, c.uid);
      } else if (c.kind === "message.removed") {
        const m = this.mirror.get(c.mailboxId);
        check(m?.get(c.messageId) === c.uid, `${who}: removal of ${c.messageId}/${c.uid} not matching the feed`);
        m!.delete(c.messageId);
      }
    }
    const after = listMailboxes(state);
    const afterKeys = after.map((m) => `${m.mailboxId}=${m.name}`);
    const moved = new Set([...before, ...afterKeys].filter((k) => !before.includes(k) || !afterKeys.includes(k)).map((k) => k.slice(0, k.lastIndexOf("="))));
    const reported = new Set(res.changes.filter((c) => c.kind === "mailbox").map((c) => (c as { mailboxId: Tag }).mailboxId));
    check(
      moved.size === reported.size && [...moved].every((id) => reported.has(id)),
      `${who}: mailbox changes ${[...reported]} but ${[...moved]} moved`,
    );
    const names = new Set(after.map((m) => m.name.toUpperCase() === "INBOX" ? "INBOX" : m.name));
    check(names.size === after.length, `${who}: duplicate visible names ${after.map((m) => m.name)}`);

    const visibleIds = new Set(after.map((m) => m.mailboxId));
    for (const [mb, m] of this.mirror) {
      if (!visibleIds.has(mb)) check(m.size === 0, `${who}: invisible mailbox ${mb} still has messages in the feed`);
    }
    for (const mb of after) {
      const list = messages(state, mb.mailboxId);
      const m = this.mirror.get(mb.mailboxId) ?? new Map<Tag, number>();
      check(list.length === m.size, `${who}: ${mb.mailboxId} has ${list.length} messages, the feed ${m.size}`);
      let last = 0;
      for (const r of list) {
        check(r.uid > last, `${who}: messages of ${mb.mailboxId} not ascending`);
        last = r.uid;
        check(m.get(r.messageId) === r.uid, `${who}: ${r.messageId}/${r.uid} missing from the feed`);
        check(messageByUid(state, mb.mailboxId, r.uid) === r, `${who}: messageByUid(${r.uid}) disagrees`);
      }
      const next = uidNext(state, mb.mailboxId);
      check(next > last, `${who}: uidNext ${next} not above uid ${last}`);
      check(next >= (this.lastUidNext.get(mb.mailboxId) ?? 0), `${who}: uidNext of ${mb.mailboxId} went down`);
      this.lastUidNext.set(mb.mailboxId, next);
    }
  }
}

interface Replica {
  id: ReplicaId;
  state: UserState;
  seq: number;
  delivered: Set<string>;
  owed: Array<{ mailboxId: Tag; messageId: Tag }>;
  monitor: Monitor;
  purging: PurgeRule;
  /** Messages whose tombstones this replica purged: no op may name them afterwards. */
  purged: Set<Tag>;
}

const opKey = (op: Op) => `${op.id.replica}:${op.id.seq}`;

export interface RunOptions {
  apply?: ApplyFn;
  /** Check the UID rules and the change feed at every delivery (the convergence checks always run). */
  monitor?: boolean;
  /** Each replica's purge rule; TombstoneStability unless a negative control swaps it. */
  purgeRule?: () => PurgeRule;
}

export interface RunResult {
  digests: string[];
  ops: Op[];
  replicas: UserState[];
  /** False if origins were still issuing reassigns after 50 rounds of healing (a livelock). */
  settled: boolean;
  /** Tombstones purged before the heal, when ops were still on their way, over all replicas. */
  purgedMidway: number;
}

export function runHistory(h: History, opts: RunOptions = {}): RunResult {
  const apply = opts.apply ?? applyOp;
  const monitor = opts.monitor ?? true;
  const ops: Op[] = [];
  const genesis = genesisOp();
  const reps: Replica[] = [];
  for (let i = 0; i < h.replicas; i++) {
    const rep: Replica = {
      id: `r${i}`,
      state: createState(),
      seq: 0,
      delivered: new Set(),
      owed: [],
      monitor: new Monitor(`r${i}`),
      purging: opts.purgeRule?.() ?? new TombstoneStability(),
      purged: new Set(),
    };
    reps.push(rep);
    deliver(rep, genesis);
  }

  function deliver(rep: Replica, op: Op): void {
    const before = monitor ? listMailboxes(rep.state).map((m) => `${m.mailboxId}=${m.name}`) : [];
    const dBefore = rep.delivered.has(opKey(op)) ? digest(rep.state) : undefined;
    const res = apply(rep.state, op);
    if (dBefore !== undefined) {
      check(!res.applied && res.changes.length === 0, `${rep.id}: redelivery of ${opKey(op)} applied`);
      check(digest(rep.state) === dBefore, `${rep.id}: redelivery of ${opKey(op)} changed the digest`);
      return;
    }
    check(res.applied, `${rep.id}: first delivery of ${opKey(op)} not applied`);
    for (const id of namedMessages(op)) check(!rep.purged.has(id), `${rep.id}: ${opKey(op)} names ${id}, whose tombstone was purged`);
    rep.delivered.add(opKey(op));
    for (const r of res.reassign) if (r.origin === rep.id) rep.owed.push({ mailboxId: r.mailboxId, messageId: r.messageId });
    if (monitor) rep.monitor.observe(rep.state, before, res);
  }

  function ready(rep: Replica, op: Op): boolean {
    if (rep.delivered.has(opKey(op))) return false;
    const vv = versionVector(rep.state);
    if ((vv[op.id.replica] ?? 0) !== op.id.seq - 1) return false;
    return Object.entries(op.deps).every(([r, n]) => (vv[r] ?? 0) >= n);
  }

  let purgedMidway = 0;
  let healed = false;

  function emit(rep: Replica, effects: Effect[]): void {
    if (effects.length === 0) return;
    const op: Op = { id: { replica: rep.id, seq: rep.seq + 1 }, deps: versionVector(rep.state), effects };
    rep.seq++;
    ops.push(op);
    deliver(rep, op);
  }

  /**
   * The owed reassigns still to make. A message that got its uid meanwhile
   * needs none, and neither does one removed meanwhile: an op may not name a
   * removed message, whose tombstone may be purged by then (the shell makes
   * its reassign in the op that found the collision, so it never waits).
   */
  function owedReassigns(rep: Replica): Effect[] {
    const stillOwed = new Set(pendingReassignments(rep.state, rep.id).map((p) => `${p.mailboxId} ${p.messageId}`));
    const seen = new Set<string>();
    const items = rep.owed.filter((o) => {
      const k = `${o.mailboxId} ${o.messageId}`;
      if (seen.has(k) || !stillOwed.has(k)) return false;
      seen.add(k);
      return true;
    });
    rep.owed = [];
    return buildReassigns(rep.state, items);
  }

  /** Our vector first, then every other replica's, as the replicator looks at them. */
  function purge(rep: Replica): void {
    const vectors = [rep, ...reps.filter((o) => o !== rep)].map((o) => versionVector(o.state));
    const stable = rep.purging.step("u", vectors, () => tombstones(rep.state));
    if (stable.length === 0) return;
    const d = digest(rep.state);
    const n = purgeTombstones(rep.state, stable);
    if (!healed) purgedMidway += n;
    for (const [, id] of stable) rep.purged.add(id);
    check(digest(rep.state) === d, `${rep.id}: purging tombstones changed the digest`);
  }

  function local(rep: Replica, c: LocalCmd): void {
    if (c.action === "reassign") return emit(rep, owedReassigns(rep));
    emit(rep, localEffects(rep.state, rep.id, rep.seq + 1, c));
  }

  for (const c of h.cmds) {
    const rep = reps[c.r];
    if (c.t === "local") {
      local(rep, c);
    } else if (c.t === "purge") {
      purge(rep);
    } else if (c.dup) {
      const done = ops.filter((op) => rep.delivered.has(opKey(op)));
      if (done.length) deliver(rep, done[c.pick % done.length]);
    } else {
      const cands = ops.filter((op) => ready(rep, op));
      if (cands.length) deliver(rep, cands[c.pick % cands.length]);
    }
  }

  // Heal: deliver everything everywhere in a random causal order with
  // duplicates; origins reassign in turn (reassignBlockers) until none is owed.
  const rnd = mulberry32(h.seed);
  let settled = false;
  for (let round = 0; round < 50 && !settled; round++) {
    for (const rep of reps) {
      for (;;) {
        const cands = ops.filter((op) => ready(rep, op));
        if (cands.length === 0) break;
        deliver(rep, cands[Math.floor(rnd() * cands.length)]);
        if (rnd() < 0.1) {
          const done = ops.filter((op) => rep.delivered.has(opKey(op)));
          deliver(rep, done[Math.floor(rnd() * done.length)]);
        }
      }
    }
    let issued = false;
    for (const rep of reps) {
      if (reassignBlockers(rep.state, rep.id).length > 0) continue;
      const before = ops.length;
      emit(rep, owedReassigns(rep));
      issued ||= ops.length > before;
    }
    settled = !issued;
  }

  // Everything is stable now: the first replica purges all it can; the others keep their tombstones.
  healed = true;
  for (let i = 0; i < 3; i++) purge(reps[0]);

  const digests = reps.map((r) => digest(r.state));
  return { digests, ops, replicas: reps.map((r) => r.state), settled, purgedMidway };
}

/** The convergence and final-state checks on a healed history. */
export function checkConverged(h: History, res: RunResult): void {
  const [first, ...rest] = res.replicas;
  const d0 = digest(first);
  const v0 = visibleDump(first);
  for (const [i, s] of rest.entries()) {
    check(digest(s) === d0, `replica r${i + 1} digest differs from r0`);
    check(visibleDump(s) === v0, `replica r${i + 1} visible state differs from r0:\n${visibleDump(s)}\n${v0}`);
  }
  check(res.settled, "reassignment did not settle within 50 rounds");
  for (let i = 0; i < h.replicas; i++) {
    check(pendingReassignments(first, `r${i}`).length === 0, `r${i} still owes reassigns after healing`);
  }
  check(digest(deserializeState(serializeState(first))) === d0, "snapshot round trip changed the digest");

  // No message is lost or resurrected: a mailbox shows exactly the messages
  // added to it that no EXPUNGE/MOVE named and no DELETE observed.
  const added = new Map<Tag, Set<Tag>>();
  const gone = new Set<Tag>();
  for (const op of res.ops) {
    for (const e of op.effects) {
      if (e.type === "message.add") {
        const s = added.get(e.mailboxId) ?? new Set<Tag>();
        added.set(e.mailboxId, s);
        s.add(e.messageId);
      } else if (e.type === "message.remove") e.messageIds.forEach((m) => gone.add(m));
      else if (e.type === "mailbox.delete") e.observedMessages.forEach((m) => gone.add(m));
    }
  }
  const visible = new Set(listMailboxes(first).map((m) => m.mailboxId));
  for (const [mb, ids] of added) {
    const expected = [...ids].filter((m) => !gone.has(m)).sort();
    const actual = messages(first, mb).map((r) => r.messageId).sort();
    if (!visible.has(mb)) check(expected.length === 0, `mailbox ${mb} vanished holding ${expected}`);
    else check(JSON.stringify(actual) === JSON.stringify(expected), `mailbox ${mb}: ${actual} visible, ${expected} expected`);
  }
}
