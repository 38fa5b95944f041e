import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "./circuit-breaker";
import { clusterRouter, holdsReplica, HomeWorkerRouter, rendezvousOrder } from "../src/routing/home-worker-router";

const workers = ["worker-1", "worker-2", "worker-3"];

describe("HomeWorkerRouter", () => {
  it("spreads users over the workers roughly evenly", () => {
    const router = new HomeWorkerRouter(workers, ["storage-1"]);
    const counts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const home = router.homeOf(`user${i}`);
      counts.set(home, (counts.get(home) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(workers);
    for (const n of counts.values()) expect(n).toBeGreaterThan(800);
  });

  it("moves only the users of a removed worker, and only to the new worker when one is added", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 50 }), (users) => {
        const before = new HomeWorkerRouter(workers, []);
        const fewer = new HomeWorkerRouter(["worker-1", "worker-3"], []);
        const more = new HomeWorkerRouter([...workers, "worker-4"], []);
        for (const u of users) {
          const h = before.homeOf(u);
          if (h !== "worker-2") expect(fewer.homeOf(u)).toBe(h);
          const m = more.homeOf(u);
          expect(m === h || m === "worker-4").toBe(true);
        }
      }),
    );
  });

  it("does not depend on the order the workers are configured in", () => {
    const a = new HomeWorkerRouter(workers, []);
    const b = new HomeWorkerRouter([...workers].reverse(), []);
    for (let i = 0; i < 200; i++) expect(b.homeOf(`u${i}`)).toBe(a.homeOf(`u${i}`));
  });

  it("keeps each user on storageReplicas storage nodes, the first ones of its rendezvous order, spread over all of them", () => {
    const storage = ["storage-1", "storage-2", "storage-3"];
    const router = new HomeWorkerRouter(workers, storage, 2);
    const load = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const user = `user${i}`;
      const kept = router.fallbacksOf(user);
      expect(kept).toEqual(rendezvousOrder(storage, user).slice(0, 2));
      for (const s of kept) load.set(s, (load.get(s) ?? 0) + 1);
    }
    for (const s of storage) expect(load.get(s)).toBeGreaterThan(150);
    expect(new HomeWorkerRouter(workers, storage).fallbacksOf("alice")).toHaveLength(3);
    const config = { nodes: [...workers.map((name) => ({ name, role: "worker" })), ...storage.map((name) => ({ name, role: "storage" }))], replication: { storageReplicas: 1 } };
    const holders = config.nodes.filter((n) => holdsReplica(config, clusterRouter(config), n.name, "alice")).map((n) => n.name);
    expect(holders).toEqual([router.homeOf("alice"), rendezvousOrder(storage, "alice")[0]]);
  });

  it("falls back to a storage replica, the same one for every session of a user", () => {
    const storage = ["storage-1", "storage-2"];
    const router = new HomeWorkerRouter(workers, storage);
    const home = router.homeOf("alice");
    expect(router.route("alice", () => true)).toEqual({ node: home, home: true });
    const down = router.route("alice", (n) => n !== home);
    expect(down).toEqual({ node: rendezvousOrder(storage, "alice")[0], home: false });
    const firstStorage = rendezvousOrder(storage, "alice")[0]!;
    expect(router.route("alice", (n) => n !== home && n !== firstStorage)?.node).toBe(
      storage.find((s) => s !== firstStorage),
    );
    expect(router.route("alice", () => false)).toBeUndefined();
  });
});

describe("CircuitBreaker", () => {
  it("opens on failure, lets one probe through after the retry time, and backs off", () => {
    const b = new CircuitBreaker({ failureThreshold: 1, baseRetryMs: 100, maxRetryMs: 350 });
    expect(b.allows(0)).toBe(true);
    b.failure(0);
    expect(b.state(50)).toBe("open");
    expect(b.allows(50)).toBe(false);
    expect(b.allows(100)).toBe(true); // the probe
    expect(b.allows(101)).toBe(false); // only one at a time
    b.failure(110);
    expect(b.nextProbeAt()).toBe(310);
    expect(b.allows(300)).toBe(false);
    expect(b.allows(310)).toBe(true);
    b.failure(310);
    b.failure(320);
    expect(b.nextProbeAt()).toBe(320 + 350); // capped
    b.success();
    expect(b.state(321)).toBe("closed");
    expect(b.allows(321)).toBe(true);
  });

  it("tolerates failures below the threshold", () => {
    const b = new CircuitBreaker({ failureThreshold: 3, baseRetryMs: 100, maxRetryMs: 1000 });
    b.failure(0);
    b.failure(1);
    expect(b.allows(2)).toBe(true);
    b.failure(2);
    expect(b.allows(3)).toBe(false);
  });
});
