import { randomBytes } from "node:crypto";
import tls from "node:tls";
import type net from "node:net";
import { Duplex } from "node:stream";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { MuxConnection } from "./connection";
import { FrameType, encodeFrame } from "./frame";
import { listenMux } from "./tls";
import { FrameTooLargeError, HeartbeatTimeoutError, LinkClosedError, StreamRefusedError, StreamResetError } from "./errors";
import type { MuxStream } from "./stream";
import { collect, makePair, makePki, onceEvent, sha, until, writeAll, type Pair, type Pki } from "./test-helpers";

let pki: Pki;
beforeAll(async () => {
  pki = await makePki();
});

const pairs: Pair[] = [];
async function pair(...args: Parameters<typeof makePair> extends [Pki, ...infer R] ? R : never): Promise<Pair> {
  const p = await makePair(pki, ...args);
  pairs.push(p);
  return p;
}
afterEach(async () => {
  for (const p of pairs.splice(0)) await p.close();
});

/** Server side echoes every stream back (half-close carries over through pipe). */
function echo(conn: MuxConnection, seen?: Map<unknown, string>): void {
  conn.on("stream", (stream, header, accept) => {
    accept();
    if (seen) {
      const parts: Buffer[] = [];
      stream.on("data", (c: Buffer) => parts.push(c));
      stream.on("end", () => seen.set(header.n, sha(Buffer.concat(parts))));
    }
    stream.pipe(stream);
  });
}

