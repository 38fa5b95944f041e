// One replication stream to one peer. It owns what is particular to that peer
// (what the peer has acknowledged, the live ops not yet acknowledged, the
// users to tell it about, back-pressure) so that a slow or dead peer only
// ever holds up its own stream. What is shared (the store, the causal inbox)
// lives in the Replicator.
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { dominates, isDelivered, mergeVectors } from "../crdt/causality";
import type { Op, VersionVector } from "../crdt/types";
import { encodeMessage, MessageDecoder, type ReplicationMessage } from "./wire";

/** What a session needs of the node's replicator. */
export interface SessionHost {
  readonly self: string;
  /** Users this node holds that `peer` should hold too. */
  usersFor(peer: string): string[];
  shouldHold(node: string, user: string): boolean;
  holds(user: string): boolean;
  /** Every op applied here, on disk or still in the commit queue. */
  vectorOf(user: string): Promise<VersionVector>;
  /**
   * The part of `vectorOf` already on disk. It is the only vector we send: a
   * peer takes any vector as our acknowledgement (it compacts its log, and a
   * `replicated` writer answers OK, on it), and an op still in our commit
   * queue would be lost with us. A newer local op is shipped live once it
   * gets to disk.
   */
  durableVectorOf(user: string): Promise<VersionVector>;
  /** The ops a peer at `after` lacks, or a snapshot when some were compacted away. */
  catchUp(user: string, after: VersionVector): Promise<{ ops: Op[] } | { snapshot: Buffer }>;
  /** A peer's snapshot of a user; true when installed (we held nothing of the user). */
  installSnapshot(user: string, state: Buffer): Promise<boolean>;
  receive(user: string, ops: Op[], from: PeerSession, blobs?: ReadonlyMap<string, Buffer>): Promise<void>;
  blob(sha: string): Promise<Buffer | undefined>;
  metrics?: ReplicationMetricsSink;
}

/** Metric hooks; src/metrics binds them to prom-client. */
export interface ReplicationMetricsSink {
  opsSent(peer: string, n: number): void;
  bytesShipped(peer: string, n: number): void;
  /** Age of the oldest unacknowledged live op (a gauge). */
  lag(peer: string, seconds: number): void;
  /** Time from sending a live op to its acknowledgement (a histogram). */
  ackLatency(peer: string, seconds: number): void;
  outboxDepth(peer: string, depth: number): void;
  snapshotSent(peer: string): void;
}

const OPS_PER_MESSAGE = 200;
const BLOB_BYTES_PER_MESSAGE = 8 * 1024 * 1024;
const BLOB_WAIT_MS = 15_000;
/** Live ops remembered for the lag figures; beyond this new ones go untracked (the figures saturate, memory does not grow). */
const MAX_TRACKED_LIVE = 10_000;
/**
 * Bytes a stream may hold unsent before live ops stop and wait for a catch-up.
 * The socket's own high-water mark (16 KB) is three 5 KB messages: stopping
 * there sent every op under load through the slow path (sync round trip, then
 * a blob request), and the backlog grew faster than it drained.
 */
const STREAM_BUDGET_BYTES = 4 * 1024 * 1024;

/** One user's live ops awaiting acknowledgement, oldest at `head`. */
interface LiveOps {
  entries: Array<{ op: Op; sentAt: number }>;
  head: number;
}

