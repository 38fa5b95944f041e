// The replication links between mail nodes. Every pair of mail nodes that
// share users gets one stream, dialled by one side only so that the pair
// never holds two: a worker dials every storage node (a worker accepts links
// from distributors only), and a storage node dials the storage nodes whose
// names sort after its own. A dropped link is dialled again with capped
// backoff; the replication protocol on top resumes from its acknowledgements.
import type { Duplex } from "node:stream";
import type tls from "node:tls";
import type { Logger } from "pino";
import type { ClusterConfig, NodeConfig } from "../config/cluster";
import { connectMux, type MuxConnection } from "../link";
import type { PemKeyPair } from "../tls/certs";
import { expectPeer, internalClientOptions, type PeerIdentity } from "../tls/mtls";
import { CLUSTER_LINK } from "./link-options";

export const REPLICATION_STREAM = "replication";

/** Gets each replication stream, dialled or accepted, with the peer's node name. */
export type PeerStreamHandler = (peer: string, stream: Duplex) => void;

/** The mail nodes `self` dials; the others dial `self`. */
export function peersToDial(config: ClusterConfig, self: NodeConfig): NodeConfig[] {
  const storage = config.nodes.filter((n) => n.role === "storage");
  if (self.role === "worker") return storage;
  if (self.role === "storage") return storage.filter((n) => n.name > self.name);
  return [];
}

/** Whether a peer that dialled `self` may replicate with it (the mirror of peersToDial). */
export function mayDialUs(config: ClusterConfig, self: NodeConfig, peer: PeerIdentity): boolean {
  const node = config.nodes.find((n) => n.name === peer.name);
  if (!node || node.role !== peer.role) return false;
  return peersToDial(config, node).some((n) => n.name === self.name);
}

export interface PeerLinksOptions {
  config: ClusterConfig;
  self: NodeConfig;
  tls: { pair: PemKeyPair; ca: string };
  onStream: PeerStreamHandler;
  log: Logger;
  /** First retry delay after a failed dial; doubles up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
}

interface Dialled {
  node: NodeConfig;
  mux: MuxConnection | undefined;
  timer: NodeJS.Timeout | undefined;
  failures: number;
}

export class PeerLinks {
  private readonly dialled = new Map<string, Dialled>();
  private closed = false;

  constructor(private readonly opts: PeerLinksOptions) {}

  start(): void {
    for (const node of peersToDial(this.opts.config, this.opts.self)) {
      const d: Dialled = { node, mux: undefined, timer: undefined, failures: 0 };
      this.dialled.set(node.name, d);
      void this.dial(d);
    }
  }

  /** Names of the peers whose dialled link is up now. */
  connected(): string[] {
    return [...this.dialled.values()].filter((d) => d.mux && !d.mux.closed).map((d) => d.node.name);
  }

  private async dial(d: Dialled): Promise<void> {
    if (this.closed) return;
    const { pair, ca } = this.opts.tls;
    const target = d.node;
    let mux: MuxConnection | undefined;
    try {
      mux = await connectMux(
        { ...internalClientOptions(pair, ca, target.name), host: target.internal!.host, port: target.internal!.port },
        { ...CLUSTER_LINK, connectTimeoutMs: 3000, log: this.opts.log },
      );
      expectPeer(mux.socket as tls.TLSSocket, target.role, target.name);
      const stream = await mux.openStream({ kind: REPLICATION_STREAM, from: this.opts.self.name });
      if (this.closed) {
        mux.close();
        return;
      }
      d.mux = mux;
      d.failures = 0;
      const link = mux;
      link.once("close", () => {
        if (d.mux === link) d.mux = undefined;
        this.opts.log.info({ peer: target.name }, "replication link closed");
        this.retry(d);
      });
      this.opts.log.info({ peer: target.name }, "replication link up");
      this.opts.onStream(target.name, stream);
    } catch (err) {
      mux?.close();
      d.failures++;
      this.opts.log.debug({ peer: target.name, err: (err as Error).message }, "replication dial failed");
      this.retry(d);
    }
  }

  private retry(d: Dialled): void {
    if (this.closed || d.timer) return;
    const delay = redialDelay(d.failures, this.opts.retryMs ?? 250, this.opts.maxRetryMs ?? 5_000);
    d.timer = setTimeout(() => {
      d.timer = undefined;
      void this.dial(d);
    }, delay);
    d.timer.unref();
  }

  close(): void {
    this.closed = true;
    for (const d of this.dialled.values()) {
      clearTimeout(d.timer);
      d.mux?.close();
    }
  }
}

/** The wait before a redial: `base` after a closed link or the first failed dial, doubling with each further failure, at most `max`. */
export function redialDelay(failures: number, base: number, max: number): number {
  return Math.min(max, base * 2 ** Math.min(Math.max(0, failures - 1), 10));
}
