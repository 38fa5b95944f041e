// One user's CRDT replica on this node: the in-memory state, the local op
// sequence, and the sessions watching its mailboxes. Every change, local or
// remote, goes through `apply`, which updates the state, hands the op's batch
// entries to the group-commit queue in the same tick (so batches stay in
// apply order), and tells watchers synchronously, in apply order.

import {
  applyOp,
  createState,
  GENESIS_REPLICA,
  deserializeState,
  genesisOp,
  listMailboxes,
  mailboxById,
  messageById,
  messageByUid,
  messageEntries,
  messages,
  pendingReassignments,
  purgeTombstones,
  serializeState,
  tombstones,
  uidNext,
  versionVector,
  type ApplyResult,
  type MessageRecord,
  type Tombstone,
  type UserState,
} from "../crdt";
import type { Effect, Op, Tag, VersionVector } from "../crdt/types";
import { isKeyword, StoreError, type MailboxChange } from "../imap/store-port";
import type { BlobStore } from "./blob-store";
import type { CommitQueue } from "./commit-queue";
import { keys, PREFIX_END, unescapeKeyPart } from "./keys";
import type { BatchOp, Db } from "./leveldb";
import { causalOrder, isCausallyReady, opPut, readOpsAfter } from "./oplog";


export interface Logger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ReplicaContext {
  db: Db;
  queue: CommitQueue;
  blobs: BlobStore;
  replicaId: string;
  snapshotEvery: number;
  /** How long another replica's op may wait in the commit queue for a batch to share (0: none). */
  remoteLingerMs: number;
  log?: Logger;
  /** Called once an op (local or remote) is on disk; replication ships local ones from here. */
  onDurable(user: string, op: Op, local: boolean): void;
  /** Awaited after a local op is on disk and before its command may answer OK (durability: replicated). */
  afterLocalDurable?(user: string, op: Op): Promise<void> | undefined;
  /** Tracks a write that needs no fsync, so close() can wait for it. */
  background(write: Promise<unknown>): void;
  /** The replica's memory no longer matches the disk; drop it so the next login reloads. */
  onBroken(user: string, err: Error): void;
}

/** Extra batch entries that must become durable with the op (blobs, MIME trees). */
export interface Attachments {
  batch: BatchOp[];
  /** Runs after the batch is written or failed (releases in-memory copies). */
  settle?: () => void;
}

/**
 * A change as a mailbox handle hears it: a removal carries the message as it
 * was, for the session that still numbers it (the handle keeps it until the
 * session has told its client).
 */
export type ReplicaChange = Exclude<MailboxChange, { kind: "removed" }> | { kind: "removed"; uid: number; record?: MessageRecord };

interface Watcher {
  uidValidity: number;
  listener: (change: ReplicaChange) => void;
}


export class UserReplica {
  private seq: number;
  private opsSinceSnapshot: number;
  private readonly watchers = new Map<Tag, Set<Watcher>>();
  /**
   * The keywords each mailbox opened here has defined: those on its messages
   * when a session first opened it, and every one a message of it has carried
   * since, even if that message is gone. Like Dovecot's list it only grows, so
   * every session with the mailbox open is given the same FLAGS list; one built
   * per session from the messages left out keywords it could still know of
   * from before an EXPUNGE (imaptest's checkpoints: "Missing keyword"). Kept
   * in memory: after a restart every session is new, and the list starts
   * again from the messages.
   */
  private readonly keywordLists = new Map<Tag, Set<string>>();
  /** Highest UID some session has been told is \Recent, per mailbox id. */
  private readonly recentClaimed: Map<Tag, number>;
  private lastUidValidity = 0;
  /** The ops on disk: the state's vector less the ops still waiting for their commit. */
  private readonly durableVv: VersionVector;
  private broken: Error | undefined;

  private constructor(
    readonly user: string,
    readonly state: UserState,
    private readonly ctx: ReplicaContext,
    seq: number,
    replayed: number,
    recentClaimed: Map<Tag, number>,
  ) {
    this.seq = seq;
    this.opsSinceSnapshot = replayed;
    this.recentClaimed = recentClaimed;
    this.durableVv = versionVector(state);
    for (const m of listMailboxes(state)) this.lastUidValidity = Math.max(this.lastUidValidity, m.uidValidity);
  }

