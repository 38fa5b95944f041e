// Issue 4 acceptance with real processes on loopback: writers keep appending
// and flagging while a node is killed with -9 or cut off, the cluster heals,
// and the history checker compares every acknowledged write with what each
// replica reports. Every phase is bounded in time.
import { afterEach, describe, expect, it } from "vitest";
import { formatHostPort } from "../src/config/cluster";
import { parsePrometheusText, sampleValue } from "../src/metrics/parse";
import { clusterRouter, holdsReplica } from "../src/routing/home-worker-router";
import { HistoryChecker, type ReplicaView } from "../verification/history-checker";
import { FaultProxy } from "./support/fault-proxy";
import { NodeCluster } from "./support/node-cluster";
import { WriterClient, type WriterTarget } from "./support/writer-client";

const USERS = ["ann", "ben", "cat", "dan", "eve"].map((u) => [u, `pw-${u}-42`] as const);
/** Each writer about 30 writes a second: 10 of them make a steady load, not a flood that measures only the CPU. */
const WRITER_PAUSE_MS = 30;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function replicaView(cluster: NodeCluster, node: string, user: string): Promise<ReplicaView | undefined> {
  const res = await fetch(`${cluster.adminUrl(node)}/replica?user=${encodeURIComponent(user)}`, { signal: AbortSignal.timeout(5_000) });
  if (res.status === 404) return undefined;
  return (await res.json()) as ReplicaView;
}

async function metric(cluster: NodeCluster, node: string, name: string): Promise<number> {
  const text = await (await fetch(`${cluster.adminUrl(node)}/metrics`)).text();
  return sampleValue(parsePrometheusText(text), name) || 0;
}

/** Polls every replica of every user until their digests agree; returns the milliseconds it took. */
async function convergence(cluster: NodeCluster, users: string[], boundMs: number): Promise<number> {
  const router = clusterRouter(cluster.config);
  const started = Date.now();
  while (Date.now() - started < boundMs) {
    let agree = true;
    for (const u of users) {
      const holders = cluster.mailNodes().filter((n) => holdsReplica(cluster.config, router, n.name, u));
      const views = await Promise.all(holders.map((n) => replicaView(cluster, n.name, u)));
      const digests = views.map((v) => v?.digest ?? "none");
      if (new Set(digests).size !== 1) {
        agree = false;
        if (process.env.CHARON_TEST_TRACE) console.log(u, holders.map((n, i) => `${n.name} ${JSON.stringify((views[i] as { vv?: unknown } | undefined)?.vv)}`).join(" | "));
      }
    }
    if (process.env.CHARON_TEST_TRACE) console.log(`poll at ${Date.now() - started} ms: ${agree}`);
    if (agree) return Date.now() - started;
    await sleep(50);
  }
  return Infinity;
}

async function verify(cluster: NodeCluster, checker: HistoryChecker): Promise<string[]> {
  const router = clusterRouter(cluster.config);
  const replicas = new Map<string, Map<string, ReplicaView>>();
  for (const n of cluster.mailNodes()) {
    const views = new Map<string, ReplicaView>();
    for (const u of checker.users()) {
      const v = await replicaView(cluster, n.name, u);
      if (v) views.set(u, v);
    }
    replicas.set(n.name, views);
  }
  return checker.verify(replicas, (replica, user) => holdsReplica(cluster.config, router, replica, user));
}

function writers(checker: HistoryChecker, target: () => WriterTarget, count: number, users = USERS, prefix = "c"): WriterClient[] {
  return Array.from({ length: count }, (_, i) => {
    const [u, p] = users[i % users.length]!;
    const w = new WriterClient(`${prefix}${i}`, u, p, target, checker, WRITER_PAUSE_MS);
    w.start();
    return w;
  });
}

async function started(opts: { storage?: number; distributors?: number; durability?: "local" | "replicated" } = {}): Promise<NodeCluster> {
  const cluster = await NodeCluster.create({ users: USERS, workers: 2, storage: opts.storage ?? 1, distributors: opts.distributors ?? 1, durability: opts.durability });
  cleanups.push(() => cluster.stop());
  return cluster;
}

