// A mail node's replication: it ships every durable local op to the peers
// that hold the same user, applies the ops peers send in causal order (one
// CausalInbox per user), fetches only the blobs it lacks, and runs
// anti-entropy by version vectors when a stream opens, when a stream had to
// skip live ops, and for every user that changed through a peer (which is
// also how a peer learns what we have: our vectors are our acknowledgements).
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { commonVector } from "../crdt/causality";
import type { Op, VersionVector } from "../crdt/types";
import { storedUsers, type LevelMailStore, type UserReplica } from "../mailstore";
import { CausalInbox } from "./causal-inbox";
import { TombstoneStability } from "./tombstone-stability";
import { PeerSession, type ReplicationMetricsSink, type SessionHost } from "./peer-session";

export interface ReplicatorMetrics extends ReplicationMetricsSink {
  opsApplied(n: number): void;
  opsBuffered(n: number): void;
  uidReassigned(n: number): void;
  opsCompacted(n: number): void;
  tombstonesPurged(n: number): void;
}

export interface ReplicatorOptions {
  store: LevelMailStore;
  /** This node's name, as peers know it. */
  self: string;
  /** Whether node `node` keeps a replica of `user` (the routing rule of the cluster). */
  shouldHold(node: string, user: string): boolean;
  log: Logger;
  metrics?: ReplicatorMetrics;
  /** How often changed users' vectors go out. Default 100 ms. */
  flushMs?: number;
  /** The other nodes that hold `user`: its log is compacted once all of them acknowledged. */
  replicasOf?: (user: string) => string[];
  /** How often compaction is considered, and how many acknowledged ops make it worth it. Defaults 10 s, 1000. */
  compactEveryMs?: number;
  compactMinOps?: number;
  /**
   * How often a user's tombstones take a step towards purging (three steps
   * purge a generation). Default 2 s. Apart from compaction: each step is a
   * few vector comparisons, while compaction writes a snapshot.
   */
  purgeEveryMs?: number;
  now?: () => number;
}

