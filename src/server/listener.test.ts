// The listener and connection plumbing, with a tiny line-based stand-in for
// the IMAP session so these tests do not depend on the IMAP engine.
import net from "node:net";
import tls from "node:tls";
import { once } from "node:events";
import { Duplex, Writable } from "node:stream";
import pino from "pino";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../log/logger";
import { createSelfSigned, type PemKeyPair } from "../tls/certs";
import { createServerContext } from "../tls/context";
import { Connection, type ConnectionLog, type SessionLike, type SessionTransport } from "./connection";
import { SessionListener, type BoundEndpoints, type SessionFactoryOptions } from "./listener";

let pair: PemKeyPair;
beforeAll(async () => {
  pair = await createSelfSigned();
});

/** Commands: STARTTLS, LOGIN (only over TLS), BIG n (n bytes of response), THROW, LOGOUT. */
class LineSession implements SessionLike {
  private buf = "";
  closed = false;
  secure: boolean;
  received: string[] = [];
  constructor(private readonly t: SessionTransport, private readonly o: SessionFactoryOptions) {
    this.secure = o.secure;
  }
  greet() {
    this.t.write(`* OK ${this.secure ? "tls" : "plain"} ready\r\n`);
  }
  onData(chunk: Buffer) {
    this.buf += chunk.toString("latin1");
    let i: number;
    while ((i = this.buf.indexOf("\r\n")) >= 0) {
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      this.received.push(line);
      const [tag, cmd, arg] = line.split(" ");
      if (cmd === "STARTTLS") {
        if (!this.o.startTls) {
          this.t.write(`${tag} BAD already secure\r\n`);
          continue;
        }
        this.t.write(`${tag} OK begin TLS\r\n`);
        // Whatever followed STARTTLS in plaintext is discarded (that is the session's job).
        this.buf = "";
        this.o.startTls().then(
          () => (this.secure = true),
          () => undefined,
        );
        return;
      }
      if (cmd === "LOGIN") this.t.write(this.secure ? `${tag} OK logged in\r\n` : `${tag} NO [PRIVACYREQUIRED] use STARTTLS\r\n`);
      else if (cmd === "BIG") this.t.write(Buffer.alloc(Number(arg), 0x61));
      else if (cmd === "THROW") throw new Error("boom");
      else if (cmd === "LOGOUT") {
        this.t.write(`* BYE\r\n${tag} OK\r\n`);
        this.t.end();
      } else this.t.write(`${tag} OK ${cmd}\r\n`);
    }
  }
  onClose() {
    this.closed = true;
  }
  async shutdown(reason: string) {
    this.t.write(`* BYE ${reason}\r\n`);
    this.t.end();
  }
}

/** Reads CRLF lines from a socket. */
class LineReader {
  private buf = "";
  private waiters: Array<() => void> = [];
  ended = false;
  constructor(readonly socket: net.Socket) {
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      this.buf += d;
      this.wake();
    });
    socket.on("close", () => {
      this.ended = true;
      this.wake();
    });
    socket.on("error", () => undefined);
  }
  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }
  async line(): Promise<string> {
    for (;;) {
      const i = this.buf.indexOf("\r\n");
      if (i >= 0) {
        const l = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        return l;
      }
      if (this.ended) throw new Error("connection closed");
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
  /** Resolves with the remaining lines once the server closes the connection. */
  async rest(): Promise<string[]> {
    while (!this.ended) await new Promise<void>((r) => this.waiters.push(r));
    return this.buf.split("\r\n").filter((l) => l.length > 0);
  }
  detach() {
    this.socket.removeAllListeners("data");
    this.socket.removeAllListeners("close");
  }
}

function connectTls(port: number, socket?: net.Socket): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, socket, ca: pair.cert, servername: "localhost" }, () => resolve(s));
    s.once("error", reject);
  });
}
async function connectPlain(port: number): Promise<net.Socket> {
  const s = net.connect({ host: "127.0.0.1", port });
  await once(s, "connect");
  return s;
}

