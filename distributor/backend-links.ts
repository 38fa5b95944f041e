// The distributor's long-lived links to the mail nodes (workers and storage),
// one multiplexed mutual-TLS connection per node, shared by every relayed
// session. Health is a circuit breaker per node: a node whose link failed is
// skipped at once until a background probe reconnects it, so no login waits on
// a dead node's connect timeout.
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { CircuitBreaker, DEFAULT_BREAKER, type BreakerOptions } from "./circuit-breaker";
import type { HomeWorkerRouter, RouteChoice } from "../src/routing/home-worker-router";

/** What a link to one node offers; src/link's MuxConnection satisfies it. */
export interface NodeLink {
  openStream(header: Record<string, unknown>): Promise<Duplex>;
  once(event: "close", listener: (err?: Error) => void): unknown;
  close(): void;
  readonly closed: boolean;
  /** Frames received from the node so far; a count that moves shows the node alive though slow. */
  readonly framesReceived?: number;
}

/** Periods of openTimeoutMs a slow but live node gets to answer a session open (6 s by default, the heartbeat's own limit). */
const SLOW_NODE_PERIODS = 3;

export type NodeConnector = (node: string) => Promise<NodeLink>;

export interface OpenedSession {
  stream: Duplex;
  node: string;
  home: boolean;
}

/** src/link's StreamRefusedError, or any error a NodeLink marks as a refusal. */
function isRefusal(err: unknown): boolean {
  const e = err as { code?: unknown; refused?: unknown };
  return e?.code === "LINK_STREAM_REFUSED" || e?.refused === true;
}

export class NoNodeAvailableError extends Error {
  constructor(user: string) {
    super(`no mail node is available for ${user}`);
    this.name = "NoNodeAvailableError";
  }
}

interface NodeEntry {
  breaker: CircuitBreaker;
  link: NodeLink | undefined;
  connecting: Promise<NodeLink> | undefined;
  probeTimer: NodeJS.Timeout | undefined;
}

export interface BackendLinksOptions {
  nodes: readonly string[];
  router: HomeWorkerRouter;
  connect: NodeConnector;
  log: Logger;
  breaker?: BreakerOptions;
  now?: () => number;
  /**
   * How long a stream open may take before the node counts as down. A link
   * behind a partition stays open until its heartbeat gives up; a login must
   * not wait that long. Default 2000 ms.
   */
  openTimeoutMs?: number;
  /** Called whenever a node's health changes (for metrics and /readyz). */
  onHealth?: (node: string, up: boolean) => void;
}

