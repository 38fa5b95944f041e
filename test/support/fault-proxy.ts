// A TCP fault proxy on loopback (netem does not work on these kernels, and no
// toxiproxy is available): it sits in front of one node's port, and a test
// cuts or heals the traffic through it. The TLS inside passes through
// untouched, so the nodes still authenticate each other end to end.
import net from "node:net";

export type ProxyMode =
  /** Bytes flow both ways. */
  | "pass"
  /** Existing connections are reset; new ones are accepted and reset at once (a crashed peer). */
  | "reset"
  /** Existing and new connections stay open but nothing gets through (a partition: no RST, no FIN, no loss). */
  | "blackhole";

export class FaultProxy {
  private readonly server = net.createServer((client) => this.accept(client));
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  private modeNow: ProxyMode = "pass";
  /** Connections accepted since the start, for tests that check who dialled. */
  accepted = 0;

  private constructor(private readonly target: { host: string; port: number }) {}

  static async start(target: { host: string; port: number }, listenPort = 0): Promise<FaultProxy> {
    const p = new FaultProxy(target);
    await new Promise<void>((resolve, reject) => {
      p.server.once("error", reject);
      p.server.listen({ host: "127.0.0.1", port: listenPort }, () => resolve());
    });
    return p;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get mode(): ProxyMode {
    return this.modeNow;
  }

  setMode(mode: ProxyMode): void {
    this.modeNow = mode;
    for (const pair of [...this.pairs]) {
      if (mode === "reset") this.drop(pair);
      else if (mode === "blackhole") this.hold(pair);
      else this.release(pair);
    }
  }

  private accept(client: net.Socket): void {
    this.accepted++;
    client.on("error", () => undefined);
    if (this.modeNow === "reset") {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(this.target);
    upstream.on("error", () => undefined);
    const pair = { client, upstream };
    this.pairs.add(pair);
    const forget = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.once("close", forget);
    upstream.once("close", forget);
    if (this.modeNow === "blackhole") this.hold(pair);
    else this.release(pair);
  }

  /**
   * Nothing is read either way: bytes wait in the kernel as they would behind
   * a partition (TCP retransmits them later), and a side that keeps writing
   * meets back-pressure. The nodes' heartbeats decide when to give up.
   */
  private hold(pair: { client: net.Socket; upstream: net.Socket }): void {
    pair.client.unpipe();
    pair.upstream.unpipe();
    pair.client.pause();
    pair.upstream.pause();
  }

  private release(pair: { client: net.Socket; upstream: net.Socket }): void {
    pair.client.pipe(pair.upstream);
    pair.upstream.pipe(pair.client);
  }

  private drop(pair: { client: net.Socket; upstream: net.Socket }): void {
    this.pairs.delete(pair);
    pair.client.resetAndDestroy();
    pair.upstream.resetAndDestroy();
  }

  async close(): Promise<void> {
    for (const pair of [...this.pairs]) this.drop(pair);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
