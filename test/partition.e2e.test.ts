// A worker that is not dead but unreachable: the distributor's link to it
// goes through a fault proxy that the test blackholes (no RST, no FIN, bytes
// simply stop). Logins must not hang on the silent link: they fall over to
// storage, and come home once the partition heals.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatHostPort } from "../src/config/cluster";
import { FaultProxy } from "./support/fault-proxy";
import { heldMail } from "./support/cluster";
import { closeQuietly, connected } from "./support/imapflow-client";
import { simpleMessage } from "./support/messages";
import { NodeCluster } from "./support/node-cluster";
import type { RunningServer } from "./support/server";
import { parsePrometheusText, sampleValue } from "../src/metrics/parse";
import { HomeWorkerRouter } from "../src/routing/home-worker-router";

const USERS = ["ann", "ben", "cat", "dan"].map((u) => [u, `pw-${u}-7`] as const);

describe("a partition between the distributor and a worker", () => {
  let cluster: NodeCluster;
  let proxy: FaultProxy;
  let srv: RunningServer;
  let user: string;
  let password: string;

  beforeAll(async () => {
    cluster = await NodeCluster.create({ users: USERS, workers: 2, storage: 1 });
    const router = new HomeWorkerRouter(["worker-1", "worker-2"], ["storage-1"]);
    [user, password] = USERS.find(([u]) => router.homeOf(u) === "worker-1")!;
    proxy = await FaultProxy.start(cluster.node("worker-1").internal!);
    // Only the distributor reaches worker-1 through the proxy.
    cluster.setEnv((name) => (name === "dist-1" ? { "CHARON_NODES__worker-1__INTERNAL": formatHostPort({ host: "127.0.0.1", port: proxy.port }) } : {}));
    await cluster.startAll();
    srv = cluster.server();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    await proxy?.close();
  });

  async function appendAs(subject: string): Promise<void> {
    const c = await connected(srv, user, password);
    try {
      await c.append("INBOX", simpleMessage({ subject, body: subject }));
    } finally {
      await closeQuietly(c);
    }
  }

  let workerBaseline = 0;
  async function workerSessionsTotal(): Promise<number> {
    const text = await (await fetch(`${cluster.adminUrl("worker-1")}/metrics`)).text();
    return sampleValue(parsePrometheusText(text), "charon_connections_total") - workerBaseline;
  }

  const worker = () => ({ name: "worker-1", role: "worker" as const, pid: 0, restart: "", admin: cluster.adminUrl("worker-1") });
  const storage = () => ({ name: "storage-1", role: "storage" as const, pid: 0, restart: "", admin: cluster.adminUrl("storage-1") });

  it("relays through the proxy while it passes", async () => {
    await appendAs("through the proxy");
    expect(proxy.accepted).toBeGreaterThan(0);
    expect((await heldMail(worker())).get(user)).toBe(1);
  });

  it("falls over to storage when the link goes silent, and comes home after the heal", async () => {
    proxy.setMode("blackhole");
    workerBaseline = await workerSessionsTotal();
    const started = Date.now();
    await appendAs("during the partition");
    const tookMs = Date.now() - started;
    console.log(`partition: login and APPEND served by storage-1 after ${tookMs} ms on a silent link`);
    // Storage had the first message by replication and took the second; the worker (cut off from the
    // distributor only) gets it over its own replication link to storage.
    expect((await heldMail(storage())).get(user)).toBe(2);
    let home = 0;
    for (let i = 0; i < 50 && home < 2; i++) {
      home = (await heldMail(worker())).get(user) ?? 0;
      if (home < 2) await new Promise((r) => setTimeout(r, 100));
    }
    expect(home).toBe(2);

    proxy.setMode("pass");
    const before = (await heldMail(storage())).get(user)!;
    let sessionsHome = 0;
    // Once the distributor has its link back, sessions land on the worker again (its session counter moves).
    for (let i = 0; i < 60 && sessionsHome === 0; i++) {
      await appendAs(`after the heal ${i}`);
      sessionsHome = await workerSessionsTotal();
      if (sessionsHome === 0) await new Promise((r) => setTimeout(r, 250));
    }
    expect(sessionsHome).toBeGreaterThan(0);
    expect((await heldMail(storage())).get(user)).toBeGreaterThan(before);
  });
});