export class BackendLinks {
  private readonly nodes = new Map<string, NodeEntry>();
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly opts: BackendLinksOptions) {
    this.now = opts.now ?? Date.now;
    for (const n of opts.nodes) {
      this.nodes.set(n, { breaker: new CircuitBreaker(opts.breaker ?? DEFAULT_BREAKER), link: undefined, connecting: undefined, probeTimer: undefined });
    }
  }

  /** Connects to every node now, so the first logins find warm links. Failures only open breakers. */
  async warmUp(): Promise<void> {
    await Promise.all([...this.nodes.keys()].map((n) => this.link(n).catch(() => undefined)));
  }

  /** Whether the node is believed up (its breaker lets traffic through without a probe). */
  isUp(node: string): boolean {
    const e = this.nodes.get(node);
    return e !== undefined && e.breaker.state(this.now()) === "closed";
  }

  upNodes(): string[] {
    return [...this.nodes.keys()].filter((n) => this.isUp(n));
  }

  /**
   * Opens a relayed session for `user` on its home worker, or on a storage
   * replica while the home worker is down. A node that fails here is marked
   * down and the next choice is tried at once.
   */
  async openSession(user: string, header: Record<string, unknown>): Promise<OpenedSession> {
    const tried = new Set<string>();
    for (;;) {
      // allows() also lets one login through as the probe once a down node's retry time has come.
      const choice: RouteChoice | undefined = this.opts.router.route(
        user,
        (n) => !tried.has(n) && (this.nodes.get(n)?.breaker.allows(this.now()) ?? false),
      );
      if (!choice) throw new NoNodeAvailableError(user);
      tried.add(choice.node);
      try {
        const link = await this.link(choice.node);
        const stream = await this.openWithin(link, { ...header, user });
        this.markUp(choice.node);
        return { stream, node: choice.node, home: choice.home };
      } catch (err) {
        // A live node that refuses (shutting down, or its store failed for this
        // user) is not a failed link: try the next node but keep the link.
        if (isRefusal(err)) {
          this.opts.log.warn({ target: choice.node, user, reason: (err as Error).message }, "mail node refused the session; trying the next one");
          continue;
        }
        this.opts.log.warn({ err, target: choice.node, user }, "mail node unavailable; trying the next one");
        this.markDown(choice.node);
      }
    }
  }

  /**
   * openStream, or a failure once the node has not answered within
   * openTimeoutMs. A node that sent nothing in that time is taken to be behind
   * a partition: its link is closed (a late stream is destroyed). A node that
   * did send frames (heartbeats, other sessions' data) is alive but slow, a GC
   * pause or a burst of fsyncs: it gets up to SLOW_NODE_PERIODS periods, and
   * its link, which carries other sessions, stays open even if it then fails.
   */
  private openWithin(link: NodeLink, header: Record<string, unknown>): Promise<Duplex> {
    const ms = this.opts.openTimeoutMs ?? 2000;
    return new Promise((resolve, reject) => {
      let timedOut = false;
      let heard = link.framesReceived;
      let periods = 0;
      const check = () => {
        periods++;
        const now = link.framesReceived;
        const alive = now !== undefined && now !== heard;
        if (alive && periods < SLOW_NODE_PERIODS) {
          heard = now;
          timer = setTimeout(check, ms);
          return;
        }
        timedOut = true;
        if (!alive) link.close();
        reject(new Error(`no answer to a session open within ${periods * ms} ms${alive ? " (the node is alive but slow)" : ""}`));
      };
      let timer = setTimeout(check, ms);
      link.openStream(header).then(
        (stream) => {
          clearTimeout(timer);
          if (timedOut) stream.destroy();
          else resolve(stream);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  private link(node: string): Promise<NodeLink> {
    const e = this.nodes.get(node);
    if (!e) return Promise.reject(new Error(`unknown node ${node}`));
    if (e.link && !e.link.closed) return Promise.resolve(e.link);
    e.connecting ??= this.opts
      .connect(node)
      .then((link) => {
        e.connecting = undefined;
        if (this.closed) {
          link.close();
          throw new Error("distributor is closing");
        }
        e.link = link;
        e.breaker.success();
        this.opts.onHealth?.(node, true);
        this.opts.log.info({ target: node }, "link to mail node up");
        link.once("close", (err) => {
          if (e.link !== link) return;
          e.link = undefined;
          if (!this.closed) {
            this.opts.log.warn({ target: node, err: err?.message }, "link to mail node lost");
            this.markDown(node);
          }
        });
        return link;
      })
      .catch((err: unknown) => {
        e.connecting = undefined;
        this.markDown(node);
        throw err;
      });
    return e.connecting;
  }

  /** A session opened: a node that was marked down while its link stayed open (it was only slow) is up again. */
  private markUp(node: string): void {
    const e = this.nodes.get(node)!;
    if (e.breaker.state(this.now()) === "closed") return;
    e.breaker.success();
    this.opts.onHealth?.(node, true);
  }

  private markDown(node: string): void {
    const e = this.nodes.get(node)!;
    const wasUp = e.breaker.state(this.now()) === "closed";
    e.breaker.failure(this.now());
    if (wasUp) this.opts.onHealth?.(node, false);
    this.scheduleProbe(node);
  }

  /** Reconnects in the background, so that the node comes back without a client paying for the probe. */
  private scheduleProbe(node: string): void {
    const e = this.nodes.get(node)!;
    if (this.closed || e.probeTimer) return;
    const delay = Math.max(0, e.breaker.nextProbeAt() - this.now());
    e.probeTimer = setTimeout(() => {
      e.probeTimer = undefined;
      if (this.closed || !e.breaker.allows(this.now())) return this.scheduleProbe(node);
      this.link(node).catch(() => undefined);
    }, delay);
    e.probeTimer.unref();
  }

  close(): void {
    this.closed = true;
    for (const e of this.nodes.values()) {
      clearTimeout(e.probeTimer);
      e.link?.close();
    }
  }
}