export class Replicator implements SessionHost {
  readonly self: string;
  readonly metrics?: ReplicatorMetrics;
  private readonly held = new Set<string>();
  private readonly sessions = new Set<PeerSession>();
  private readonly inboxes = new Map<string, CausalInbox>();
  private readonly locks = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private compactTimer: NodeJS.Timeout | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private wake: (() => void) | undefined;
  /** Users with new ops since the last compaction round, and the floor each was last compacted to. */
  private readonly touched = new Set<string>();
  /** Users with new ops since the last purge round, or a generation of tombstones on its way. */
  private readonly purgeTouched = new Set<string>();
  private readonly floors = new Map<string, VersionVector>();
  private readonly stability = new TombstoneStability();
  private unsubscribe: (() => void) | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: ReplicatorOptions) {
    this.self = opts.self;
    this.metrics = opts.metrics;
    this.now = opts.now ?? Date.now;
  }

  async start(): Promise<void> {
    for (const u of await storedUsers(this.opts.store.db)) this.held.add(u);
    this.unsubscribe = this.opts.store.onDurableOp((user, op, local) => this.onDurable(user, op, local));
    this.timer = setInterval(() => {
      for (const s of this.sessions) s.flushDirty();
      this.reportGauges();
    }, this.opts.flushMs ?? 100);
    this.timer.unref();
    if (this.opts.replicasOf) {
      const every = this.opts.compactEveryMs ?? 10_000;
      this.compactTimer = this.repeat(every, "compaction", () => this.compactRound(every / 2));
      this.purgeTimer = this.repeat(this.opts.purgeEveryMs ?? 2_000, "tombstone purge", () => this.purgeRound());
    }
  }

  /** Runs `round` every `ms`; a tick that finds the previous round still running is skipped. */
  private repeat(ms: number, what: string, round: () => Promise<number>): NodeJS.Timeout {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      round()
        .catch((err: unknown) => this.opts.log.warn({ err }, `${what} failed`))
        .finally(() => (running = false));
    }, ms);
    timer.unref();
    return timer;
  }

  /** Every other replica's latest acknowledgement for `user`, or undefined while one has no live stream or none yet. */
  private peerAcks(user: string): VersionVector[] | undefined {
    const acks: VersionVector[] = [];
    for (const peer of this.opts.replicasOf!(user)) {
      if (peer === this.self) continue;
      const vv = [...this.sessions].find((s) => s.peer === peer && !s.closed)?.acked.get(user);
      if (!vv) return undefined;
      acks.push(vv);
    }
    return acks;
  }

  /**
   * Takes the users out of `pending` one at a time, with our vector and every
   * other replica's acknowledgement; a user some replica has not acknowledged
   * goes back into `pending` for a later round. Stops when the node closes.
   */
  private async *acknowledged(pending: Set<string>): AsyncGenerator<{ user: string; vectors: VersionVector[]; replica: UserReplica }> {
    const users = [...pending];
    pending.clear();
    for (const user of users) {
      if (this.closed) return;
      const acks = this.peerAcks(user);
      if (!acks) {
        pending.add(user);
        continue;
      }
      const ours = await this.vectorOf(user);
      yield { user, vectors: [ours, ...acks], replica: await this.opts.store.replica(user) };
    }
  }

  /**
   * Takes each recently changed user's tombstones a step towards purging, on
   * the acknowledgements every other replica sent (TombstoneStability), and
   * purges those that are stable. Returns how many were purged.
   */
  async purgeRound(): Promise<number> {
    let purged = 0;
    for await (const { user, vectors, replica } of this.acknowledged(this.purgeTouched)) {
      const stable = this.stability.step(user, vectors, () => replica.tombstones());
      if (stable.length > 0) {
        const n = replica.purgeTombstones(stable);
        this.metrics?.tombstonesPurged(n);
        purged += n;
      }
      // A generation of tombstones on its way needs another look even if the user stays quiet.
      if (this.stability.pending(user)) this.purgeTouched.add(user);
    }
    return purged;
  }

  /**
   * Compacts each recently changed user whose every other replica has a live
   * stream and has acknowledged, up to what all of them (and we) have.
   * Returns the ops compacted away.
   * Compactions are spread over `spreadMs`: done back to back, every user's
   * at once on every node, they stalled the sessions for a quarter of a second
   * every round.
   */
  async compactRound(spreadMs = 0): Promise<number> {
    let removed = 0;
    const pauseMs = spreadMs / Math.max(1, this.touched.size);
    for await (const { user, vectors, replica } of this.acknowledged(this.touched)) {
      const floor = commonVector(vectors);
      const total = (v: VersionVector) => Object.values(v).reduce((a, b) => a + b, 0);
      // Each compaction writes a snapshot: a mailbox filling up must not stall the node every round.
      if (!replica.snapshotWorthAfter(total(floor) - total(this.floors.get(user) ?? {}), this.opts.compactMinOps ?? 1000)) {
        this.touched.add(user);
        continue;
      }
      const n = await this.opts.store.compact(user, floor);
      this.metrics?.opsCompacted(n);
      removed += n;
      this.floors.set(user, floor);
      if (pauseMs >= 1) await this.pause(pauseMs);
    }
    return removed;
  }

  /** Waits between compactions; close() ends the wait. */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.wake?.(), ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** Runs the protocol on a replication stream to `peer` (dialled or accepted). */
  attach(peer: string, stream: Duplex): PeerSession {
    for (const old of this.sessions) if (old.peer === peer) old.close();
    const session = new PeerSession(peer, stream, this, this.opts.log.child({ peer }), (s) => this.sessions.delete(s));
    this.sessions.add(session);
    session.start().catch((err: unknown) => {
      this.opts.log.warn({ peer, err }, "replication start failed");
      session.close();
    });
    return session;
  }

  /** Peers with a live stream, and whether each has answered our first full exchange. */
  peers(): Array<{ peer: string; synced: boolean; lagSeconds: number; outbox: number }> {
    const now = this.now();
    return [...this.sessions].map((s) => ({ peer: s.peer, synced: s.synced, lagSeconds: s.lagSeconds(now), outbox: s.outboxDepth }));
  }

  /** Whether anything received is still waiting to be applied. */
  get buffered(): number {
    let n = 0;
    for (const i of this.inboxes.values()) n += i.size;
    return n;
  }

  // SessionHost

  usersFor(peer: string): string[] {
    return [...this.held].filter((u) => this.opts.shouldHold(peer, u));
  }

  shouldHold(node: string, user: string): boolean {
    return this.opts.shouldHold(node, user);
  }

  holds(user: string): boolean {
    return this.held.has(user);
  }

  async vectorOf(user: string): Promise<VersionVector> {
    return (await this.opts.store.replica(user)).versionVector();
  }

  async durableVectorOf(user: string): Promise<VersionVector> {
    return (await this.opts.store.replica(user)).durableVersionVector();
  }

  catchUp(user: string, after: VersionVector): Promise<{ ops: Op[] } | { snapshot: Buffer }> {
    return this.opts.store.catchUp(user, after);
  }

  async installSnapshot(user: string, state: Buffer): Promise<boolean> {
    if (!this.opts.shouldHold(this.self, user) || this.held.has(user)) return false;
    const ok = await this.opts.store.installSnapshot(user, state);
    if (ok) this.held.add(user);
    return ok;
  }

  blob(sha: string): Promise<Buffer | undefined> {
    return this.opts.store.getBlob(sha);
  }

  /**
   * Applies what a peer sent for `user`, in causal order, one batch of a user
   * at a time; resolves once the batch is on disk. The next batch of the user
   * waits only for this one to be applied, not written: waiting for each
   * commit capped a user's stream at one batch per linger (10 ms of linger
   * let storage fall seconds behind a busy worker).
   */
  receive(user: string, ops: Op[], from: PeerSession, blobs?: ReadonlyMap<string, Buffer>): Promise<void> {
    if (!this.opts.shouldHold(this.self, user)) return Promise.resolve();
    const applied = (this.locks.get(user) ?? Promise.resolve()).then(() => this.deliver(user, ops, from, blobs));
    const settled = applied.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(user, settled);
    void settled.then(() => {
      if (this.locks.get(user) === settled) this.locks.delete(user);
    });
    return applied.then((a) => a.written);
  }

  /** Applies a batch to the replica's state; `written` settles once its ops are on disk. */
  private async deliver(user: string, ops: Op[], from: PeerSession, carried?: ReadonlyMap<string, Buffer>): Promise<{ written: Promise<void> }> {
    const replica = await this.opts.store.replica(user);
    this.held.add(user);
    let inbox = this.inboxes.get(user);
    if (!inbox) this.inboxes.set(user, (inbox = new CausalInbox()));
    inbox.add(ops, replica.versionVector());
    // Ops beyond the inbox's limit were dropped after the stream delivered them: ask for them again.
    if (inbox.size >= inbox.limit) from.asking.add(user);
    // Bodies: carried by live ops; for the rest, one request for every body this batch lacks (one round trip, not one per op).
    const bodies = new Map<string, Buffer>(carried ?? []);
    const wanted = new Set<string>();
    for (const op of ops) {
      for (const e of op.effects) {
        if (e.type === "message.add" && !bodies.has(e.blob) && !(await this.opts.store.hasBlob(e.blob))) wanted.add(e.blob);
      }
    }
    if (wanted.size > 0) {
      for (const [sha, body] of await from.fetchBlobs([...wanted])) if (body) bodies.set(sha, body);
    }
    let applied = 0;
    const writes: Promise<void>[] = [];
    for (let op = inbox.next(replica.versionVector()); op; op = inbox.next(replica.versionVector())) {
      const blobs = new Map<string, Buffer>();
      let lacking = false;
      for (const e of op.effects) {
        if (e.type !== "message.add") continue;
        const body = bodies.get(e.blob);
        if (body) blobs.set(e.blob, body);
        else if (!(await this.opts.store.hasBlob(e.blob))) lacking = true;
      }
      if (lacking) {
        // Without its body the message cannot be applied; a later exchange (with this or another peer) brings both.
        this.opts.log.warn({ user, op: `${op.id.replica}:${op.id.seq}`, peer: from.peer }, "peer lacks a blob; op left for anti-entropy");
        inbox.clear();
        from.asking.add(user);
        break;
      }
      // applyRemote changes the state before its first await, so the next op sees it; the disk
      // writes of the whole batch then share the commit queue's fsyncs.
      writes.push(replica.applyRemote(op, blobs.size > 0 ? blobs : undefined).then((ok) => void (ok && applied++)));
    }
    if (inbox.size === 0) this.inboxes.delete(user);
    const gap = inbox.size > 0;
    const written = Promise.all(writes).then(() => {
      // A gap (an op whose context came by another path we have not seen): our vector makes the sender fill it.
      if (gap) from.dirty.add(user);
      if (applied > 0) {
        this.metrics?.opsApplied(applied);
        // Acknowledge to the sender at once: a writer under `durability: replicated` is waiting for it.
        from.dirty.add(user);
        from.flushDirty();
      }
    });
    return { written };
  }

  private onDurable(user: string, op: Op, local: boolean): void {
    this.held.add(user);
    this.touched.add(user);
    this.purgeTouched.add(user);
    if (local) {
      const reassigned = op.effects.filter((e) => e.type === "uid.reassign").length;
      if (reassigned > 0) this.metrics?.uidReassigned(reassigned);
      const now = this.now();
      for (const s of this.sessions) {
        if (!this.opts.shouldHold(s.peer, user)) continue;
        s.sendLive(user, op, now).catch((err: unknown) => this.opts.log.warn({ peer: s.peer, err }, "live op not shipped"));
      }
    }
    // Tell every peer (the sender included: this is its acknowledgement) what we now have.
    for (const s of this.sessions) if (this.opts.shouldHold(s.peer, user)) s.dirty.add(user);
  }

  /**
   * For `durability: replicated`: resolves once one of `peers` has
   * acknowledged `op`; rejects after `ms` (the op stays written here and
   * reaches the peers later).
   */
  async waitForAck(user: string, op: Op, peers: (name: string) => boolean, ms: number): Promise<void> {
    const candidates = [...this.sessions].filter((s) => peers(s.peer) && this.opts.shouldHold(s.peer, user));
    if (candidates.some((s) => s.hasAcked(user, op))) return;
    const acks = candidates.map((s) => s.waitForAck(user, op, ms).then((ok) => (ok ? true : Promise.reject(new Error("no ack")))));
    if (acks.length === 0) throw new Error("no storage replica is connected");
    await Promise.any(acks).catch(() => {
      throw new Error(`no storage replica acknowledged within ${ms} ms`);
    });
  }

  private reportGauges(): void {
    if (!this.metrics) return;
    const now = this.now();
    for (const s of this.sessions) {
      this.metrics.outboxDepth(s.peer, s.outboxDepth);
      this.metrics.lag(s.peer, s.lagSeconds(now));
    }
    this.metrics.opsBuffered(this.buffered);
  }

  close(): void {
    this.closed = true;
    this.wake?.();
    clearInterval(this.timer);
    clearInterval(this.compactTimer);
    clearInterval(this.purgeTimer);
    this.unsubscribe?.();
    for (const s of [...this.sessions]) s.close();
  }
}
