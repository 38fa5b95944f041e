// Replicators over real LevelDB stores, talking over real mutual-TLS mux
// streams on loopback: live shipping, split brain and merge, relaying through
// a third replica, blobs shipped once, resumption after a cut link.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import pino from "pino";
import { digest } from "../crdt";
import { makePair, makePki, type Pair, type Pki } from "../link/test-helpers";
import { keys } from "../mailstore/keys";
import type { MailStoreOptions } from "../mailstore";
import { countKeys, message, tempStore, type TempStore } from "../mailstore/test-support";
import type { PeerSession } from "./peer-session";
import { Replicator, type ReplicatorMetrics, type ReplicatorOptions } from "./replicator";
import { MessageDecoder, type ReplicationMessage } from "./wire";

const log = pino({ level: "silent" });
let pki: Pki;
beforeAll(async () => {
  pki = await makePki();
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Counters extends ReplicatorMetrics {
  snapshots: number;
  sent: number;
  bytes: number;
  applied: number;
  reassigned: number;
  purged: number;
}

function counters(): Counters {
  const c: Counters = {
    snapshots: 0,
    sent: 0,
    snapshotSent: () => void c.snapshots++,
    bytes: 0,
    applied: 0,
    reassigned: 0,
    purged: 0,
    lag: () => undefined,
    ackLatency: () => undefined,
    outboxDepth: () => undefined,
    opsSent: (_p, n) => void (c.sent += n),
    bytesShipped: (_p, n) => void (c.bytes += n),
    opsApplied: (n) => void (c.applied += n),
    opsBuffered: () => undefined,
    uidReassigned: (n) => void (c.reassigned += n),
    opsCompacted: () => undefined,
    tombstonesPurged: (n) => void (c.purged += n),
  };
  return c;
}

interface Node {
  name: string;
  t: TempStore;
  r: Replicator;
  m: Counters;
}

async function node(
  name: string,
  shouldHold: (node: string, user: string) => boolean = () => true,
  replicasOf?: (user: string) => string[],
  storeOptions: Partial<MailStoreOptions> = {},
  timers: Pick<ReplicatorOptions, "purgeEveryMs"> = {},
): Promise<Node> {
  const t = await tempStore({ replicaId: `r-${name}`, ...storeOptions });
  const m = counters();
  // Rounds run when a test calls them, unless it asks for a timer.
  const r = new Replicator({ store: t.store, self: name, shouldHold, log, metrics: m, flushMs: 20, replicasOf, compactEveryMs: 3_600_000, compactMinOps: 10, purgeEveryMs: 3_600_000, ...timers });
  await r.start();
  cleanups.push(() => t.cleanup());
  cleanups.push(() => r.close());
  return { name, t, r, m };
}

/**
 * A replication stream between two nodes over a fresh mTLS mux pair; `session`
 * is a's end, and `heard` every message b sent on it.
 */
async function link(a: Node, b: Node): Promise<Pair & { session: PeerSession; heard: ReplicationMessage[] }> {
  const pair = await makePair(pki);
  pair.server.on("stream", (stream, _h, accept) => {
    accept();
    b.r.attach(a.name, stream);
  });
  const stream = await pair.client.openStream({ kind: "replication" });
  const heard: ReplicationMessage[] = [];
  const decoder = new MessageDecoder();
  stream.on("data", (chunk: Buffer) => heard.push(...decoder.push(chunk)));
  const session = a.r.attach(b.name, stream);
  cleanups.push(() => pair.close());
  return Object.assign(pair, { session, heard });
}

/** Polls `check` until it holds (bounded). */
async function eventually(what: string | (() => string), check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never: ${typeof what === "string" ? what : what()}`);
}

/** A worker w1 and a storage s1, linked, each holding every user and compacting once both acknowledged. */
async function compactingPair(timers: Pick<ReplicatorOptions, "purgeEveryMs"> = {}): Promise<[Node, Node]> {
  const replicas = () => ["w1", "s1"];
  const a = await node("w1", () => true, replicas, {}, timers);
  const b = await node("s1", () => true, replicas, {}, timers);
  await link(a, b);
  return [a, b];
}

async function digestOf(n: Node, user: string): Promise<string> {
  // Loading a user the node does not hold would create it (and make it refuse a snapshot).
  if (!n.r.holds(user)) return "not held";
  await n.t.store.queue.drain();
  return digest((await n.t.store.replica(user)).state);
}

/** Polls until every node has the same digest for `user` (bounded). */
async function converged(nodes: Node[], user: string): Promise<string> {
  let digests: string[] = [];
  await eventually(
    () => `convergence: ${digests.join(" ")}`,
    async () => {
      digests = await Promise.all(nodes.map((n) => digestOf(n, user)));
      return new Set(digests).size === 1;
    },
  );
  return digests[0]!;
}

describe("Replicator", () => {
  it("ships live writes both ways and converges, flags and expunges included", async () => {
    const a = await node("w1");
    const b = await node("s1");
    await link(a, b);
    const ua = await a.t.store.forUser("u");
    await ua.append("INBOX", message("one", "first body"), ["\\Seen"]);
    await ua.create("Projects");
    const d1 = await converged([a, b], "u");
    const ub = await b.t.store.forUser("u");
    expect(ub.info("Projects")).toBeDefined();
    const box = await ub.open("INBOX", false);
    expect(box.messages().map((m) => [m.uid, m.flags])).toEqual([[1, ["\\Seen"]]]);
    expect(String(await box.body(1))).toContain("first body");
    // Now the other way.
    await box.store([1], "add", ["\\Flagged"]);
    await ub.append("INBOX", message("two", "second"), []);
    const d2 = await converged([a, b], "u");
    expect(d2).not.toBe(d1);
    const boxA = await ua.open("INBOX", false);
    expect(boxA.messages().map((m) => m.uid)).toEqual([1, 2]);
    expect(boxA.messages()[0]!.flags).toContain("\\Flagged");
    await boxA.store([2], "add", ["\\Deleted"]);
    expect(await boxA.expunge([2])).toEqual([2]);
    await converged([a, b], "u");
    expect((await ub.open("INBOX", true)).messages().map((m) => m.uid)).toEqual([1]);
    expect(b.m.applied).toBeGreaterThan(0);
    expect(a.m.applied).toBeGreaterThan(0);
  });

  it("merges a split brain after the link returns: one state, fresh UIDs for the loser, none reused", async () => {
    const a = await node("w1");
    const b = await node("s1");
    const first = await link(a, b);
    const ua = await a.t.store.forUser("u");
    const ub = await b.t.store.forUser("u");
    await ua.append("INBOX", message("shared", "before the cut"), []);
    await converged([a, b], "u");
    await first.close();
    // Both sides hand out UID 2 while cut off.
    await ua.append("INBOX", message("on a", "written on a"), []);
    await ub.append("INBOX", message("on b", "written on b"), ["\\Seen"]);
    await link(a, b);
    await converged([a, b], "u");
    const uids = (await ua.open("INBOX", true)).messages().map((m) => m.uid);
    expect(uids).toHaveLength(3);
    expect(uids[0]).toBe(1);
    expect(new Set(uids).size).toBe(3);
    // UID 2 was claimed twice, so neither keeps it: both messages are above it.
    expect(uids.slice(1).every((u) => u > 2)).toBe(true);
    expect(a.m.reassigned + b.m.reassigned).toBeGreaterThan(0);
    expect((await ub.open("INBOX", true)).messages().map((m) => m.uid)).toEqual(uids);
  });

  it("reaches a replica through another one, and a new empty replica catches up from its peer", async () => {
    const w = await node("w1");
    const s1 = await node("s1");
    const s2 = await node("s2");
    await link(w, s1);
    await link(s1, s2);
    const uw = await w.t.store.forUser("u");
    for (let i = 0; i < 20; i++) await uw.append("INBOX", message(`m${i}`, `body ${i}`), i % 2 ? ["\\Seen"] : []);
    await converged([w, s1, s2], "u");
    // A fourth replica joining later gets everything by anti-entropy.
    const s3 = await node("s3");
    await link(s2, s3);
    await converged([w, s1, s2, s3], "u");
    expect((await (await s3.t.store.forUser("u")).open("INBOX", true)).messages()).toHaveLength(20);
  });

  it("ships a body only to a peer that lacks it: a COPY sends ops, not the blob again", async () => {
    const a = await node("w1");
    const b = await node("s1");
    await link(a, b);
    const ua = await a.t.store.forUser("u");
    const big = message("big", "x".repeat(200_000));
    await ua.append("INBOX", big, []);
    await converged([a, b], "u");
    const afterAppend = a.m.bytes;
    expect(afterAppend).toBeGreaterThan(200_000);
    const box = await ua.open("INBOX", false);
    await box.copy([1], "Archive");
    await converged([a, b], "u");
    expect(a.m.bytes - afterAppend).toBeLessThan(20_000);
    expect((await (await b.t.store.forUser("u")).open("Archive", true)).messages()).toHaveLength(1);
  });

  it("sends a burst of writes once: an acknowledgement does not make the sender repeat the ops still on their way", async () => {
    const a = await node("w1");
    const b = await node("s1");
    await link(a, b);
    await converged([a, b], "u");
    const before = a.m.sent;
    const ua = await a.t.store.forUser("u");
    // Concurrent appends: many ops in flight at once while the peer acknowledges the first ones.
    await Promise.all(Array.from({ length: 300 }, (_, i) => ua.append("INBOX", message(`m${i}`, `body ${i}`), [])));
    await converged([a, b], "u");
    expect((await (await b.t.store.forUser("u")).open("INBOX", true)).messages()).toHaveLength(300);
    const ops = (await a.r.vectorOf("u"))["r-w1"]!;
    // Each op once, give or take a catch-up racing a live send; resending the in-flight window on each ack sent several times as many.
    expect(a.m.sent - before).toBeGreaterThanOrEqual(ops);
    expect(a.m.sent - before).toBeLessThan(ops * 1.25);
  });

  it("answers acknowledgements during a burst without reading the op log for ops not yet on disk", async () => {
    const a = await node("w1");
    const b = await node("s1");
    await link(a, b);
    await converged([a, b], "u");
    const store = a.t.store;
    const catchUp = store.catchUp.bind(store);
    let reads = 0;
    store.catchUp = (user, after) => {
      reads++;
      return catchUp(user, after);
    };
    const ua = await store.forUser("u");
    for (let round = 0; round < 20; round++) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => ua.append("INBOX", message(`m${round}-${i}`, "body"), [])));
    }
    await converged([a, b], "u");
    expect((await (await b.t.store.forUser("u")).open("INBOX", true)).messages()).toHaveLength(200);
    // Comparing against the applied vector read the log on most rounds (13-18 of 20 in 7 runs);
    // against the durable one, 0-1: a read still happens when an ack overtakes a live send.
    expect(reads).toBeLessThanOrEqual(5);
  });

  it("applies a user's ops from a peer while the earlier ones still wait for their commit", async () => {
    const a = await node("w1");
    // A linger far beyond the test: only a drain writes the peer's ops.
    const b = await node("s1", undefined, undefined, { remoteLingerMs: 600_000 });
    await link(a, b);
    const ua = await a.t.store.forUser("u");
    for (let i = 0; i < 3; i++) await ua.append("INBOX", message(`m${i}`, `body ${i}`), []);
    const ops = (await a.r.vectorOf("u"))["r-w1"]!;
    // Waiting for each batch's commit before applying the next held the second op for the whole linger.
    await eventually("s1 applied every op", async () => ((await b.r.vectorOf("u"))["r-w1"] ?? 0) === ops);
    expect((await b.r.durableVectorOf("u"))["r-w1"] ?? 0).toBeLessThan(ops);
    await b.t.store.queue.drain();
    await converged([a, b], "u");
    expect((await (await b.t.store.forUser("u")).open("INBOX", true)).messages()).toHaveLength(3);
  });

  it("acknowledges only what is on disk: every vector sent to a peer is the durable one", async () => {
    const a = await node("w1");
    const b = await node("s1", undefined, undefined, { remoteLingerMs: 600_000 });
    const { session, heard } = await link(a, b);
    const ua = await a.t.store.forUser("u");
    await ua.append("INBOX", message("one", "first body"), []);
    const op = (await a.r.vectorOf("u"))["r-w1"]!;
    await eventually("s1 applied the op", async () => ((await b.r.vectorOf("u"))["r-w1"] ?? 0) === op);
    const vectors = () => heard.flatMap((m) => (m.t === "vv" && m.users.u ? [m.users.u["r-w1"] ?? 0] : []));
    const before = vectors().length;
    session.send({ t: "sync", users: ["u"] });
    await eventually("s1 answered the sync", () => vectors().length > before);
    // Applied but still lingering in s1's commit queue: a crash there would lose it.
    expect(Math.max(...vectors())).toBeLessThan(op);
    await b.t.store.queue.drain();
    await eventually("s1 acknowledged the op once durable", () => vectors().some((seq) => seq === op));
  });

  it("keeps each user to the replicas that should hold it", async () => {
    const holds = (n: string, user: string) => n.startsWith("s") || user === "mine";
    const a = await node("w1", holds);
    const b = await node("s1", holds);
    await link(a, b);
    const ub = await b.t.store.forUser("elsewhere");
    await ub.append("INBOX", message("not for w1", "x"), []);
    const um = await b.t.store.forUser("mine");
    await um.append("INBOX", message("for w1", "y"), []);
    await converged([a, b], "mine");
    await new Promise((r) => setTimeout(r, 100));
    expect(a.r.holds("elsewhere")).toBe(false);
    expect(a.r.holds("mine")).toBe(true);
  });

  it("purges expunged messages from memory once every replica has the expunges and what was concurrent with them", async () => {
    const [a, b] = await compactingPair();
    const ua = await a.t.store.forUser("u");
    for (let i = 0; i < 5; i++) await ua.append("INBOX", message(`m${i}`, `body ${i}`), []);
    const box = await ua.open("INBOX", false);
    await box.store([1, 2, 3], "add", ["\\Deleted"]);
    await box.expunge();
    await converged([a, b], "u");
    const tombstonesOf = async (n: Node) => (await n.t.store.replica("u")).tombstones().length;
    expect(await tombstonesOf(a)).toBe(3);
    expect(await tombstonesOf(b)).toBe(3);
    // Compaction rounds leave tombstones alone...
    for (let i = 0; i < 3; i++) await Promise.all([a.r.compactRound(), b.r.compactRound()]);
    expect(await tombstonesOf(a)).toBe(3);
    const logged = (n: Node) => countKeys(n.t.store, keys.opPrefix("u"));
    const loggedBefore = [await logged(a), await logged(b)];
    // ...and purge rounds leave the log alone. One round captures them, one sees them everywhere, one sees
    // everything concurrent everywhere.
    await eventually("both purged", async () => {
      await Promise.all([a.r.purgeRound(), b.r.purgeRound()]);
      return (await tombstonesOf(a)) === 0 && (await tombstonesOf(b)) === 0;
    });
    expect([await logged(a), await logged(b)]).toEqual(loggedBefore);
    expect(a.m.purged).toBe(3);
    expect(b.m.purged).toBe(3);
    await converged([a, b], "u");
    for (const n of [a, b]) {
      expect((await (await n.t.store.forUser("u")).open("INBOX", true)).messages().map((m) => m.uid)).toEqual([4, 5]);
    }
    // Later writes carry on as before: the purged uids are not handed out again.
    await ua.append("INBOX", message("later", "after the purge"), []);
    await converged([a, b], "u");
    expect((await (await b.t.store.forUser("u")).open("INBOX", true)).messages().map((m) => m.uid)).toEqual([4, 5, 6]);
  });

  it("purges on its own timer, without a compaction round", async () => {
    const [a, b] = await compactingPair({ purgeEveryMs: 30 });
    const ua = await a.t.store.forUser("u");
    for (let i = 0; i < 3; i++) await ua.append("INBOX", message(`m${i}`, `body ${i}`), []);
    const box = await ua.open("INBOX", false);
    await box.store([1, 2], "add", ["\\Deleted"]);
    await box.expunge();
    await converged([a, b], "u");
    // The compaction timer is an hour away: only the purge timer can have done this.
    await eventually("both purged by their timers", () => a.m.purged === 2 && b.m.purged === 2);
  });

  it("compacts the log once every replica acknowledged, and a new replica starts from a snapshot plus later ops", async () => {
    const [a, b] = await compactingPair();
    const ua = await a.t.store.forUser("u");
    for (let i = 0; i < 30; i++) await ua.append("INBOX", message(`m${i}`, `body ${i}`), []);
    await converged([a, b], "u");
    // Wait for b's acknowledgement of the last op to reach a.
    for (let i = 0; i < 100 && (await a.r.compactRound()) === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await a.t.store.readOps("u", {})).toHaveLength(0);
    // A restart of the compacted replica rebuilds the same state from the snapshot.
    const before = await digestOf(a, "u");
    a.r.close();
    const reopened = await a.t.reopen();
    expect(digest((await reopened.replica("u")).state)).toBe(before);
    const a2: Node = { ...a, r: new Replicator({ store: reopened, self: "w1", shouldHold: () => true, log, metrics: a.m, flushMs: 20 }) };
    await a2.r.start();
    cleanups.push(() => a2.r.close());
    await (await reopened.forUser("u")).append("INBOX", message("after", "written after the compaction"), []);
    // A replica that was never part of it needs ops that are gone: it gets the snapshot, then the rest.
    const c = await node("s9");
    await link(a2, c);
    await converged([a2, c], "u");
    expect(a2.m.snapshots).toBeGreaterThan(0);
    expect((await (await c.t.store.forUser("u")).open("INBOX", true)).messages()).toHaveLength(31);
  });

  it("spreads a round's compactions over the time it is given, and a close ends the round", async () => {
    const [a] = await compactingPair();
    for (const user of ["u1", "u2"]) {
      const u = await a.t.store.forUser(user);
      for (let i = 0; i < 15; i++) await u.append("INBOX", message(`${user}-${i}`, `body ${i}`), []);
    }
    for (let i = 0; i < 200 && a.r.peers()[0]?.outbox !== 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(a.r.peers()[0]?.outbox).toBe(0);
    const logged = (user: string) => countKeys(a.t.store, keys.opPrefix(user));
    // Two users over 10 minutes: the second waits 5 minutes, so it is still whole when the first is done.
    const round = a.r.compactRound(600_000);
    for (let i = 0; i < 200 && (await logged("u1")) > 0 && (await logged("u2")) > 0; i++) await new Promise((r) => setTimeout(r, 10));
    const first = (await logged("u1")) === 0 ? "u1" : "u2";
    const second = first === "u1" ? "u2" : "u1";
    expect(await logged(first)).toBe(0);
    a.r.close();
    expect(await round).toBe(15);
    expect(await logged(second)).toBe(15);
  });

  it("compacts a large user only once a quarter of its message count is newly acknowledged", async () => {
    const [a] = await compactingPair();
    const ua = await a.t.store.forUser("u");
    const appendAcked = async (n: number, from: number) => {
      await Promise.all(Array.from({ length: n }, (_, i) => ua.append("INBOX", message(`m${from + i}`, "x"), [])));
      // Every live op acknowledged by s1 (the outbox empties as acknowledgements arrive).
      for (let i = 0; i < 200 && a.r.peers()[0]?.outbox !== 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(a.r.peers()[0]?.outbox).toBe(0);
    };
    await appendAcked(200, 0);
    expect(await a.r.compactRound()).toBe(200);
    // 20 more: above compactMinOps (10), below 220/4; the snapshot would cost more than the log saves.
    await appendAcked(20, 200);
    const logged = () => countKeys(a.t.store, keys.opPrefix("u"));
    expect(await a.r.compactRound()).toBe(0);
    expect(await logged()).toBe(20);
    // 70 since the last compaction, above 270/4.
    await appendAcked(50, 220);
    expect(await a.r.compactRound()).toBe(70);
    expect(await logged()).toBe(0);
  });
});