  /** Snapshot plus the ops logged after it; a user never seen before starts from the genesis op. */
  static async load(user: string, ctx: ReplicaContext): Promise<UserReplica> {
    const snap = await ctx.db.get(keys.snapshot(user));
    let state: UserState;
    if (snap) state = deserializeState(snap);
    else {
      state = createState();
      applyOp(state, genesisOp());
    }
    const start = versionVector(state);
    const { ordered, stuck } = causalOrder(await readOpsAfter(ctx.db, user, start), start);
    if (stuck.length > 0) {
      ctx.log?.error({ user, stuck: stuck.length }, "op log has ops whose causal context is missing");
    }
    for (const op of ordered) applyOp(state, op);
    const stored = await ctx.db.get(keys.localSeq(user, ctx.replicaId));
    const seq = Math.max(stored ? Number(stored.toString("utf8")) : 0, versionVector(state)[ctx.replicaId] ?? 0);
    const recent = await loadRecent(ctx.db, user);
    const replica = new UserReplica(user, state, ctx, seq, ordered.length, recent);
    // Reassignments this replica owes but had not logged before it stopped.
    const owed = pendingReassignments(state, ctx.replicaId);
    if (owed.length > 0) replica.issueReassign(owed);
    return replica;
  }

  versionVector(): VersionVector {
    return versionVector(this.state);
  }

  /**
   * The ops already on disk. Replication compares a peer's vector against this
   * one: an op still in the commit queue is shipped live once it is durable,
   * so an acknowledgement arriving meanwhile needs no read of the op log.
   */
  durableVersionVector(): VersionVector {
    return { ...this.durableVv };
  }

  /** The next UIDVALIDITY: seconds since the epoch, strictly above any this replica has seen. */
  nextUidValidity(): number {
    const v = Math.max(Math.floor(Date.now() / 1000), this.lastUidValidity + 1);
    this.lastUidValidity = v;
    return v;
  }

  /**
   * Makes a local op from the effects `build` returns for the op's sequence
   * number (tags are made from it), applies it and resolves once it is durable.
   * Returns null, without using a sequence number, when there is nothing to do.
   */
  commitLocal(build: (seq: number) => Effect[], attachments?: Attachments): { op: Op; durable: Promise<void> } | null {
    this.checkUsable();
    const seq = this.seq + 1;
    let effects: Effect[];
    try {
      effects = build(seq);
    } catch (err) {
      attachments?.settle?.();
      throw err;
    }
    if (effects.length === 0) {
      attachments?.settle?.();
      return null;
    }
    const op: Op = { id: { replica: this.ctx.replicaId, seq }, deps: { ...versionVector(this.state) }, effects };
    this.seq = seq;
    const durable = this.apply(op, true, attachments);
    return { op, durable };
  }

  /**
   * Applies an op from another replica, with any blobs it introduces. The
   * caller delivers causally (`isReady`); duplicates are ignored (false).
   */
  async applyRemote(op: Op, blobs?: ReadonlyMap<string, Buffer>): Promise<boolean> {
    this.checkUsable();
    if (op.id.seq <= (versionVector(this.state)[op.id.replica] ?? 0)) return false;
    if (!isCausallyReady(op, versionVector(this.state))) {
      throw new StoreError("SERVERBUG", `op ${op.id.replica}:${op.id.seq} delivered before its causal context`);
    }
    const batch: BatchOp[] = [];
    const settles: string[] = [];
    for (const e of op.effects) {
      if (e.type !== "message.add") continue;
      const body = blobs?.get(e.blob);
      if (body) {
        batch.push(...this.ctx.blobs.stage(e.blob, body, undefined));
        settles.push(e.blob);
      }
    }
    // Our own ops coming back (after this node lost its disk) must not have their seqs reused.
    if (op.id.replica === this.ctx.replicaId) this.seq = Math.max(this.seq, op.id.seq);
    await this.apply(op, false, { batch, settle: () => settles.forEach((s) => this.ctx.blobs.settle(s)) });
    return true;
  }

