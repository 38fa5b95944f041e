import { randomBytes } from "node:crypto";
import net from "node:net";
import { Duplex } from "node:stream";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { MuxConnection } from "./connection";
import { StreamResetError } from "./errors";
import { FrameDecoder, FrameType, encodeFrame, type Frame } from "./frame";
import { relay } from "./relay";
import { collect, makePair, makePki, sha, until, writeAll, type Pair, type Pki } from "./test-helpers";

let pki: Pki;
beforeAll(async () => {
  pki = await makePki();
});
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function tcpServer(onSocket: (s: net.Socket) => void): Promise<number> {
  const srv = net.createServer(onSocket);
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  cleanups.push(() => new Promise<void>((r) => srv.close(() => r())));
  return (srv.address() as net.AddressInfo).port;
}

async function pair(): Promise<Pair> {
  const p = await makePair(pki);
  cleanups.push(() => p.close());
  return p;
}

describe("relay", () => {
  it("relays a mux stream to a TCP backend both ways and resolves when both sides are done", async () => {
    const echoPort = await tcpServer((s) => s.pipe(s));
    const { client, server } = await pair();
    const relays: Promise<void>[] = [];
    server.on("stream", (stream, _h, accept) => {
      accept();
      const backend = net.connect(echoPort, "127.0.0.1");
      relays.push(relay(stream, backend));
    });
    const payloads = [randomBytes(1_500_000), randomBytes(10), randomBytes(300_000)];
    await Promise.all(
      payloads.map(async (p) => {
        const s = await client.openStream({});
        const back = collect(s);
        await writeAll(s, p, 32_768);
        expect(sha(await back)).toBe(sha(p));
      }),
    );
    await Promise.all(relays);
    await until(() => server.streamCount === 0 && client.streamCount === 0);
  });

  it("tears both sides down when the backend fails, and the far end sees a reset", async () => {
    let backendSocket: net.Socket | undefined;
    const port = await tcpServer((s) => {
      backendSocket = s;
      s.on("error", () => undefined);
    });
    const { client, server } = await pair();
    let done: Promise<void> | undefined;
    let backend: net.Socket | undefined;
    server.on("stream", (stream, _h, accept) => {
      accept();
      backend = net.connect(port, "127.0.0.1");
      done = relay(stream, backend);
    });
    const s = await client.openStream({});
    const err = new Promise<Error>((r) => s.on("error", r));
    s.write("hello");
    await until(() => backendSocket !== undefined);
    backendSocket!.resetAndDestroy();
    expect(await err).toBeInstanceOf(StreamResetError);
    await done;
    expect(backend!.destroyed).toBe(true);
    expect(client.closed).toBe(false);
  });

  it("ends the other side's writable when one side's readable ends, resolves when both are done", async () => {
    const a = new TestEnd();
    const b = new TestEnd();
    const done = relay(a, b);
    a.feed("to b");
    a.feed(null);
    await until(() => b.writeFinished);
    expect(Buffer.concat(b.sent).toString()).toBe("to b");
    expect(a.writeFinished).toBe(false); // half-close: the other direction is still open
    b.feed("to a");
    b.feed(null);
    await done;
    expect(Buffer.concat(a.sent).toString()).toBe("to a");
    expect(a.destroyed && b.destroyed).toBe(true);
  });

  it("destroys both sides when one errors", async () => {
    const a = new TestEnd();
    const b = new TestEnd();
    a.on("error", () => undefined);
    const done = relay(a, b);
    a.feed("partial");
    a.destroy(new Error("client vanished"));
    await done;
    expect(b.destroyed).toBe(true);
    expect(b.writeFinished).toBe(false);
  });
});

/** One end of a relay: what is written to it is recorded; what it reads is fed by the test. */
class TestEnd extends Duplex {
  readonly sent: Buffer[] = [];
  writeFinished = false;
  private held: (() => void)[] = [];
  constructor(private hold = false) {
    super();
  }
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.sent.push(chunk);
    if (this.hold) this.held.push(cb);
    else cb();
  }
  release(): void {
    this.hold = false;
    for (const cb of this.held.splice(0)) cb();
  }
  override _final(cb: () => void): void {
    this.writeFinished = true;
    cb();
  }
  feed(data: string | null): void {
    this.push(data === null ? null : Buffer.from(data));
  }
}

/** A socket whose writes complete only when told to: write() returns false at once. */
class HeldSocket extends Duplex {
  private held: (() => void)[] = [];
  private auto = false;
  readonly written: Buffer[] = [];
  constructor() {
    super({ writableHighWaterMark: 1 });
  }
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.written.push(chunk);
    if (this.auto) process.nextTick(cb);
    else this.held.push(cb);
  }
  releaseAll(): void {
    this.auto = true;
    for (const cb of this.held.splice(0)) cb();
  }
}

describe("MuxConnection and socket back-pressure", () => {
  it("stops writing DATA while the socket is back-pressured and resumes on drain", async () => {
    const sock = new HeldSocket();
    const conn = new MuxConnection(sock, { heartbeatMs: 0 });
    const opened = conn.openStream({ user: "a" });
    expect(conn.blocked).toBe(true); // the OPEN filled the socket's buffer
    sock.push(encodeFrame({ type: FrameType.Accept, id: 1, window: 4 * 1024 * 1024 }));
    const s = await opened;
    const payload = randomBytes(200_000);
    expect(s.write(payload)).toBe(false);
    // The link uncorks at the end of the turn: only the OPEN reaches the socket.
    await new Promise((r) => setImmediate(r));
    // Nothing of it went to the socket or into the connection's queue.
    expect(conn.queuedBytes).toBe(0);
    expect(sock.written.length).toBe(1);
    expect(s.writableLength).toBe(payload.length);
    expect(s.credit).toBe(4 * 1024 * 1024);

    const drained = new Promise<void>((r) => s.once("drain", () => r()));
    sock.releaseAll();
    await drained;
    // The last frames written after the drain leave when the link uncorks.
    await new Promise((r) => setImmediate(r));
    const dec = new FrameDecoder();
    const frames: Frame[] = sock.written.flatMap((b) => dec.push(b));
    expect(frames[0]).toMatchObject({ type: FrameType.Open, id: 1, header: { user: "a" } });
    const data = Buffer.concat(frames.slice(1).map((f) => (f.type === FrameType.Data ? f.data : Buffer.alloc(0))));
    expect(sha(data)).toBe(sha(payload));
    expect(s.credit).toBe(4 * 1024 * 1024 - payload.length);
    s.on("error", () => undefined);
    conn.close();
  });
});

describe("relay when one side is completely done", () => {
  it("flushes what was written to the other side, then closes it", async () => {
    const a = new TestEnd();
    const b = new TestEnd(true); // b's writes complete only when released
    const done = relay(a, b);
    a.feed("BYE");
    a.feed(null);
    a.end(); // like a socket without allowHalfOpen: a is done both ways; b's readable never ends
    await until(() => a.writeFinished);
    expect(b.destroyed).toBe(false); // b still has "BYE" in flight
    b.release();
    await done;
    expect(Buffer.concat(b.sent).toString()).toBe("BYE");
    expect(b.writeFinished).toBe(true);
    expect(b.destroyed).toBe(true);
  });
});