describe("replication under faults (real processes)", () => {
  for (const durability of ["replicated", "local"] as const) {
    it(`kill -9 of a home worker under 10 writers (durability ${durability}): sessions move to storage, the restarted worker converges within 5 s, the history holds`, async () => {
      const cluster = await started({ durability });
      await cluster.startAll();
      const checker = new HistoryChecker();
      const ws = writers(checker, () => cluster.server(), 10);
      await sleep(1_500);
      const victim = "worker-1";
      const router = clusterRouter(cluster.config);
      expect(USERS.some(([u]) => router.homeOf(u) === victim)).toBe(true);
      const ackedBefore = ws.reduce((n, w) => n + w.acked, 0);
      await cluster.kill9(victim);
      await sleep(2_000);
      const reconnects = ws.reduce((n, w) => n + w.reconnects, 0);
      await cluster.startNode(victim);
      const restartedAt = Date.now();
      await sleep(500);
      await Promise.all(ws.map((w) => w.stop()));
      const converged = await convergence(cluster, USERS.map(([u]) => u), 15_000);
      const tookMs = converged === Infinity ? Infinity : Date.now() - restartedAt;
      const acked = ws.reduce((n, w) => n + w.acked, 0);
      const problems = await verify(cluster, checker);
      const regressions = problems.filter((p) => p.includes("UID went backwards"));
      const others = problems.filter((p) => !p.includes("UID went backwards"));
      console.log(
        `kill -9 ${victim} (durability ${durability}): ${acked} acknowledged appends (${ackedBefore} before the kill), ${reconnects} reconnects, ` +
          `replicas converged ${tookMs} ms after the restart (writers ran 0.5 s of it); UID regressions seen by clients: ${regressions.length}; other problems: ${others.length}\n` +
          problems.slice(0, 5).join("\n"),
      );
      if (tookMs > 5_000) console.log(["worker-1", "storage-1"].map((n) => `${n}:\n${cluster.log(n).split("\n").filter((l) => l.includes('"level":40') || l.includes('"level":50')).slice(-8).join("\n")}`).join("\n"));
      // Nothing acknowledged is lost and every replica agrees, whatever the durability.
      expect(others).toEqual([]);
      // With local durability the unreplicated tail of the dead worker is a split brain: its UIDs can be
      // handed out again by storage and are then moved by the merge. Replicated durability closes that gap.
      if (durability === "replicated") expect(regressions).toEqual([]);
      expect(reconnects).toBeGreaterThan(0);
      expect(acked).toBeGreaterThan(100);
      expect(tookMs).toBeLessThan(5_000);
    }, 60_000);
  }

  it("kill -9 of the storage node under load: it catches up by anti-entropy after its restart, the history holds", async () => {
    const cluster = await started();
    await cluster.startAll();
    const checker = new HistoryChecker();
    const ws = writers(checker, () => cluster.server(), 10);
    await sleep(1_000);
    await cluster.kill9("storage-1");
    await sleep(1_500);
    await cluster.startNode("storage-1");
    await sleep(1_000);
    await Promise.all(ws.map((w) => w.stop()));
    const tookMs = await convergence(cluster, USERS.map(([u]) => u), 15_000);
    const applied = await metric(cluster, "storage-1", "charon_replication_ops_applied_total");
    const problems = await verify(cluster, checker);
    console.log(`kill -9 storage-1: converged ${tookMs} ms after the writers stopped; restarted storage applied ${applied} ops from peers; problems: ${problems.length}`);
    expect(problems).toEqual([]);
    expect(applied).toBeGreaterThan(0);
    expect(tookMs).toBeLessThan(10_000);
  }, 60_000);

  it("a partition between a worker and storage with writers on both sides: one state after the heal, UID rules kept, reassignments counted", async () => {
    const cluster = await started({ distributors: 2 });
    const workerToStorage = await FaultProxy.start(cluster.node("storage-1").internal!);
    const dist2ToWorker = await FaultProxy.start(cluster.node("worker-1").internal!);
    cleanups.push(() => workerToStorage.close());
    cleanups.push(() => dist2ToWorker.close());
    const via = (p: FaultProxy) => formatHostPort({ host: "127.0.0.1", port: p.port });
    cluster.setEnv((name) => {
      if (name === "worker-1") return { "CHARON_NODES__storage-1__INTERNAL": via(workerToStorage) };
      if (name === "dist-2") return { "CHARON_NODES__worker-1__INTERNAL": via(dist2ToWorker) };
      return {};
    });
    await cluster.startAll();
    const router = clusterRouter(cluster.config);
    const split = USERS.filter(([u]) => router.homeOf(u) === "worker-1");
    expect(split.length).toBeGreaterThan(0);
    const checker = new HistoryChecker();
    // Writers on dist-1 reach worker-1; writers on dist-2 reach worker-1 only through the proxy.
    const side1 = writers(checker, () => cluster.server("dist-1"), 3, split, "near");
    const side2 = writers(checker, () => cluster.server("dist-2"), 3, split, "far");
    await sleep(800);
    workerToStorage.setMode("blackhole");
    dist2ToWorker.setMode("blackhole");
    // The far writers' sessions hang on the silent link until their 5 s command timeout; they reconnect,
    // dist-2 gives up on the link within 2 s and relays to storage: both sides then accept writes.
    await sleep(9_000);
    workerToStorage.setMode("pass");
    dist2ToWorker.setMode("pass");
    await sleep(500);
    await Promise.all([...side1, ...side2].map((w) => w.stop()));
    const tookMs = await convergence(cluster, split.map(([u]) => u), 20_000);
    const reassigned = (await metric(cluster, "worker-1", "charon_uid_reassignments_total")) + (await metric(cluster, "storage-1", "charon_uid_reassignments_total"));
    const problems = await verify(cluster, checker);
    const acked = [...side1, ...side2].map((w) => w.acked);
    console.log(`partition worker-1 | storage-1: acknowledged per writer ${acked.join(",")}; converged ${tookMs} ms after the heal; UID reassignments ${reassigned}; problems: ${problems.length}\n${problems.slice(0, 8).join("\n")}`);
    expect(problems).toEqual([]);
    expect(tookMs).toBeLessThan(15_000);
    expect(side2.reduce((n, w) => n + w.reconnects, 0)).toBeGreaterThan(0);
    // Both sides handed out the same UIDs while cut off, so the merge had to move some messages.
    expect(reassigned).toBeGreaterThan(0);
  }, 90_000);

  it("a new, empty storage node added to a populated cluster whose logs were compacted catches up from a snapshot plus later ops: its digests match", async () => {
    const cluster = await started({ storage: 2 });
    // Compaction soon and often, so that a short test has compacted logs.
    cluster.setEnv(() => ({ CHARON_REPLICATION__COMPACTEVERYMS: "300", CHARON_REPLICATION__COMPACTMINOPS: "20" }));
    cluster.useConfigWithout(["storage-2"]);
    await cluster.startAll(["storage-2"]);
    const checker = new HistoryChecker();
    let ws = writers(checker, () => cluster.server(), 5);
    await sleep(1_500);
    await Promise.all(ws.map((w) => w.stop()));
    const holders = ["worker-1", "worker-2", "storage-1"];
    const compacted = async () => Promise.all(holders.map((n) => metric(cluster, n, "charon_replication_ops_compacted_total")));
    for (let i = 0; i < 100 && (await compacted()).some((c) => c === 0); i++) await sleep(100);
    const before = await compacted();
    expect(before.every((c) => c > 0), `ops compacted on ${holders.join(", ")}: ${before.join(", ")}`).toBe(true);

    // storage-2 joins: the cluster restarts with it in the configuration.
    for (const n of ["dist-1", ...holders]) await cluster.stopNode(n);
    cluster.useFullConfig();
    const joined = Date.now();
    await cluster.startAll();
    ws = writers(checker, () => cluster.server(), 5, USERS, "d");
    await sleep(1_000);
    await Promise.all(ws.map((w) => w.stop()));
    const tookMs = await convergence(cluster, USERS.map(([u]) => u), 15_000);
    const problems = await verify(cluster, checker);
    const snapshots = (await Promise.all(holders.map((n) => metric(cluster, n, "charon_replication_snapshots_total")))).reduce((a, b) => a + b, 0);
    const applied = await metric(cluster, "storage-2", "charon_replication_ops_applied_total");
    console.log(
      `new storage-2 after compaction (${before.join("/")} ops compacted on ${holders.join("/")}): ${checker.size} acknowledged writes; ${snapshots} snapshots sent to it, then ${applied} ops applied; converged ${tookMs} ms after the writers stopped (${Date.now() - joined} ms after the restart began); problems: ${problems.length}`,
    );
    expect(problems).toEqual([]);
    expect(snapshots).toBeGreaterThanOrEqual(USERS.length);
    expect(applied).toBeGreaterThan(0);
    for (const [u] of USERS) expect((await replicaView(cluster, "storage-2", u))?.digest).toBe((await replicaView(cluster, "storage-1", u))?.digest);
  }, 90_000);
});