describe("SessionListener", () => {
  let listener: SessionListener;
  let bound: BoundEndpoints;
  const sessions: LineSession[] = [];

  async function start(limits = {}) {
    listener = new SessionListener({
      tls: pair,
      log: silentLogger(),
      limits,
      createSession: (t, o) => {
        const s = new LineSession(t, o);
        sessions.push(s);
        return s;
      },
    });
    bound = await listener.listen({ imaps: { port: 0 }, imap: { port: 0 } });
  }
  afterEach(async () => {
    await listener?.close();
    sessions.length = 0;
  });

  it("binds loopback on free ports and greets over implicit TLS", async () => {
    await start();
    expect(bound.imaps!.host).toBe("127.0.0.1");
    expect(bound.imaps!.port).toBeGreaterThan(0);
    expect(bound.imap!.port).toBeGreaterThan(0);
    const sock = await connectTls(bound.imaps!.port);
    expect(sock.authorized).toBe(true);
    const r = new LineReader(sock);
    expect(await r.line()).toBe("* OK tls ready");
    sock.write("a LOGIN\r\n");
    expect(await r.line()).toBe("a OK logged in");
    sock.write("b STARTTLS\r\n");
    expect(await r.line()).toBe("b BAD already secure");
    sock.write("c LOGOUT\r\n");
    expect(await r.rest()).toEqual(["* BYE", "c OK"]);
  });

  it("refuses LOGIN before STARTTLS and accepts it after the in-place upgrade", async () => {
    await start();
    const plain = await connectPlain(bound.imap!.port);
    const r = new LineReader(plain);
    expect(await r.line()).toBe("* OK plain ready");
    plain.write("a LOGIN\r\n");
    expect(await r.line()).toBe("a NO [PRIVACYREQUIRED] use STARTTLS");
    plain.write("b STARTTLS\r\n");
    expect(await r.line()).toBe("b OK begin TLS");
    r.detach();
    const secure = await connectTls(bound.imap!.port, plain);
    expect(secure.authorized).toBe(true);
    expect(secure.getProtocol()).toMatch(/^TLSv1\.[23]$/);
    const sr = new LineReader(secure);
    secure.write("c LOGIN\r\n");
    expect(await sr.line()).toBe("c OK logged in");
    secure.write("d NOOP\r\n");
    expect(await sr.line()).toBe("d OK NOOP");
    expect(sessions[0].received).toEqual(["a LOGIN", "b STARTTLS", "c LOGIN", "d NOOP"]);
  });

  it("survives clients that botch the TLS handshake, on either port", async () => {
    await start();
    const junk = await connectPlain(bound.imaps!.port);
    junk.write("GET / HTTP/1.0\r\n\r\n");
    await once(junk, "close");

    const plain = await connectPlain(bound.imap!.port);
    const r = new LineReader(plain);
    await r.line();
    plain.write("a STARTTLS\r\n");
    expect(await r.line()).toBe("a OK begin TLS");
    plain.write("this is not a ClientHello\r\n");
    await r.rest();
    await expect.poll(() => sessions[0].closed).toBe(true);

    const sock = await connectTls(bound.imaps!.port);
    const r2 = new LineReader(sock);
    expect(await r2.line()).toBe("* OK tls ready");
    sock.destroy();
  });

  it("drops only the connection whose session throws", async () => {
    await start();
    const a = await connectTls(bound.imaps!.port);
    const b = await connectTls(bound.imaps!.port);
    const ra = new LineReader(a);
    const rb = new LineReader(b);
    await ra.line();
    await rb.line();
    a.write("x THROW\r\n");
    await ra.rest();
    b.write("y NOOP\r\n");
    expect(await rb.line()).toBe("y OK NOOP");
    b.destroy();
  });

  it("says BYE to every session on close, then refuses new connections", async () => {
    await start();
    const tlsClient = await connectTls(bound.imaps!.port);
    const plainClient = await connectPlain(bound.imap!.port);
    const r1 = new LineReader(tlsClient);
    const r2 = new LineReader(plainClient);
    await r1.line();
    await r2.line();
    expect(listener.sessionCount).toBe(2);
    await listener.close();
    expect(await r1.rest()).toEqual(["* BYE server shutting down"]);
    expect(await r2.rest()).toEqual(["* BYE server shutting down"]);
    expect(sessions.every((s) => s.closed)).toBe(true);
    expect(listener.sessionCount).toBe(0);
    const refused = net.connect({ host: "127.0.0.1", port: bound.imap!.port });
    const [err] = (await once(refused, "error")) as [NodeJS.ErrnoException];
    expect(err.code).toBe("ECONNREFUSED");
  });

  it("finishes close() even when a session never completes its shutdown", async () => {
    listener = new SessionListener({
      tls: pair,
      log: silentLogger(),
      limits: { shutdownGraceMs: 200 },
      createSession: (t, o) => {
        const s = new LineSession(t, o);
        sessions.push(s);
        s.shutdown = () => new Promise<void>(() => undefined);
        return s;
      },
    });
    bound = await listener.listen({ imap: { port: 0 } });
    const sock = await connectPlain(bound.imap!.port);
    const r = new LineReader(sock);
    await r.line();
    await listener.close();
    await r.rest();
    expect(sessions[0].closed).toBe(true);
  });

  it("logs out idle clients", async () => {
    await start({ idleTimeoutMs: 300 });
    const sock = await connectTls(bound.imaps!.port);
    const r = new LineReader(sock);
    await r.line();
    expect(await r.rest()).toEqual(["* BYE Autologout; idle for too long"]);
  });
});