  isReady(op: Op): boolean {
    return isCausallyReady(op, versionVector(this.state));
  }

  watch(mailboxId: Tag, uidValidity: number, listener: (change: ReplicaChange) => void): () => void {
    let set = this.watchers.get(mailboxId);
    if (!set) this.watchers.set(mailboxId, (set = new Set()));
    const w: Watcher = { uidValidity, listener };
    set.add(w);
    return () => {
      const s = this.watchers.get(mailboxId);
      if (!s) return;
      s.delete(w);
      if (s.size === 0) this.watchers.delete(mailboxId);
    };
  }

  /** The keywords `mailboxId` has defined (see keywordLists), in the order they came. */
  mailboxKeywords(mailboxId: Tag): ReadonlySet<string> {
    let list = this.keywordLists.get(mailboxId);
    if (!list) {
      list = new Set();
      for (const r of messages(this.state, mailboxId)) addKeywords(list, r.flags);
      this.keywordLists.set(mailboxId, list);
    }
    return list;
  }

  /**
   * The UIDs among `uids` that no read-write session has claimed yet. `uids`
   * is ascending, so they are the suffix above the high-water mark: a SELECT
   * of a large mailbox looks at the few new ones only.
   */
  unclaimedRecent(mailboxId: Tag, uids: readonly number[]): number[] {
    const claimed = this.recentClaimed.get(mailboxId) ?? 0;
    let start = uids.length;
    while (start > 0 && uids[start - 1]! > claimed) start--;
    return start === uids.length ? [] : uids.slice(start);
  }

  /** The unclaimed UIDs among `uids`, now claimed: no later session sees them as \Recent. */
  claimRecent(mailboxId: Tag, uids: readonly number[]): number[] {
    const fresh = this.unclaimedRecent(mailboxId, uids);
    if (fresh.length === 0) return fresh;
    const top = fresh[fresh.length - 1]!;
    this.recentClaimed.set(mailboxId, top);
    // Losing this on a crash only makes a few messages \Recent again: no fsync
    // and no write of its own, it rides with the next batch.
    this.ctx.background(
      this.ctx.queue.carry([{ type: "put", key: keys.recent(this.user, mailboxId), value: Buffer.from(String(top)) }]).catch((err: unknown) => {
        this.ctx.log?.warn({ err, user: this.user }, "could not persist \\Recent high-water mark");
      }),
    );
    return fresh;
  }

  recentCount(mailboxId: Tag): number {
    const claimed = this.recentClaimed.get(mailboxId) ?? 0;
    const list = messages(this.state, mailboxId);
    let n = 0;
    for (let i = list.length - 1; i >= 0 && list[i]!.uid > claimed; i--) n++;
    return n;
  }

  /** Batch entry holding the current state, for snapshots at close. */
  snapshotEntry(): BatchOp | null {
    if (this.opsSinceSnapshot === 0 || this.broken) return null;
    this.opsSinceSnapshot = 0;
    return { type: "put", key: keys.snapshot(this.user), value: serializeState(this.state) };
  }

  /**
   * Whether a snapshot (on apply, or with a compaction) is worth writing after
   * `ops` ops since the last one. Serializing costs time in proportion to the
   * whole state (~0.6 s for 50k messages) and blocks the event loop, while
   * replaying an op costs little; so large users are snapshotted less often
   * (every entries/4 ops), which bounds the cost per op. Removed messages
   * count: their tombstones are serialized too, and a mailbox that keeps 100
   * messages while thousands come and go would otherwise pay a growing
   * snapshot every 500 ops.
   */
  snapshotWorthAfter(ops: number, minOps: number): boolean {
    return ops >= minOps && ops >= messageEntries(this.state) / 4;
  }

  private checkUsable(): void {
    if (this.broken) throw new StoreError("SERVERBUG", "mail store failed to write; reconnect");
  }

  /** The expunged messages the state still holds (replication decides when they may go). */
  tombstones(): Tombstone[] {
    return tombstones(this.state);
  }

