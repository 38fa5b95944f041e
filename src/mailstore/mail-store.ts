// The node's MailStore: one LevelDB database, one group-commit queue and one
// blob store shared by all users; each user's replica is loaded on first use.

import { mkdir } from "node:fs/promises";
import type { Op, VersionVector } from "../crdt/types";
import { StoreError, type MailStore } from "../imap/store-port";
import { BlobStore } from "./blob-store";
import { CommitQueue } from "./commit-queue";
import { openDb, type BatchOp, type Db } from "./leveldb";
import { deserializeState, serializeState, versionVector } from "../crdt";
import { compactedFloor, compactionBatch, floorKey, needsSnapshot } from "./compaction";
import { keys, PREFIX_END } from "./keys";
import { jsonValue } from "./leveldb";
import { causalOrder, readOpsAfter } from "./oplog";
import { UserReplica, type Logger, type ReplicaContext } from "./user-replica";
import { LevelUserStore } from "./user-store";

export interface MailStoreOptions {
  /** Directory of the node's LevelDB database (created if missing). */
  dir: string;
  /** This node's replica id; must be unique in the cluster and stable across restarts. */
  replicaId: string;
  /** APPEND bodies above this many octets are refused with TOOBIG. */
  maxMessageSize: number;
  log?: Logger;
  /** Write a state snapshot every this many ops per user (default 500). */
  snapshotEvery?: number;
  /**
   * How long an op from another replica may wait in the commit queue for a
   * batch to share (default 0). Only when no client waits for this node's
   * fsync of it, that is under `local` durability.
   */
  remoteLingerMs?: number;
}

export type DurableOpListener = (user: string, op: Op, local: boolean) => void;

export async function createMailStore(opts: MailStoreOptions): Promise<LevelMailStore> {
  if (!opts.replicaId || opts.replicaId === "genesis") throw new Error("invalid replicaId");
  await mkdir(opts.dir, { recursive: true });
  const db = await openDb(opts.dir);
  return new LevelMailStore(db, opts);
}

export class LevelMailStore implements MailStore {
  readonly queue: CommitQueue;
  readonly blobs: BlobStore;
  private readonly users = new Map<string, Promise<LevelUserStore>>();
  private readonly durableListeners = new Set<DurableOpListener>();
  private closing = false;
  private readonly backgroundWrites = new Set<Promise<unknown>>();
  private barrier: ((user: string, op: Op) => Promise<void>) | undefined;

  constructor(
    /** Exposed for tests and tooling; everything else goes through the store. */
    readonly db: Db,
    private readonly opts: MailStoreOptions,
  ) {
    this.queue = new CommitQueue(db);
    this.blobs = new BlobStore(db);
  }

  get replicaId(): string {
    return this.opts.replicaId;
  }

  forUser(user: string): Promise<LevelUserStore> {
    if (this.closing) return Promise.reject(new StoreError("SERVERBUG", "mail store is shutting down"));
    let p = this.users.get(user);
    if (!p) {
      p = UserReplica.load(user, this.context()).then(
        (replica) =>
          new LevelUserStore(replica, {
            blobs: this.blobs,
            replicaId: this.opts.replicaId,
            maxMessageSize: this.opts.maxMessageSize,
            log: this.opts.log,
          }),
      );
      this.users.set(user, p);
      p.catch(() => this.users.delete(user));
    }
    return p;
  }

  /** The replica of a user, for the replication layer (`applyRemote`, `versionVector`, `isReady`). */
  async replica(user: string): Promise<UserReplica> {
    return (await this.forUser(user)).replica;
  }

  /**
   * A wait between a local op being durable here and the command that made it
   * answering OK: `durability: replicated` waits for a storage replica's
   * acknowledgement. The op stays written if the wait fails; only the OK is withheld.
   */
  setReplicationBarrier(barrier: ((user: string, op: Op) => Promise<void>) | undefined): void {
    this.barrier = barrier;
  }