describe("MuxConnection over mTLS", () => {
  it("carries many concurrent streams with random-size payloads intact and in order, both ways", async () => {
    const { client, server } = await pair();
    const seen = new Map<unknown, string>();
    echo(server, seen);
    const payloads = Array.from({ length: 40 }, (_, i) => randomBytes(i % 7 === 0 ? 0 : Math.floor(Math.random() * 600_000)));
    await Promise.all(
      payloads.map(async (payload, n) => {
        const s = await client.openStream({ n, user: `user${n}` });
        expect(s.id % 2).toBe(1);
        const back = collect(s);
        await writeAll(s, payload, 1 + Math.floor(Math.random() * 40_000));
        expect(sha(await back)).toBe(sha(payload));
      }),
    );
    for (let n = 0; n < payloads.length; n++) expect(seen.get(n), `stream ${n}`).toBe(sha(payloads[n]!));
    await until(() => client.streamCount === 0 && server.streamCount === 0);
  });

  it("sends the frames of one event-loop turn in one socket write", async () => {
    const { client, server } = await pair();
    const got = new Map<unknown, Promise<Buffer>>();
    server.on("stream", (stream, header, accept) => {
      accept();
      got.set(header.n, collect(stream));
      stream.end();
    });
    const streams = await Promise.all([0, 1, 2, 3, 4].map((n) => client.openStream({ n })));
    await new Promise((r) => setImmediate(r));
    const socket = client.socket as tls.TLSSocket & { _write: unknown; _writev: unknown };
    let writes = 0;
    for (const m of ["_write", "_writev"] as const) {
      const original = socket[m] as (...a: unknown[]) => unknown;
      socket[m] = function (this: unknown, ...a: unknown[]) {
        writes++;
        return original.apply(this, a);
      };
    }
    streams.forEach((s, n) => s.end(`payload ${n}`));
    await new Promise((r) => setImmediate(r));
    expect(writes).toBe(1);
    await until(() => got.size === 5);
    for (let n = 0; n < 5; n++) expect((await got.get(n))!.toString()).toBe(`payload ${n}`);
    for (const s of streams) s.resume();
    await until(() => client.streamCount === 0 && server.streamCount === 0);
  });

  it("lets the accepting end open streams too (even ids)", async () => {
    const { client, server } = await pair();
    echo(client);
    const headers: unknown[] = [];
    client.on("stream", (_stream, header) => headers.push(header));
    const payload = randomBytes(300_000);
    const s = await server.openStream({ kind: "replication" });
    expect(s.id % 2).toBe(0);
    expect(headers).toEqual([{ kind: "replication" }]);
    const back = collect(s);
    await writeAll(s, payload);
    expect(sha(await back)).toBe(sha(payload));
  });

  it("a paused consumer holds back only its own stream, and its sender stops after about one window", async () => {
    const window = 64 * 1024;
    const { client, server } = await pair({ initialWindow: window });
    let slow: MuxStream | undefined;
    server.on("stream", (stream, header, accept) => {
      accept();
      stream.on("error", () => undefined);
      if (header.slow) slow = stream; // never read until resumed below
      else stream.pipe(stream);
    });
    const a = await client.openStream({ slow: true });
    a.on("error", () => undefined);
    // Write until the stream says stop.
    // Write until the stream says stop for good: past socket back-pressure
    // (drain follows) until credit is gone and the socket is not blocked.
    const chunk = Buffer.alloc(1024, 1);
    let accepted = 0;
    let drained = false;
    a.on("drain", () => (drained = true));
    for (;;) {
      drained = false;
      while (a.write(chunk)) accepted += chunk.length;
      accepted += chunk.length;
      await until(() => drained || (a.credit === 0 && !client.blocked));
      if (!drained) break;
    }
    expect(accepted).toBeGreaterThanOrEqual(window);
    expect(accepted).toBeLessThanOrEqual(window + a.writableHighWaterMark + chunk.length);

    // Another stream on the same connection moves a lot more than the window.
    const b = await client.openStream({ slow: false });
    const big = randomBytes(2 * 1024 * 1024);
    const back = collect(b);
    await writeAll(b, big);
    expect(sha(await back)).toBe(sha(big));

    // The slow stream received one window and no more; its sender is out of credit.
    await until(() => slow !== undefined && slow.bytesReceived === window);
    expect(slow!.readableLength).toBe(window);
    expect(a.credit).toBe(0);
    expect(a.writableNeedDrain).toBe(true);
    expect(a.writableLength).toBeGreaterThan(0);
    // Still bounded after more event-loop turns.
    await new Promise((r) => setImmediate(r));
    expect(slow!.bytesReceived).toBe(window);

    // Once the consumer reads, credit flows back and everything arrives in order.
    const rest = Buffer.alloc(500_000, 2);
    const received = collect(slow!);
    await onceEvent(a, "drain");
    await writeAll(a, rest);
    const got = await received;
    expect(got.length).toBe(accepted + rest.length);
    expect(sha(got)).toBe(sha(Buffer.concat([Buffer.alloc(accepted, 1), rest])));
  });

  it("propagates the refusal reason to openStream", async () => {
    const { client, server } = await pair();
    server.on("stream", (_s, header, _accept, refuse) => refuse(`no such user: ${String(header.user)}`));
    const err = await client.openStream({ user: "bob" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamRefusedError);
    expect((err as StreamRefusedError).reason).toBe("no such user: bob");
    expect(client.streamCount).toBe(0);
    expect(server.streamCount).toBe(0);
  });

  it("refuses streams when nobody listens for them", async () => {
    const { client } = await pair();
    await expect(client.openStream({})).rejects.toThrow(/no stream handler/);
  });

  it("END half-closes: the other direction keeps working", async () => {
    const { client, server } = await pair();
    server.on("stream", (stream, _h, accept) => {
      accept();
      void collect(stream).then((req) => {
        // Our peer has ended its side; we can still answer.
        stream.end(Buffer.concat([Buffer.from("got "), req]));
      });
    });
    const s = await client.openStream({});
    const answer = collect(s);
    s.end("hello");
    expect((await answer).toString()).toBe("got hello");
    await until(() => client.streamCount === 0 && server.streamCount === 0);
  });

  it("RESET destroys only that stream", async () => {
    const { client, server } = await pair();
    const serverStreams = new Map<unknown, MuxStream>();
    server.on("stream", (stream, header, accept) => {
      accept();
      serverStreams.set(header.n, stream);
      stream.on("error", () => undefined);
      stream.pipe(stream);
    });
    const s1 = await client.openStream({ n: 1 });
    s1.on("error", () => undefined); // destroy(err) emits it locally too
    const s2 = await client.openStream({ n: 2 });
    await until(() => serverStreams.size === 2);
    const remoteErr = onceEvent<[Error]>(serverStreams.get(1)!, "error");
    s1.destroy(new Error("client gave up"));
    const [err] = await remoteErr;
    expect(err).toBeInstanceOf(StreamResetError);
    expect((err as StreamResetError).reason).toBe("client gave up");
    // No frames of ours: Node formats the stack of every error a stream is destroyed with.
    expect(err.stack).toBe("StreamResetError: stream reset by peer: client gave up");

    // The other stream is unaffected.
    const payload = randomBytes(100_000);
    const back = collect(s2);
    await writeAll(s2, payload);
    expect(sha(await back)).toBe(sha(payload));

    // And the other direction: the server resets, the client sees it.
    const s3 = await client.openStream({ n: 3 });
    await until(() => serverStreams.has(3));
    const localErr = onceEvent<[Error]>(s3, "error");
    serverStreams.get(3)!.destroy(new Error("worker shutting down"));
    expect((await localErr)[0]).toMatchObject({ name: "StreamResetError", reason: "worker shutting down" });
    expect(client.closed).toBe(false);
    await until(() => client.streamCount === 0 && server.streamCount === 0);
  });

  it("a killed socket errors every stream on both ends and closes both connections", async () => {
    const { client, server, serverSocket } = await pair();
    const serverErrors: Error[] = [];
    server.on("stream", (stream, _h, accept) => {
      accept();
      stream.on("error", (e) => serverErrors.push(e));
    });
    const streams = await Promise.all([1, 2, 3, 4, 5].map((n) => client.openStream({ n })));
    const clientErrors = Promise.all(streams.map((s) => onceEvent<[Error]>(s, "error")));
    const clientClosed = onceEvent<[Error | undefined]>(client, "close");
    const serverClosed = onceEvent<[Error | undefined]>(server, "close");
    serverSocket.destroy();
    for (const [e] of await clientErrors) expect(e).toBeInstanceOf(LinkClosedError);
    const [cErr] = await clientClosed;
    expect(cErr).toBeInstanceOf(LinkClosedError);
    await serverClosed;
    await until(() => serverErrors.length === 5);
    expect(serverErrors.every((e) => e instanceof LinkClosedError)).toBe(true);
    expect(client.closed).toBe(true);
    expect(client.streamCount).toBe(0);
    await expect(client.openStream({})).rejects.toBeInstanceOf(LinkClosedError);
  });

  it("close() fails pending opens and open streams, and emits close without an error", async () => {
    const { client, server } = await pair();
    let held: MuxStream | undefined;
    server.on("stream", (stream, header, accept) => {
      stream.on("error", () => undefined);
      if (header.accept) {
        held = stream;
        accept();
      } // else: never answered
    });
    const open = await client.openStream({ accept: true });
    const openErr = onceEvent<[Error]>(open, "error");
    const pending = client.openStream({ accept: false });
    await until(() => server.streamCount === 2);
    const closed = onceEvent<[Error | undefined]>(client, "close");
    client.close();
    await expect(pending).rejects.toBeInstanceOf(LinkClosedError);
    expect((await openErr)[0]).toBeInstanceOf(LinkClosedError);
    expect((await closed)[0]).toBeUndefined();
    // The peer notices too.
    const [serverErr] = await onceEvent<[Error | undefined]>(server, "close");
    expect(serverErr).toBeInstanceOf(LinkClosedError);
    expect(held!.destroyed).toBe(true);
  });

  it("closes the link on an oversized frame without reading it", async () => {
    let serverConn: MuxConnection | undefined;
    const srv = listenMux(
      { key: pki.server.key, cert: pki.server.cert, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: true },
      (conn) => (serverConn = conn),
      { heartbeatMs: 0, maxFrame: 64 * 1024 },
    );
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    try {
      const port = (srv.address() as net.AddressInfo).port;
      const raw = tls.connect({ host: "127.0.0.1", port, key: pki.client.key, cert: pki.client.cert, ca: pki.ca.cert, servername: "localhost" });
      await onceEvent(raw, "secureConnect");
      await until(() => serverConn !== undefined);
      const closed = onceEvent<[Error | undefined]>(serverConn!, "close");
      const rawClosed = onceEvent(raw, "close");
      raw.on("error", () => undefined);
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(2 * 1024 * 1024);
      raw.write(Buffer.concat([prefix, Buffer.alloc(1000)]));
      const [err] = await closed;
      expect(err).toBeInstanceOf(FrameTooLargeError);
      expect(err!.message).toMatch(/2097152 bytes exceeds the maximum frame size of 65536/);
      await rawClosed;
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  it("an OPEN above the peer's max frame closes the link and fails the open", async () => {
    const { client, server } = await pair({ maxFrame: 16 * 1024 }, { maxFrame: 1024 * 1024 });
    server.on("stream", (_s, _h, accept) => accept());
    const serverClosed = onceEvent<[Error | undefined]>(server, "close");
    await expect(client.openStream({ blob: "x".repeat(100_000) })).rejects.toBeInstanceOf(LinkClosedError);
    expect((await serverClosed)[0]).toBeInstanceOf(FrameTooLargeError);
  });

  it("refuses locally to send an OPEN above its own max frame", async () => {
    const { client } = await pair({ maxFrame: 16 * 1024 });
    await expect(client.openStream({ blob: "x".repeat(100_000) })).rejects.toBeInstanceOf(FrameTooLargeError);
    expect(client.closed).toBe(false);
  });

  it("heartbeat: a live link keeps answering pings", async () => {
    const { client, server } = await pair({ heartbeatMs: 5, heartbeatMisses: 2 });
    await until(() => client.pingsReceived >= 10 && server.pingsReceived >= 10);
    expect(client.closed).toBe(false);
    expect(server.closed).toBe(false);
    // Every PING and PONG is a frame heard: the count a distributor reads to tell a slow node from a silent one.
    expect(client.framesReceived).toBeGreaterThanOrEqual(client.pingsReceived);
  });
});

describe("MuxConnection heartbeat on a silent peer", () => {
  it("closes with HeartbeatTimeoutError after the configured missed beats", async () => {
    // A socket that swallows everything and never answers.
    let written = 0;
    const silent = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        written += chunk.length;
        cb();
      },
    });
    const conn = new MuxConnection(silent, { heartbeatMs: 5, heartbeatMisses: 3 });
    const [err] = await onceEvent<[Error | undefined]>(conn, "close");
    expect(err).toBeInstanceOf(HeartbeatTimeoutError);
    expect(err!.message).toMatch(/missed 3 heartbeats/);
    expect(written).toBeGreaterThan(0);
    expect(silent.destroyed).toBe(true);
  });

  it("treats an OPEN with this end's id parity as a protocol error", async () => {
    const a = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
    const conn = new MuxConnection(a, { heartbeatMs: 0, isServer: true });
    conn.on("stream", (_s, _h, accept) => accept());
    const closed = onceEvent<[Error | undefined]>(conn, "close");
    a.push(encodeFrame({ type: FrameType.Open, id: 2, header: {}, window: 1024 }));
    expect((await closed)[0]?.message).toMatch(/id parity/);
  });

  it("treats DATA beyond the granted window as a protocol error", async () => {
    const a = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
    const conn = new MuxConnection(a, { heartbeatMs: 0, isServer: true, initialWindow: 1024 });
    const streamErr = new Promise<Error>((resolve) =>
      conn.on("stream", (s, _h, accept) => {
        s.on("error", resolve);
        accept();
      }),
    );
    const closed = onceEvent<[Error | undefined]>(conn, "close");
    a.push(encodeFrame({ type: FrameType.Open, id: 1, header: {}, window: 1024 }));
    a.push(encodeFrame({ type: FrameType.Data, id: 1, data: Buffer.alloc(1000) }));
    a.push(encodeFrame({ type: FrameType.Data, id: 1, data: Buffer.alloc(100) }));
    expect((await closed)[0]?.message).toMatch(/exceeded the window/);
    expect(await streamErr).toBeInstanceOf(LinkClosedError);
  });
});
