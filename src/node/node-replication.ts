// A mail node's replication, assembled: the Replicator over the node's store,
// the links it dials, the check on links that dial it, and the catch-up gate.
// A worker that starts (or returns after a crash) takes no sessions until
// every storage node has answered its first full exchange, so that it never
// serves a user state older than what the storage node served meanwhile.
// With `durability: replicated` a worker's writes answer OK only once a
// storage node has acknowledged them.
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type { ClusterConfig, NodeConfig } from "../config/cluster";
import { StoreError } from "../imap/store-port";
import type { LevelMailStore } from "../mailstore";
import { replicationMetrics } from "../metrics/replication";
import type { Metrics } from "../metrics";
import { Replicator } from "../replication/replicator";
import { clusterRouter, holdsReplica } from "../routing/home-worker-router";
import type { PemKeyPair } from "../tls/certs";
import type { PeerIdentity } from "../tls/mtls";
import { mayDialUs, PeerLinks, peersToDial } from "./peer-links";

export interface NodeReplicationOptions {
  config: ClusterConfig;
  self: NodeConfig;
  store: LevelMailStore;
  tls: { pair: PemKeyPair; ca: string };
  metrics: Metrics;
  log: Logger;
  /** A storage node that stays unreachable this long no longer holds a returning worker back. Default 3 s. */
  unreachableGraceMs?: number;
  /** durability: replicated: how long a write waits for a storage node's acknowledgement. Default 5 s. */
  replicatedAckMs?: number;
}

export class NodeReplication {
  readonly replicator: Replicator;
  private readonly links: PeerLinks;
  private readonly startedAt = Date.now();
  private caughtUpOnce = false;

  constructor(private readonly opts: NodeReplicationOptions) {
    const router = clusterRouter(opts.config);
    this.replicator = new Replicator({
      store: opts.store,
      self: opts.self.name,
      shouldHold: (node, user) => holdsReplica(opts.config, router, node, user),
      replicasOf: (user) => opts.config.nodes.filter((n) => holdsReplica(opts.config, router, n.name, user)).map((n) => n.name),
      log: opts.log.child({ component: "replication" }),
      metrics: replicationMetrics(opts.metrics.registry),
      compactEveryMs: opts.config.replication.compactEveryMs,
      compactMinOps: opts.config.replication.compactMinOps,
      purgeEveryMs: opts.config.replication.purgeEveryMs,
    });
    this.links = new PeerLinks({
      config: opts.config,
      self: opts.self,
      tls: opts.tls,
      log: opts.log.child({ component: "replication-link" }),
      onStream: (peer, stream) => this.replicator.attach(peer, stream),
    });
  }

  async start(): Promise<void> {
    await this.replicator.start();
    const { config, self, store } = this.opts;
    if (config.durability === "replicated" && self.role === "worker") {
      const storage = new Set(config.nodes.filter((n) => n.role === "storage").map((n) => n.name));
      const ms = this.opts.replicatedAckMs ?? 5_000;
      store.setReplicationBarrier((user, op) =>
        this.replicator.waitForAck(user, op, (peer) => storage.has(peer), ms).catch((err: unknown) => {
          throw new StoreError("UNAVAILABLE", `Saved on this node, but ${(err as Error).message}; it will be replicated later`);
        }),
      );
    }
    this.links.start();
  }

  /** For the mail node's stream dispatch: a replication stream a peer opened. */
  accept(stream: Duplex, peer: PeerIdentity, accept: () => void, refuse: (reason: string) => void): void {
    if (!mayDialUs(this.opts.config, this.opts.self, peer)) return refuse(`${peer.role} ${peer.name} does not replicate with this node`);
    accept();
    this.replicator.attach(peer.name, stream);
  }

  /**
   * Whether this node has caught up: every storage node it dials answered the
   * first full exchange, or has been unreachable since the start for longer
   * than the grace period. Once true it stays true.
   */
  caughtUp(): boolean {
    if (this.caughtUpOnce) return true;
    const peers = new Map(this.replicator.peers().map((p) => [p.peer, p]));
    const waited = Date.now() - this.startedAt > (this.opts.unreachableGraceMs ?? 3_000);
    const storage = peersToDial(this.opts.config, this.opts.self).filter((n) => n.role === "storage");
    const ok = storage.every((n) => peers.get(n.name)?.synced || (!peers.has(n.name) && waited));
    if (ok && this.replicator.buffered === 0) {
      this.caughtUpOnce = true;
      this.opts.log.info({ afterMs: Date.now() - this.startedAt }, "caught up with the storage nodes");
    }
    return this.caughtUpOnce;
  }

  close(): void {
    this.links.close();
    this.replicator.close();
  }
}