  /** Called after each op is durable; replication ships the local ones. Returns the unsubscribe function. */
  onDurableOp(listener: DurableOpListener): () => void {
    this.durableListeners.add(listener);
    return () => this.durableListeners.delete(listener);
  }

  /** Logged ops of `user` not covered by `after`, in a causal order (anti-entropy). */
  async readOps(user: string, after: VersionVector): Promise<Op[]> {
    const full: VersionVector = { genesis: 1, ...after };
    return causalOrder(await readOpsAfter(this.db, user, full), full).ordered;
  }

  /**
   * What a peer at `after` needs: the ops it lacks, or, when some of those
   * were compacted away, a snapshot of the whole current state.
   */
  async catchUp(user: string, after: VersionVector): Promise<{ ops: Op[] } | { snapshot: Buffer }> {
    if (needsSnapshot(await compactedFloor(this.db, user), after)) {
      await this.queue.drain();
      return { snapshot: serializeState((await this.replica(user)).state) };
    }
    return { ops: await this.readOps(user, after) };
  }

  /** Deletes `user`'s ops up to `floor` (what every replica acknowledged), behind a fresh snapshot. */
  async compact(user: string, floor: VersionVector): Promise<number> {
    const replica = await this.replica(user);
    await this.queue.drain();
    const { batch, removed } = await compactionBatch(this.db, replica, floor);
    if (removed > 0) await this.queue.submit(batch);
    return removed;
  }

  /**
   * Starts a user this node has never held from a peer's snapshot (a new or
   * emptied replica whose missing ops were compacted away elsewhere). Refused
   * when the user already has data here: a snapshot does not merge.
   */
  async installSnapshot(user: string, snapshot: Buffer): Promise<boolean> {
    if (this.users.has(user) || (await this.db.get(keys.snapshot(user))) !== undefined) return false;
    const prefix = keys.opPrefix(user);
    if ((await this.db.keys({ gt: prefix, lt: prefix + PREFIX_END, limit: 1 }).all()).length > 0) return false;
    const state = deserializeState(snapshot);
    const vv = versionVector(state);
    await this.queue.submit([
      { type: "put", key: keys.snapshot(user), value: snapshot },
      { type: "put", key: floorKey(user), value: jsonValue(vv) },
    ]);
    return true;
  }

  getBlob(sha: string): Promise<Buffer | undefined> {
    return this.blobs.get(sha);
  }

  hasBlob(sha: string): Promise<boolean> {
    return this.blobs.has(sha);
  }

  /** Waits for pending writes, snapshots every loaded user, and closes the database. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.queue.drain();
    await Promise.allSettled([...this.backgroundWrites]);
    const snapshots: BatchOp[] = [];
    for (const p of this.users.values()) {
      const store = await p.catch(() => undefined);
      const entry = store?.replica.snapshotEntry();
      if (entry) snapshots.push(entry);
    }
    if (snapshots.length > 0) await this.queue.submit(snapshots);
    await this.queue.close();
    await this.db.close();
  }

  private context(): ReplicaContext {
    return {
      db: this.db,
      queue: this.queue,
      blobs: this.blobs,
      replicaId: this.opts.replicaId,
      snapshotEvery: this.opts.snapshotEvery ?? 500,
      remoteLingerMs: this.opts.remoteLingerMs ?? 0,
      log: this.opts.log,
      afterLocalDurable: (user, op) => this.barrier?.(user, op),
      onDurable: (user, op, local) => {
        for (const l of this.durableListeners) {
          try {
            l(user, op, local);
          } catch (err) {
            this.opts.log?.error({ err, user }, "durable-op listener threw");
          }
        }
      },
      background: (write) => {
        this.backgroundWrites.add(write);
        void write.finally(() => this.backgroundWrites.delete(write));
      },
      onBroken: (user) => {
        this.users.delete(user);
      },
    };
  }
}