/** Listens on a free loopback port and connects a plain client to it. */
async function listenAndConnect(server: net.Server): Promise<net.Socket> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return connectPlain((server.address() as net.AddressInfo).port);
}

/** A Connection on a plain socket running a LineSession. */
function lineConnection(socket: net.Socket, o: { log?: ConnectionLog; onClosed?: () => void; logsDebug?: boolean } = {}) {
  const conn = new Connection(socket, o.log ?? silentLogger(), {
    idleTimeoutMs: 60_000,
    // Not 10 s, the delay of the end timer that a test looks for.
    tlsHandshakeTimeoutMs: 9_000,
    onClosed: o.onClosed ?? (() => undefined),
    logsDebug: () => o.logsDebug ?? false,
  });
  const session = new LineSession(conn.transport, { secure: false, log: silentLogger(), id: "t", remoteAddress: "127.0.0.1", relayTo: () => undefined });
  conn.start(session);
  return { conn, session };
}

describe("Connection back-pressure", () => {
  it("stops reading while the client does not read responses, and resumes on drain", async () => {
    let serverSocket: net.Socket | undefined;
    let session: LineSession | undefined;
    let lastWriteOk = true;
    const server = net.createServer((socket) => {
      serverSocket = socket;
      const conn = new Connection(socket, silentLogger(), {
        idleTimeoutMs: 60_000,
        tlsHandshakeTimeoutMs: 10_000,
        secureContext: createServerContext(pair),
        onClosed: () => undefined,
        logsDebug: () => false,
      });
      const transport: SessionTransport = {
        write: (d) => (lastWriteOk = conn.transport.write(d)),
        end: () => conn.transport.end(),
        pause: () => conn.transport.pause(),
        resume: () => conn.transport.resume(),
      };
      session = new LineSession(transport, { secure: false, log: silentLogger(), id: "t", remoteAddress: "127.0.0.1", relayTo: () => undefined });
      conn.start(session);
    });
    try {
      const client = await listenAndConnect(server);
      const r = new LineReader(client);
      expect(await r.line()).toBe("* OK plain ready");
      r.detach();
      client.setEncoding("latin1");
      client.pause();
      // Far more than loopback socket buffers hold, so the server's write must report back-pressure.
      const size = 32 * 1024 * 1024;
      client.write(`a BIG ${size}\r\n`);
      await expect.poll(() => session!.received.length).toBe(1);
      expect(lastWriteOk).toBe(false);
      expect(serverSocket!.isPaused()).toBe(true);

      const drained = once(serverSocket!, "drain");
      let got = 0;
      let tail = "";
      const sawNoop = new Promise<void>((resolve) =>
        client.on("data", (d: string) => {
          got += d.length;
          tail = (tail + d).slice(-64);
          if (tail.endsWith("b OK NOOP\r\n")) resolve();
        }),
      );
      client.resume();
      await drained;
      await new Promise((res) => setImmediate(res));
      expect(serverSocket!.isPaused()).toBe(false);
      client.write("b NOOP\r\n");
      await sawNoop;
      expect(got).toBe(size + "b OK NOOP\r\n".length);
      client.destroy();
    } finally {
      server.close();
    }
  });

  it("stops reading when the session asks and resumes when it allows", async () => {
    let transport: SessionTransport | undefined;
    let session: LineSession | undefined;
    let serverSocket: net.Socket | undefined;
    const server = net.createServer((socket) => {
      serverSocket = socket;
      const started = lineConnection(socket);
      transport = started.conn.transport;
      session = started.session;
    });
    try {
      const client = await listenAndConnect(server);
      const r = new LineReader(client);
      await r.line();
      transport!.pause();
      expect(serverSocket!.isPaused()).toBe(true);
      client.write("a NOOP\r\n");
      transport!.resume();
      expect(await r.line()).toBe("a OK NOOP");
      expect(session!.received).toEqual(["a NOOP"]);
      client.destroy();
    } finally {
      server.close();
    }
  });
});