  /**
   * Drops tombstones that are stable (see src/replication/tombstone-stability.ts).
   * Nothing is written: the next snapshot is smaller, and a restart from an
   * older one brings them back until they are purged again.
   */
  purgeTombstones(which: readonly Tombstone[]): number {
    return purgeTombstones(this.state, which);
  }

  /**
   * The records `op` is about to remove from watched mailboxes, by "mailbox
   * uid", taken before it applies: a session that has not yet been told of an
   * EXPUNGE may still FETCH the message (RFC 3501 §7.4.1 allows serving it).
   * Only watched mailboxes: a session that did not have the mailbox selected
   * never numbered the message.
   */
  private recordsRemovedBy(op: Op): Map<string, MessageRecord> | undefined {
    let out: Map<string, MessageRecord> | undefined;
    for (const e of op.effects) {
      if ((e.type !== "message.remove" && e.type !== "uid.reassign") || !this.watchers.has(e.mailboxId)) continue;
      for (const id of e.type === "message.remove" ? e.messageIds : [e.messageId]) {
        const r = messageById(this.state, e.mailboxId, id);
        if (r) (out ??= new Map()).set(`${r.mailboxId} ${r.uid}`, r);
      }
    }
    return out;
  }

  private apply(op: Op, local: boolean, attachments?: Attachments): Promise<void> {
    let result: ApplyResult;
    let removedRecords: Map<string, MessageRecord> | undefined;
    try {
      removedRecords = this.recordsRemovedBy(op);
      result = applyOp(this.state, op);
    } catch (err) {
      attachments?.settle?.();
      this.markBroken(err instanceof Error ? err : new Error(String(err)));
      throw new StoreError("SERVERBUG", "could not apply change");
    }
    if (!result.applied) {
      attachments?.settle?.();
      if (local) throw new StoreError("SERVERBUG", "change was not applied");
      return Promise.resolve();
    }
    const batch: BatchOp[] = [opPut(this.user, op), ...(attachments?.batch ?? [])];
    if (op.id.replica === this.ctx.replicaId) {
      batch.push({ type: "put", key: keys.localSeq(this.user, this.ctx.replicaId), value: Buffer.from(String(this.seq)) });
    }
    if (this.snapshotWorthAfter(++this.opsSinceSnapshot, this.ctx.snapshotEvery)) {
      this.opsSinceSnapshot = 0;
      batch.push({ type: "put", key: keys.snapshot(this.user), value: serializeState(this.state) });
    }
    const durable = this.ctx.queue.submit(batch, local ? 0 : this.ctx.remoteLingerMs).then(
      () => {
        attachments?.settle?.();
        // Batches are written in order, so this only ever moves forward.
        if ((this.durableVv[op.id.replica] ?? 0) < op.id.seq) this.durableVv[op.id.replica] = op.id.seq;
        this.ctx.onDurable(this.user, op, local);
        return local ? this.ctx.afterLocalDurable?.(this.user, op) : undefined;
      },
      (err: unknown) => {
        attachments?.settle?.();
        const e = err instanceof Error ? err : new Error(String(err));
        this.markBroken(e);
        throw new StoreError("SERVERBUG", "could not write change to disk");
      },
    );
    this.notify(result, removedRecords);
    const owed = result.reassign.filter((r) => r.origin === this.ctx.replicaId);
    if (owed.length > 0) this.issueReassign(owed);
    return durable;
  }

  /**
   * New UIDs for our messages that lost a UID collision, above everything
   * handed out. Both sides of a collision lose and reassign at the same time,
   * from the same UIDNEXT; taking plain UIDNEXT would make them collide again,
   * forever, when they exchange ops in lockstep. So each replica takes the
   * UIDs congruent to its rank among the replicas it knows:
   * uidNext + rank, uidNext + rank + R, ...
   */
  private issueReassign(owed: Array<{ mailboxId: Tag; messageId: Tag }>): void {
    const res = this.commitLocal(() => {
      const replicas = new Set(Object.keys(versionVector(this.state)));
      replicas.delete(GENESIS_REPLICA);
      replicas.add(this.ctx.replicaId);
      const ordered = [...replicas].sort();
      const stride = ordered.length;
      const rank = ordered.indexOf(this.ctx.replicaId);
      const next = new Map<Tag, number>();
      return owed.map((r): Effect => {
        const uid = next.get(r.mailboxId) ?? uidNext(this.state, r.mailboxId) + rank;
        next.set(r.mailboxId, uid + stride);
        return { type: "uid.reassign", mailboxId: r.mailboxId, messageId: r.messageId, uid };
      });
    });
    res?.durable.catch((err: unknown) => this.ctx.log?.error({ err, user: this.user }, "uid reassignment not written"));
  }