export class PeerSession {
  /** The peer's last reported version vector per user: its acknowledgements. */
  readonly acked = new Map<string, VersionVector>();
  /** Users whose vector we owe the peer (changed here since we last said). */
  readonly dirty = new Set<string>();
  /** Users for whom we dropped ops this peer sent: our next vector asks for everything it lacks. */
  readonly asking = new Set<string>();
  /**
   * Per user, the ops written on this stream (a contiguous prefix per origin
   * beyond the peer's acknowledgement). The stream is ordered and reliable
   * until it closes, so an acknowledgement that does not cover them yet is not
   * a request for them: answering every ack with the whole in-flight window
   * made the traffic grow with the square of the backlog under load.
   */
  private readonly sent = new Map<string, VersionVector>();
  /** The peer answered our first full vector exchange with everything it had for us. */
  synced = false;
  closed = false;
  private readonly decoder = new MessageDecoder();
  private queue: Promise<void> = Promise.resolve();
  /** Live ops not acknowledged yet, per user in the order sent. */
  private readonly live = new Map<string, LiveOps>();
  private liveCount = 0;
  private liveChain: Promise<void> = Promise.resolve();
  /** Users whose live ops were not sent because the stream was full. */
  private readonly behind = new Set<string>();
  private full = false;
  private readonly blobWaiters = new Map<string, Array<(b: Buffer | undefined) => void>>();
  /** Bodies sent to or received from this peer lately (bounded), so a COPY does not ship its body again. */
  private readonly shippedBlobs = new Set<string>();
  private readonly onClose: () => void;

  constructor(
    readonly peer: string,
    private readonly stream: Duplex,
    private readonly host: SessionHost,
    private readonly log: Logger,
    onClose: (s: PeerSession) => void,
  ) {
    this.onClose = () => {
      if (this.closed) return;
      this.closed = true;
      for (const waiters of this.blobWaiters.values()) for (const w of waiters) w(undefined);
      this.blobWaiters.clear();
      for (const w of [...this.ackWaiters]) w.resolve(false);
      onClose(this);
    };
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
    stream.on("drain", () => this.onDrain());
    stream.on("error", (err: Error) => this.log.debug({ peer, err: err.message }, "replication stream error"));
    stream.on("close", this.onClose);
    stream.on("end", () => stream.end());
  }

  /** Opens the exchange: our vectors for every user the peer should hold. */
  async start(): Promise<void> {
    const users: Record<string, VersionVector> = {};
    for (const u of this.host.usersFor(this.peer)) users[u] = await this.host.durableVectorOf(u);
    this.send({ t: "vv", users, full: true });
  }

  send(m: ReplicationMessage): boolean {
    if (this.closed) return false;
    const frame = encodeMessage(m);
    this.host.metrics?.bytesShipped(this.peer, frame.length);
    const ok = this.stream.write(frame);
    if (!ok && this.stream.writableLength >= STREAM_BUDGET_BYTES) this.full = true;
    return ok;
  }

  /**
   * A local op, the moment it is durable, with the bodies the peer has not
   * been sent yet (a new APPEND's; not a COPY's, whose body went with the
   * original). Skipped while the stream is full; the catch-up sends it later.
   */
  sendLive(user: string, op: Op, now: number): Promise<void> {
    // One at a time: reading a body must not let a later op overtake an earlier one on the stream.
    const run = this.liveChain.then(() => this.shipLive(user, op, now));
    this.liveChain = run.catch(() => undefined);
    return run;
  }

  private async shipLive(user: string, op: Op, now: number): Promise<void> {
    if (this.full) {
      this.behind.add(user);
      return;
    }
    const blobs: Array<[string, Buffer]> = [];
    for (const e of op.effects) {
      if (e.type !== "message.add" || this.shippedBlobs.has(e.blob)) continue;
      const body = await this.host.blob(e.blob);
      if (body) blobs.push([e.blob, body]);
      this.rememberShipped(e.blob);
    }
    // Checked after the reads: a catch-up may have sent the op from the log meanwhile.
    const onTheWay = this.onTheWay(user, this.acked.get(user) ?? {});
    if (isDelivered(op, onTheWay) || this.closed) return;
    this.send(blobs.length > 0 ? { t: "ops", user, ops: [op], blobs } : { t: "ops", user, ops: [op] });
    this.host.metrics?.opsSent(this.peer, 1);
    // Only a contiguous prefix counts: a gap (an op skipped while full) must still be sent by a catch-up.
    if ((onTheWay[op.id.replica] ?? 0) === op.id.seq - 1) this.sent.set(user, { ...onTheWay, [op.id.replica]: op.id.seq });
    if (this.liveCount < MAX_TRACKED_LIVE) {
      const list = this.live.get(user);
      if (list) list.entries.push({ op, sentAt: now });
      else this.live.set(user, { entries: [{ op, sentAt: now }], head: 0 });
      this.liveCount++;
    }
    this.host.metrics?.outboxDepth(this.peer, this.liveCount);
  }

