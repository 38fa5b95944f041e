import { EventEmitter } from "node:events";
import { PassThrough, type Duplex } from "node:stream";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { BackendLinks, NoNodeAvailableError, type NodeLink } from "./backend-links";
import { HomeWorkerRouter } from "../src/routing/home-worker-router";

class FakeLink extends EventEmitter implements NodeLink {
  closed = false;
  /** "silent": a link behind a partition, no answer ever; "refuse": the node answers no. */
  mode: "ok" | "silent" | "refuse" | "slow" = "ok";
  headers: Array<Record<string, unknown>> = [];
  framesReceived = 0;
  private talking: NodeJS.Timeout | undefined;
  /** The node keeps sending frames (heartbeats, other sessions' data): it is alive. */
  talk(): void {
    this.talking = setInterval(() => this.framesReceived++, 10);
  }
  quiet(): void {
    clearInterval(this.talking);
  }
  async openStream(header: Record<string, unknown>): Promise<Duplex> {
    if (this.closed) throw new Error("link closed");
    this.headers.push(header);
    if (this.mode === "silent") return new Promise<Duplex>(() => undefined);
    if (this.mode === "slow") return new Promise<Duplex>((resolve) => setTimeout(() => resolve(new PassThrough()), 120));
    if (this.mode === "refuse") throw Object.assign(new Error("stream refused: node is shutting down"), { code: "LINK_STREAM_REFUSED" });
    return new PassThrough();
  }
  close(): void {
    this.closed = true;
    this.emit("close");
  }
}

function setup(down: Set<string>, openTimeoutMs?: number) {
  const router = new HomeWorkerRouter(["w1", "w2"], ["s1"]);
  const links = new Map<string, FakeLink>();
  const connects: string[] = [];
  let clock = 0;
  const health: Array<[string, boolean]> = [];
  const backend = new BackendLinks({
    nodes: ["w1", "w2", "s1"],
    router,
    log: pino({ level: "silent" }),
    breaker: { failureThreshold: 1, baseRetryMs: 60_000, maxRetryMs: 60_000 },
    now: () => clock,
    openTimeoutMs,
    onHealth: (n, up) => health.push([n, up]),
    connect: async (node) => {
      connects.push(node);
      if (down.has(node)) throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
      const l = new FakeLink();
      links.set(node, l);
      return l;
    },
  });
  return { router, backend, links, connects, health, tick: (ms: number) => (clock += ms) };
}

/** A cluster whose home worker for `user` now answers in `mode` while it keeps sending frames: a live node. */
async function liveHome(user: string, mode: FakeLink["mode"]) {
  const ctx = setup(new Set(), 50);
  const home = ctx.router.homeOf(user);
  await ctx.backend.openSession(user, {});
  const link = ctx.links.get(home)!;
  link.mode = mode;
  link.talk();
  const done = () => {
    link.quiet();
    ctx.backend.close();
  };
  return { ...ctx, home, link, done };
}

describe("BackendLinks", () => {
  it("relays to the home worker over one shared link", async () => {
    const { router, backend, links, connects } = setup(new Set());
    const home = router.homeOf("alice");
    const a = await backend.openSession("alice", { session: "x1" });
    const b = await backend.openSession("alice", { session: "x2" });
    expect(a).toMatchObject({ node: home, home: true });
    expect(b.node).toBe(home);
    expect(connects).toEqual([home]);
    expect(links.get(home)!.headers).toEqual([
      { session: "x1", user: "alice" },
      { session: "x2", user: "alice" },
    ]);
    backend.close();
  });

  it("falls back to storage when the home worker is down, without retrying the dead node on every login", async () => {
    const router = new HomeWorkerRouter(["w1", "w2"], ["s1"]);
    const home = router.homeOf("alice");
    const { backend, connects, health } = setup(new Set([home]));
    const first = await backend.openSession("alice", {});
    expect(first).toMatchObject({ node: "s1", home: false });
    for (let i = 0; i < 5; i++) expect((await backend.openSession("alice", {})).node).toBe("s1");
    expect(connects.filter((n) => n === home)).toHaveLength(1);
    expect(backend.isUp(home)).toBe(false);
    expect(health).toContainEqual([home, false]);
    backend.close();
  });

  it("marks a node down the moment its link closes, and reports no node when none is left", async () => {
    const { router, backend, links, tick } = setup(new Set());
    const home = router.homeOf("bob");
    await backend.openSession("bob", {});
    links.get(home)!.close();
    expect(backend.isUp(home)).toBe(false);
    expect((await backend.openSession("bob", {})).node).toBe("s1");
    links.get("s1")!.close();
    await expect(backend.openSession("bob", {})).rejects.toBeInstanceOf(NoNodeAvailableError);
    tick(60_000);
    // After the retry time the breaker lets a probe through again.
    expect((await backend.openSession("bob", {})).node).toBe(home);
    backend.close();
  });

  it("gives up on a link that never answers a session open, closes it and falls back", async () => {
    const { router, backend, links } = setup(new Set(), 50);
    const home = router.homeOf("carol");
    await backend.openSession("carol", {});
    links.get(home)!.mode = "silent";
    const next = await backend.openSession("carol", {});
    expect(next).toMatchObject({ node: "s1", home: false });
    expect(links.get(home)!.closed).toBe(true);
    expect(backend.isUp(home)).toBe(false);
    backend.close();
  });

  it("waits for a slow node that is still sending frames, and keeps its link", async () => {
    const { backend, health, home, link, done } = await liveHome("erin", "slow");
    try {
      // The answer comes after 120 ms, past the 50 ms timeout, but frames keep arriving meanwhile.
      expect(await backend.openSession("erin", {})).toMatchObject({ node: home, home: true });
      expect(link.closed).toBe(false);
      expect(backend.isUp(home)).toBe(true);
      expect(health).not.toContainEqual([home, false]);
    } finally {
      done();
    }
  });

  it("falls back from a live node that never opens the session, keeps its link, and takes it back once it answers", async () => {
    const { backend, health, tick, home, link, done } = await liveHome("frank", "silent");
    try {
      expect(await backend.openSession("frank", {})).toMatchObject({ node: "s1", home: false });
      // Three periods of waiting, then storage; the link and its other sessions stay.
      expect(link.headers).toHaveLength(2);
      expect(link.closed).toBe(false);
      expect(backend.isUp(home)).toBe(false);
      expect(health).toContainEqual([home, false]);
      link.mode = "ok";
      tick(60_000);
      expect(await backend.openSession("frank", {})).toMatchObject({ node: home, home: true });
      expect(backend.isUp(home)).toBe(true);
      expect(health[health.length - 1]).toEqual([home, true]);
    } finally {
      done();
    }
  });

  it("tries the next node when a live node refuses, without marking it down", async () => {
    const { router, backend, links } = setup(new Set());
    const home = router.homeOf("dave");
    await backend.openSession("dave", {});
    links.get(home)!.mode = "refuse";
    expect((await backend.openSession("dave", {})).node).toBe("s1");
    expect(backend.isUp(home)).toBe(true);
    expect(links.get(home)!.closed).toBe(false);
    links.get(home)!.mode = "ok";
    expect((await backend.openSession("dave", {})).node).toBe(home);
    backend.close();
  });
});