  private notify(result: ApplyResult, removedRecords?: ReadonlyMap<string, MessageRecord>): void {
    // A message added and removed by the same op (MOVE within a mailbox, say) never existed for a session.
    const vanished = new Set<string>();
    for (const c of result.changes) {
      if (!("mailboxId" in c)) continue;
      const list = this.keywordLists.get(c.mailboxId);
      const watchers = this.watchers.get(c.mailboxId);
      if (!list && !watchers?.size) continue;
      const record =
        c.kind === "message.added" ? messageByUid(this.state, c.mailboxId, c.uid) : c.kind === "flags" ? messageById(this.state, c.mailboxId, c.messageId) : undefined;
      // The list grows whether or not a session has the mailbox open now.
      const newKeywords = list && record ? addKeywords(list, record.flags) : undefined;
      const mb = c.kind === "mailbox" ? mailboxById(this.state, c.mailboxId) : undefined;
      if (c.kind === "mailbox" && !mb) this.keywordLists.delete(c.mailboxId);
      if (!watchers || watchers.size === 0) continue;
      if (newKeywords) for (const w of [...watchers]) this.deliver(w, { kind: "keywords", keywords: newKeywords });
      let change: ReplicaChange | undefined;
      switch (c.kind) {
        case "message.added": {
          if (record && record.messageId === c.messageId) change = { kind: "added", message: record }; // records are replaced, never mutated: shared, as messages() shares them
          else vanished.add(`${c.mailboxId} ${c.uid}`);
          break;
        }
        case "message.removed":
          if (!vanished.delete(`${c.mailboxId} ${c.uid}`)) change = { kind: "removed", uid: c.uid, record: removedRecords?.get(`${c.mailboxId} ${c.uid}`) };
          break;
        case "flags": {
          if (record) change = { kind: "flags", uid: record.uid, flags: [...record.flags] };
          break;
        }
        case "mailbox": {
          for (const w of [...watchers]) {
            if (!mb || mb.uidValidity !== w.uidValidity) {
              watchers.delete(w);
              this.deliver(w, { kind: "gone" });
            }
          }
          break;
        }
      }
      if (change) for (const w of [...watchers]) this.deliver(w, change);
    }
  }

  private deliver(w: Watcher, change: MailboxChange): void {
    try {
      w.listener(change);
    } catch (err) {
      this.ctx.log?.error({ err, user: this.user }, "mailbox watcher threw");
    }
  }

  private markBroken(err: Error): void {
    if (this.broken) return;
    this.broken = err;
    this.ctx.log?.error({ err, user: this.user }, "user replica is out of step with its disk");
    this.ctx.onBroken(this.user, err);
  }
}

/** Adds the keywords among `flags` to `list`; returns those it did not hold, or undefined for none. */
function addKeywords(list: Set<string>, flags: readonly string[]): string[] | undefined {
  let added: string[] | undefined;
  for (const f of flags) {
    if (!isKeyword(f) || list.has(f)) continue;
    list.add(f);
    (added ??= []).push(f);
  }
  return added;
}

async function loadRecent(db: Db, user: string): Promise<Map<Tag, number>> {
  const prefix = keys.recentPrefix(user);
  const out = new Map<Tag, number>();
  for await (const [key, value] of db.iterator({ gt: prefix, lt: prefix + PREFIX_END })) {
    out.set(unescapeKeyPart(key.slice(prefix.length)), Number(value.toString("utf8")));
  }
  return out;
}
