// Rendezvous (highest random weight) hashing: every distributor computes the
// same home worker for a user without coordination, and when a worker is added
// or removed only the users whose top choice changed move (about 1/N of them).
import { createHash } from "node:crypto";
import { BoundedMap } from "../util/bounded-map";

export interface RouteChoice {
  /** Node to relay to. */
  node: string;
  /** True when this is the user's home worker, false for a fallback replica. */
  home: boolean;
}

function weight(node: string, user: string): bigint {
  // A NUL separator keeps ("ab","c") and ("a","bc") apart.
  return createHash("sha256").update(node).update("\0").update(user).digest().readBigUInt64BE(0);
}

/** Nodes ordered by their rendezvous weight for `user`, highest first. */
export function rendezvousOrder(nodes: readonly string[], user: string): string[] {
  return [...nodes]
    .map((node) => ({ node, w: weight(node, user) }))
    .sort((a, b) => (a.w === b.w ? (a.node < b.node ? -1 : 1) : a.w > b.w ? -1 : 1))
    .map((e) => e.node);
}

/** Users whose routes are remembered; an entry is a few short strings. */
const REMEMBERED_USERS = 10_000;

interface UserRoutes {
  home: string;
  fallbacks: readonly string[];
}

export class HomeWorkerRouter {
  /**
   * Replication asks for every op and every acknowledgement whether a node
   * holds the user; hashing each node's weight anew on each question cost
   * workers about 4% of their CPU under write load. The node lists never
   * change for a router, so a remembered answer stays right.
   */
  private readonly routes = new BoundedMap<string, UserRoutes>(REMEMBERED_USERS);

  /** @param storageReplicas storage nodes per user; 0 (the default) means all of them. */
  constructor(
    private readonly workers: readonly string[],
    private readonly storage: readonly string[],
    private readonly storageReplicas = 0,
  ) {
    if (workers.length === 0) throw new Error("HomeWorkerRouter needs at least one worker");
  }

  homeOf(user: string): string {
    return this.routesOf(user).home;
  }

  /** The storage nodes that keep `user`, in the order they are tried while the home worker is down. */
  fallbacksOf(user: string): readonly string[] {
    return this.routesOf(user).fallbacks;
  }

  private routesOf(user: string): UserRoutes {
    let routes = this.routes.get(user);
    if (!routes) {
      const order = rendezvousOrder(this.storage, user);
      routes = {
        home: rendezvousOrder(this.workers, user)[0]!,
        fallbacks: this.storageReplicas > 0 ? order.slice(0, this.storageReplicas) : order,
      };
      this.routes.set(user, routes);
    }
    return routes;
  }

  /**
   * Where a session for `user` goes: the home worker while it is up, otherwise
   * the first storage replica that is up (the same order at every distributor,
   * so one user's concurrent sessions land on one replica).
   */
  route(user: string, isUp: (node: string) => boolean): RouteChoice | undefined {
    const home = this.homeOf(user);
    if (isUp(home)) return { node: home, home: true };
    const replica = this.fallbacksOf(user).find(isUp);
    return replica ? { node: replica, home: false } : undefined;
  }
}

/** The router of a cluster: its workers are the homes, its storage nodes the fallbacks. */
export function clusterRouter(config: { nodes: ReadonlyArray<{ name: string; role: string }>; replication?: { storageReplicas: number } }): HomeWorkerRouter {
  return new HomeWorkerRouter(
    config.nodes.filter((n) => n.role === "worker").map((n) => n.name),
    config.nodes.filter((n) => n.role === "storage").map((n) => n.name),
    config.replication?.storageReplicas ?? 0,
  );
}

/**
 * Whether node `node` keeps a replica of `user`: the storage nodes the router
 * picks for the user (all of them unless replication.storageReplicas says
 * fewer), and the worker whose home it is.
 */
export function holdsReplica(config: { nodes: ReadonlyArray<{ name: string; role: string }> }, router: HomeWorkerRouter, node: string, user: string): boolean {
  const n = config.nodes.find((x) => x.name === node);
  if (!n) return false;
  if (n.role === "storage") return router.fallbacksOf(user).includes(node);
  return n.role === "worker" && router.homeOf(user) === node;
}
