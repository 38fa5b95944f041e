import { describe, expect, it } from "vitest";
import { clusterRouter, holdsReplica, HomeWorkerRouter, rendezvousOrder } from "./home-worker-router";

const workers = ["worker-1", "worker-2", "worker-3"];
const storage = ["storage-1", "storage-2", "storage-3"];
const users = Array.from({ length: 2000 }, (_, i) => `user${i}@example.org`);

describe("HomeWorkerRouter", () => {
  it("sends every user to the worker of highest weight and spreads users over the workers", () => {
    const router = new HomeWorkerRouter(workers, storage);
    const perWorker = new Map<string, number>();
    for (const u of users) {
      const home = router.homeOf(u);
      expect(home).toBe(rendezvousOrder(workers, u)[0]);
      perWorker.set(home, (perWorker.get(home) ?? 0) + 1);
    }
    for (const w of workers) expect(perWorker.get(w) ?? 0).toBeGreaterThan(users.length / 6);
  });

  it("moves only the users of a removed worker", () => {
    const before = new HomeWorkerRouter(workers, storage);
    const after = new HomeWorkerRouter(["worker-1", "worker-3"], storage);
    let moved = 0;
    for (const u of users) {
      if (before.homeOf(u) === "worker-2") moved += 1;
      else expect(after.homeOf(u)).toBe(before.homeOf(u));
    }
    expect(moved).toBeGreaterThan(0);
  });

  it("keeps storageReplicas fallbacks per user, in weight order", () => {
    const router = new HomeWorkerRouter(workers, storage, 2);
    for (const u of users.slice(0, 200)) expect(router.fallbacksOf(u)).toEqual(rendezvousOrder(storage, u).slice(0, 2));
    const all = new HomeWorkerRouter(workers, storage);
    expect(all.fallbacksOf(users[0]!)).toHaveLength(3);
  });

  it("gives the same routes from memory as from hashing, also past the users it remembers", () => {
    const router = new HomeWorkerRouter(workers, storage, 2);
    const many = Array.from({ length: 12_000 }, (_, i) => `u${i}`);
    const hashed = many.map((u) => `${rendezvousOrder(workers, u)[0]} ${rendezvousOrder(storage, u).slice(0, 2).join(",")}`);
    const routed = () => many.map((u) => `${router.homeOf(u)} ${router.fallbacksOf(u).join(",")}`);
    expect(routed()).toEqual(hashed);
    // The second pass answers the last users from memory and the first ones (forgotten) anew.
    expect(routed()).toEqual(hashed);
  });

  it("routes to the home worker while it is up, else to the first storage replica that is up", () => {
    const router = new HomeWorkerRouter(workers, storage);
    const u = users[7]!;
    const home = router.homeOf(u);
    const [first, second] = router.fallbacksOf(u);
    expect(router.route(u, () => true)).toEqual({ node: home, home: true });
    expect(router.route(u, (n) => n !== home)).toEqual({ node: first, home: false });
    expect(router.route(u, (n) => n !== home && n !== first)).toEqual({ node: second, home: false });
    expect(router.route(u, () => false)).toBeUndefined();
  });
});

describe("holdsReplica", () => {
  it("is true for the user's home worker and its chosen storage nodes only", () => {
    const config = {
      nodes: [...workers.map((name) => ({ name, role: "worker" })), ...storage.map((name) => ({ name, role: "storage" })), { name: "dist-1", role: "distributor" }],
      replication: { storageReplicas: 1 },
    };
    const router = clusterRouter(config);
    for (const u of users.slice(0, 100)) {
      const holders = config.nodes.filter((n) => holdsReplica(config, router, n.name, u)).map((n) => n.name);
      expect(holders).toEqual([router.homeOf(u), router.fallbacksOf(u)[0]]);
    }
    expect(holdsReplica(config, router, "nobody", users[0]!)).toBe(false);
  });
});