describe("Connection relay", () => {
  it("relays both ways, says BYE when the relayed stream fails, and survives a failing close hook", async () => {
    const logged: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logged.push((JSON.parse(chunk.toString()) as { msg: string }).msg);
        cb();
      },
    });
    const toNode: string[] = [];
    const node = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        toNode.push(chunk.toString("latin1"));
        cb();
      },
    });
    let logsBuilt = 0;
    let closerCalls = 0;
    let connClosed = false;
    const server = net.createServer((socket) => {
      const log = () => (logsBuilt++, pino({ level: "debug" }, sink));
      const { conn } = lineConnection(socket, { log, onClosed: () => (connClosed = true), logsDebug: true });
      conn.relayTo(node, Buffer.from("a pipelined\r\n"), () => {
        closerCalls++;
        throw new Error("observer broke");
      });
    });
    try {
      const client = await listenAndConnect(server);
      const r = new LineReader(client);
      expect(await r.line()).toBe("* OK plain ready");
      client.write("b SELECT INBOX\r\n");
      node.push("* node here\r\n");
      expect(await r.line()).toBe("* node here");
      await vi.waitFor(() => expect(toNode.join("")).toBe("a pipelined\r\nb SELECT INBOX\r\n"));
      // Nothing was logged while relaying, so no logger was built.
      expect(logsBuilt).toBe(0);
      node.destroy(new Error("link down"));
      expect(await r.rest()).toEqual(["* BYE Lost the connection to the mail store, please reconnect"]);
      await vi.waitFor(() => expect(connClosed).toBe(true));
      expect(closerCalls).toBe(1);
      expect(logged).toEqual(expect.arrayContaining(["relayed session lost its mail node", "session failed on close", "connection closed"]));
    } finally {
      server.close();
    }
  });

  it("lets go of a connection once it closes: the timer that ends a half-closed one is cleared", async () => {
    // Left running, that 10 s timer kept every ended session reachable: a worker held 2,700 of them.
    const setSpy = vi.spyOn(globalThis, "setTimeout");
    const clearSpy = vi.spyOn(globalThis, "clearTimeout");
    let connClosed = false;
    const server = net.createServer((socket) => lineConnection(socket, { onClosed: () => (connClosed = true) }));
    try {
      const client = await listenAndConnect(server);
      const r = new LineReader(client);
      expect(await r.line()).toBe("* OK plain ready");
      client.write("a LOGOUT\r\n");
      expect(await r.rest()).toEqual(["* BYE", "a OK"]);
      client.end();
      await vi.waitFor(() => expect(connClosed).toBe(true));
      const endTimers = setSpy.mock.calls.flatMap((call, i) => (call[1] === 10_000 ? [setSpy.mock.results[i]!.value as unknown] : []));
      expect(endTimers).toHaveLength(1);
      expect(clearSpy.mock.calls.map((call) => call[0] as unknown)).toContain(endTimers[0]);
    } finally {
      setSpy.mockRestore();
      clearSpy.mockRestore();
      server.close();
    }
  });

  it("builds no logger for a relayed session that ends quietly when debug lines are off", async () => {
    let logsBuilt = 0;
    let connClosed = false;
    const node = new Duplex({ read() {}, write: (_chunk, _enc, cb) => cb() });
    const server = net.createServer((socket) => {
      const { conn } = lineConnection(socket, { log: () => (logsBuilt++, silentLogger()), onClosed: () => (connClosed = true) });
      conn.relayTo(node, Buffer.alloc(0), () => undefined);
    });
    try {
      const client = await listenAndConnect(server);
      expect(await new LineReader(client).line()).toBe("* OK plain ready");
      client.end();
      await vi.waitFor(() => expect(connClosed).toBe(true));
      expect(logsBuilt).toBe(0);
    } finally {
      server.close();
    }
  });
});