  rememberShipped(sha: string): void {
    if (this.shippedBlobs.size >= MAX_TRACKED_LIVE) this.shippedBlobs.delete(this.shippedBlobs.values().next().value!);
    this.shippedBlobs.add(sha);
  }

  /** Whether the peer has acknowledged `op` for `user`. */
  hasAcked(user: string, op: Op): boolean {
    const vv = this.acked.get(user);
    return vv !== undefined && isDelivered(op, vv);
  }

  /** Resolves once the peer's vector for `user` covers `op`, or with false after `ms` or when the stream closes. */
  waitForAck(user: string, op: Op, ms: number): Promise<boolean> {
    if (this.hasAcked(user, op)) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const w = { user, op, resolve: (ok: boolean) => { clearTimeout(timer); this.ackWaiters.delete(w); resolve(ok); } };
      const timer = setTimeout(() => w.resolve(false), ms);
      this.ackWaiters.add(w);
    });
  }

  private readonly applying = new Set<Promise<void>>();
  private readonly ackWaiters = new Set<{ user: string; op: Op; resolve: (ok: boolean) => void }>();

  /** Seconds since the oldest live op the peer has not acknowledged (0 when none). */
  lagSeconds(now: number): number {
    let oldest = now;
    for (const list of this.live.values()) oldest = Math.min(oldest, list.entries[list.head]!.sentAt);
    return (now - oldest) / 1000;
  }

  get outboxDepth(): number {
    return this.liveCount;
  }

  flushDirty(): void {
    if ((this.dirty.size === 0 && this.asking.size === 0) || this.full || this.closed) return;
    const users = [...new Set([...this.dirty, ...this.asking])];
    this.dirty.clear();
    void (async () => {
      const vv: Record<string, VersionVector> = {};
      const ask: Record<string, VersionVector> = {};
      for (const u of users) if (this.host.holds(u)) (this.asking.delete(u) ? ask : vv)[u] = await this.host.durableVectorOf(u);
      if (Object.keys(vv).length > 0) this.send({ t: "vv", users: vv });
      if (Object.keys(ask).length > 0) this.send({ t: "vv", users: ask, ask: true });
    })().catch((err: unknown) => this.log.warn({ peer: this.peer, err }, "could not send vectors"));
  }

  /** Asks the peer for blobs and waits for them; undefined for any it did not send in time. */
  fetchBlobs(shas: string[]): Promise<Map<string, Buffer | undefined>> {
    const ask: string[] = [];
    const waits = shas.map(
      (sha) =>
        new Promise<[string, Buffer | undefined]>((resolve) => {
          let list = this.blobWaiters.get(sha);
          if (!list) {
            this.blobWaiters.set(sha, (list = []));
            ask.push(sha);
          }
          const timer = setTimeout(() => resolve([sha, undefined]), BLOB_WAIT_MS);
          list.push((b) => {
            clearTimeout(timer);
            resolve([sha, b]);
          });
        }),
    );
    if (ask.length > 0) this.send({ t: "want", shas: ask });
    return Promise.all(waits).then((pairs) => new Map(pairs));
  }

  close(): void {
    this.stream.destroy();
    this.onClose();
  }

  private onDrain(): void {
    this.full = false;
    if (this.behind.size === 0) return;
    // We skipped live ops: ask for the peer's vectors and answer with what it lacks.
    const users = [...this.behind];
    this.behind.clear();
    this.send({ t: "sync", users });
  }

  private onData(chunk: Buffer): void {
    let messages: ReplicationMessage[];
    try {
      messages = this.decoder.push(chunk);
    } catch (err) {
      this.log.warn({ peer: this.peer, err: (err as Error).message }, "bad replication data; closing the stream");
      this.close();
      return;
    }
    for (const m of messages) {
      // Blob traffic bypasses the queue: an ops message in the queue may be waiting for it.
      if (m.t === "blobs") this.onBlobs(m.items, m.missing ?? []);
      else if (m.t === "want") void this.onWant(m.shas);
      else this.queue = this.queue.then(() => this.handle(m)).catch((err: unknown) => this.fail(err));
    }
  }

  private fail(err: unknown): void {
    this.log.warn({ peer: this.peer, err }, "replication message failed; closing the stream");
    this.close();
  }

  private async handle(m: ReplicationMessage): Promise<void> {
    if (this.closed) return;
    switch (m.t) {
      case "vv":
        return this.onVectors(m.users, m.full === true, m.ask === true);
      case "sync": {
        const users = (m.users ?? this.host.usersFor(this.peer)).filter((u) => this.host.holds(u) && this.host.shouldHold(this.peer, u));
        const vv: Record<string, VersionVector> = {};
        for (const u of users) vv[u] = await this.host.durableVectorOf(u);
        this.send({ t: "vv", users: vv });
        return;
      }
      case "ops": {
        const blobs = m.blobs ? new Map(m.blobs) : undefined;
        for (const sha of blobs?.keys() ?? []) this.rememberShipped(sha);
        // Not awaited: the replicator keeps each user's ops in order, and other users need not wait.
        const applying = this.host.receive(m.user, m.ops, this, blobs).catch((err: unknown) => this.fail(err));
        this.applying.add(applying);
        void applying.finally(() => this.applying.delete(applying));
        return;
      }
      case "snapshot": {
        await Promise.all([...this.applying]);
        if (await this.host.installSnapshot(m.user, m.state)) {
          // Now ask for what came after the snapshot.
          this.send({ t: "vv", users: { [m.user]: await this.host.durableVectorOf(m.user) } });
        } else this.log.warn({ peer: this.peer, user: m.user }, "snapshot not installed: this node already holds the user");
        return;
      }
      case "synced":
        // Everything sent before the marker is applied before we call the peer synced.
        await Promise.all([...this.applying]);
        this.synced = true;
        return;
      default:
        return;
    }
  }

  private async onVectors(users: Record<string, VersionVector>, full: boolean, ask: boolean): Promise<void> {
    const now = Date.now();
    const owed: Record<string, VersionVector> = {};
    const names = new Set(Object.keys(users));
    // A full exchange also covers users the peer has nothing of yet.
    if (full) for (const u of this.host.usersFor(this.peer)) names.add(u);
    for (const user of names) {
      const theirs = users[user] ?? {};
      this.acked.set(user, theirs);
      for (const w of [...this.ackWaiters]) if (w.user === user && isDelivered(w.op, theirs)) w.resolve(true);
      const list = this.live.get(user);
      if (list) {
        // Live ops are this node's own, sent in seq order: what an ack covers is
        // a prefix. Filtering (or splicing) the whole list on every ack cost
        // O(backlog) each, a tenth of a worker's CPU while a large mailbox
        // filled up and storage acknowledged up to 10,000 ops behind.
        const { entries } = list;
        const start = list.head;
        while (list.head < entries.length && isDelivered(entries[list.head]!.op, theirs)) {
          this.host.metrics?.ackLatency(this.peer, (now - entries[list.head]!.sentAt) / 1000);
          list.head++;
        }
        this.liveCount -= list.head - start;
        if (list.head === entries.length) this.live.delete(user);
        else if (list.head > entries.length / 2) {
          list.entries = entries.slice(list.head);
          list.head = 0;
        }
      }
      if (this.host.holds(user) && this.host.shouldHold(this.peer, user)) {
        await this.sendMissing(user, theirs, full || ask);
        if (this.closed) return;
      }
      if (users[user] && this.host.shouldHold(this.host.self, user)) {
        const held = this.host.holds(user);
        // Whether we lack anything is judged on what we applied; what we send is what we acknowledge.
        const ours = held ? await this.host.vectorOf(user) : {};
        if (Object.entries(theirs).some(([r, s]) => (ours[r] ?? 0) < s)) owed[user] = held ? await this.host.durableVectorOf(user) : {};
      }
    }
    this.host.metrics?.outboxDepth(this.peer, this.liveCount);
    if (Object.keys(owed).length > 0) this.send({ t: "vv", users: owed });
    if (full) this.send({ t: "synced" });
  }

  /** What the peer has of `user` once the ops already written to this stream arrive: `acked` plus those. */
  private onTheWay(user: string, acked: VersionVector): VersionVector {
    return mergeVectors(acked, this.sent.get(user) ?? {});
  }

  /** Sends what `theirs` lacks of `user`: all of it when `everything`, else what is not already on its way. */
  private async sendMissing(user: string, theirs: VersionVector, everything: boolean): Promise<void> {
    if (everything) this.sent.delete(user);
    const base = this.onTheWay(user, theirs);
    // The common case, a plain acknowledgement: nothing to send, and no read of the op log.
    if (dominates(base, await this.host.durableVectorOf(user))) {
      const inFlight = this.sent.get(user);
      if (inFlight && dominates(theirs, inFlight)) this.sent.delete(user);
      return;
    }
    const answer = await this.host.catchUp(user, base);
    if ("snapshot" in answer) {
      this.sent.delete(user);
      this.send({ t: "snapshot", user, state: answer.snapshot });
      this.host.metrics?.snapshotSent(this.peer);
      return;
    }
    // Live ops may have gone out while the log was read: those are on their way too.
    const onTheWay = this.onTheWay(user, base);
    const ops = answer.ops.filter((op) => !isDelivered(op, onTheWay));
    // catchUp answers with every op `base` lacks, so what is on the way stays a contiguous prefix.
    for (const op of ops) if ((onTheWay[op.id.replica] ?? 0) < op.id.seq) onTheWay[op.id.replica] = op.id.seq;
    if (dominates(theirs, onTheWay)) this.sent.delete(user);
    else this.sent.set(user, onTheWay);
    for (let i = 0; i < ops.length; i += OPS_PER_MESSAGE) {
      const batch = ops.slice(i, i + OPS_PER_MESSAGE);
      this.send({ t: "ops", user, ops: batch });
      this.host.metrics?.opsSent(this.peer, batch.length);
      if (this.full) await new Promise<void>((resolve) => this.stream.once("drain", resolve));
      if (this.closed) return;
    }
  }

  private async onWant(shas: string[]): Promise<void> {
    let items: Array<[string, Buffer]> = [];
    let bytes = 0;
    const missing: string[] = [];
    for (const sha of shas) {
      const b = await this.host.blob(sha);
      if (!b) {
        missing.push(sha);
        continue;
      }
      items.push([sha, b]);
      bytes += b.length;
      if (bytes >= BLOB_BYTES_PER_MESSAGE) {
        this.send({ t: "blobs", items });
        items = [];
        bytes = 0;
      }
    }
    this.send({ t: "blobs", items, missing });
  }

  private onBlobs(items: Array<[string, Buffer]>, missing: string[]): void {
    const answer = (sha: string, body: Buffer | undefined) => {
      const waiters = this.blobWaiters.get(sha);
      this.blobWaiters.delete(sha);
      for (const w of waiters ?? []) w(body);
    };
    for (const [sha, body] of items) answer(sha, body);
    for (const sha of missing) answer(sha, undefined);
  }
}
