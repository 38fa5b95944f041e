// One client connection: feeds socket bytes to its session, applies
// back-pressure, runs the autologout timer and performs the STARTTLS upgrade.
// The session sees a transport whose socket can change underneath it.
import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type { Logger } from "pino";
import { atTurnEnd } from "../util/turn-end";

/** What the listener needs of a session; src/imap/session.ts's ImapSession satisfies it. */
export interface SessionLike {
  greet(): void;
  onData(chunk: Buffer): void;
  onClose(): void;
  shutdown(reason: string): Promise<void>;
}

/** The transport handed to a session. pause/resume let it stop reading while it works through a backlog. */
export interface SessionTransport {
  write(data: Buffer | string): boolean;
  end(): void;
  pause(): void;
  resume(): void;
}

/**
 * Options a listener shares among all its connections; what differs per
 * connection is the logger, given separately.
 */
export interface ConnectionOptions {
  idleTimeoutMs: number;
  tlsHandshakeTimeoutMs: number;
  /** Present on the plain listener: the context STARTTLS upgrades with. */
  secureContext?: tls.SecureContext;
  onClosed(conn: Connection): void;
  /** Whether debug lines are logged: the connection's logger is built only to say something. */
  logsDebug(): boolean;
}

/**
 * A client socket, or a relayed stream inside an internal link: a worker runs
 * the sessions it receives from distributors through the same class.
 */
export type ConnectionStream = net.Socket | Duplex;

/**
 * The connection's logger, or a function that builds it when something is to
 * be logged: a relayed connection on the distributor logs only on close and
 * errors, and a pino child per idle session costs about half a kilobyte.
 */
export type ConnectionLog = Logger | (() => Logger);

/** What stays of a session once its connection is relayed: only its close. */
class RelayedSession implements SessionLike {
  constructor(readonly onClose: () => void) {}
  greet(): void {}
  onData(): void {}
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** The connection a socket or relayed stream belongs to; see the shared handlers in Connection. */
const owner = Symbol("charon.connection");
type Owned = { [owner]?: Connection };

/** A batch this large is written at once instead of at the end of the event-loop turn. */
const COALESCE_BYTES = 64 * 1024;

export class Connection implements SessionTransport {
  private socket: ConnectionStream & Owned;
  private session: SessionLike | undefined;
  private closed = false;
  private upgrading = false;
  private pausedBySession = false;
  private pausedByWrites = false;
  private pendingWrites = 0;
  /** Writes of this event-loop turn, sent as one: one TLS record and one mux frame instead of one per response line. */
  private batch: Array<Buffer | string> = [];
  private batchBytes = 0;
  private flushScheduled = false;
  private flushWaiters: Array<() => void> = [];
  private idleTimer: NodeJS.Timeout | undefined;
  private endTimer: NodeJS.Timeout | undefined;
  private readonly closeWaiters: Array<() => void> = [];
  /** Distributor: the mail node's session this connection is relayed to. */
  private relay: (Duplex & Owned) | undefined;
  private countRelayed: ((direction: "in" | "out", bytes: number) => void) | undefined;

  // The event handlers are shared by every connection and find theirs through
  // the emitter (`this`), instead of being closures allocated per connection:
  // the distributor holds thousands of idle connections.
  private static onSocketData(this: Owned, chunk: Buffer): void {
    const conn = this[owner];
    if (!conn) return;
    conn.idleTimer?.refresh();
    try {
      conn.session?.onData(chunk);
    } catch (err) {
      // A session bug must cost this connection only, never the process.
      conn.log.error({ err }, "session failed on input; dropping connection");
      conn.destroy();
    }
  }

  private static onSocketDrain(this: Owned): void {
    const conn = this[owner];
    if (!conn) return;
    conn.pausedByWrites = false;
    // While relaying, the node's output waits for the client too.
    conn.relay?.resume();
    conn.updateFlow();
  }

  private static onSocketError(this: Owned, err: Error): void {
    // Resets and broken pipes are routine on the internet; 'close' follows and cleans up.
    this[owner]?.log.debug({ err: { code: (err as NodeJS.ErrnoException).code, message: err.message } }, "socket error");
  }

  private static onSocketClose(this: Owned): void {
    this[owner]?.cleanup();
  }

  /** A relayed stream ended by the distributor (it is shutting down): BYE, then close. */
  private static onStreamEnd(this: Owned): void {
    void this[owner]?.shutdown("Server shutting down, please reconnect");
  }

  private static onClientDataRelayed(this: Owned, chunk: Buffer): void {
    this[owner]?.toNode(chunk);
  }

  private static onRelayData(this: Owned, chunk: Buffer): void {
    const conn = this[owner];
    if (!conn) return;
    conn.countRelayed?.("out", chunk.length);
    conn.write(chunk);
  }

  private static onRelayDrain(this: Owned): void {
    const conn = this[owner];
    if (conn && !conn.pausedByWrites) conn.socket.resume();
  }

  private static onRelayEnd(this: Owned): void {
    this[owner]?.end();
  }

  private static onRelayError(this: Owned, err: Error): void {
    const conn = this[owner];
    if (!conn) return;
    // The node or the link to it died mid-session: tell the client to reconnect (RFC 3501 §7.1.5).
    conn.log.warn({ err: { message: err.message } }, "relayed session lost its mail node");
    conn.flushBatch();
    const socket = conn.socket;
    if (!socket.destroyed && !socket.writableEnded) socket.write("* BYE Lost the connection to the mail store, please reconnect\r\n");
    conn.end();
  }

  private static flush(conn: Connection): void {
    conn.flushBatch();
  }

  constructor(
    socket: ConnectionStream,
    private readonly logSource: ConnectionLog,
    private readonly opts: ConnectionOptions,
  ) {
    this.socket = socket;
    if (socket instanceof net.Socket) {
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 60_000);
    }
    this.attach(socket);
  }

  /** What the session writes to; the connection itself, so that an idle one holds no extra closures. */
  get transport(): SessionTransport {
    return this;
  }

  get log(): Logger {
    const l = this.logSource;
    return typeof l === "function" ? l() : l;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get encrypted(): boolean {
    return this.socket instanceof tls.TLSSocket;
  }

  /**
   * Starts the session: greeting first, then input, then the autologout timer.
   * A session relayed from a distributor starts without a greeting: the client
   * had its greeting from the distributor.
   */
  start(session: SessionLike, greet = true): void {
    this.session = session;
    this.idleTimer = setTimeout(() => this.onIdle(), this.opts.idleTimeoutMs);
    this.idleTimer.unref();
    if (greet) session.greet();
    this.updateFlow();
  }

  /**
   * Distributor: the session logged the client in and handed over. From now
   * on bytes flow both ways between the client and `stream` (the session on
   * the mail node), each direction pausing its source while the other side is
   * full. The mail node's session does the autologout.
   */
  relayTo(stream: Duplex, pending: Buffer, closed: () => void, count?: (direction: "in" | "out", bytes: number) => void): void {
    if (this.closed) {
      stream.destroy();
      return;
    }
    const relay: Duplex & Owned = stream;
    relay[owner] = this;
    this.relay = relay;
    this.countRelayed = count;
    // The session is inert from here on; holding it would cost every idle relayed connection its parser and state.
    this.session = new RelayedSession(closed);
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.socket.off("data", Connection.onSocketData);
    relay.on("drain", Connection.onRelayDrain);
    relay.on("data", Connection.onRelayData);
    relay.on("end", Connection.onRelayEnd);
    relay.on("error", Connection.onRelayError);
    if (pending.length > 0) this.toNode(pending);
    this.socket.on("data", Connection.onClientDataRelayed);
    this.pausedBySession = false;
    this.updateFlow();
  }

  /** Client bytes to the mail node; the client waits while the node's stream is full. */
  private toNode(chunk: Buffer): void {
    if (!this.relay) return;
    this.countRelayed?.("in", chunk.length);
    if (!this.relay.write(chunk)) this.socket.pause();
  }

  private attach(socket: ConnectionStream & Owned): void {
    socket[owner] = this;
    if (!(socket instanceof net.Socket)) socket.once("end", Connection.onStreamEnd);
    socket.on("data", Connection.onSocketData);
    socket.on("drain", Connection.onSocketDrain);
    socket.on("error", Connection.onSocketError);
    socket.on("close", Connection.onSocketClose);
  }

  private detach(socket: ConnectionStream): void {
    socket.off("data", Connection.onSocketData);
    socket.off("drain", Connection.onSocketDrain);
    // 'error' stays (unhandled, it would crash the process) and so does 'close' (a client that
    // hangs up mid-upgrade must still be cleaned up; cleanup is idempotent).
  }

  private updateFlow(): void {
    if (this.closed || this.upgrading) return;
    if (this.pausedBySession || this.pausedByWrites || !this.session) this.socket.pause();
    else this.socket.resume();
  }

  // ---- SessionTransport ----

  write(data: Buffer | string): boolean {
    if (this.closed || this.socket.destroyed || this.socket.writableEnded) return false;
    this.pendingWrites++;
    this.batch.push(data);
    this.batchBytes += data.length;
    // Past the bound the batch goes now, so the caller sees the socket's real back-pressure.
    if (this.batchBytes >= COALESCE_BYTES) return this.flushBatch();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      atTurnEnd(Connection.flush, this);
    }
    return !this.pausedByWrites;
  }

  end(): void {
    if (this.closed) return;
    this.flushBatch();
    this.socket.end();
    // A client that never closes its side must not hold the connection open forever.
    // Cleared on close: it would keep the whole session reachable for 10 s.
    this.endTimer ??= setTimeout(() => this.destroy(), 10_000).unref();
  }

  /** The session stops reading while it works through a backlog. */
  pause(): void {
    this.pausedBySession = true;
    this.updateFlow();
  }

  resume(): void {
    this.pausedBySession = false;
    this.updateFlow();
  }

  // ----

  private flushBatch(): boolean {
    this.flushScheduled = false;
    const parts = this.batch;
    if (parts.length === 0) return !this.pausedByWrites;
    this.batch = [];
    this.batchBytes = 0;
    if (this.closed || this.socket.destroyed || this.socket.writableEnded) {
      this.writeDone(parts.length);
      return false;
    }
    const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : p)));
    const ok = this.socket.write(data, () => this.writeDone(parts.length));
    if (!ok) {
      // The client is not reading what we send; stop reading its commands (or the node's output) until it does.
      this.pausedByWrites = true;
      this.relay?.pause();
      this.updateFlow();
    }
    return ok;
  }

  private writeDone(count: number): void {
    this.pendingWrites -= count;
    if (this.pendingWrites === 0) for (const w of this.flushWaiters.splice(0)) w();
  }

  /** Resolves once everything written so far has been handed to the kernel. */
  private flushed(): Promise<void> {
    if (this.pendingWrites === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push(resolve));
  }

  destroy(): void {
    this.socket.destroy();
    this.cleanup();
  }

  private onIdle(): void {
    this.log.info("autologout after idle timeout");
    void this.shutdown("Autologout; idle for too long");
  }

  /** Says BYE through the session and waits (bounded) for the socket to close. */
  async shutdown(reason: string, graceMs = 5_000): Promise<void> {
    if (this.closed) return;
    const closed = new Promise<void>((resolve) => this.closeWaiters.push(resolve));
    const timer = setTimeout(() => this.destroy(), graceMs);
    timer.unref();
    // Not awaited on its own: a session stuck mid-command must not hold up the shutdown past the grace period.
    const session = this.session;
    void (async () => {
      try {
        // A relayed session: the mail node says BYE after its current command when its stream ends.
        if (this.relay) this.relay.end();
        else if (session) await session.shutdown(reason);
        else this.socket.end();
      } catch (err) {
        this.log.warn({ err }, "session shutdown failed");
        this.destroy();
      }
    })();
    await closed;
    clearTimeout(timer);
  }

  /**
   * STARTTLS: stops reading plaintext at once (bytes after the command must
   * not be taken as commands — CVE-2011-0411 class), lets the tagged OK reach
   * the wire, then runs the server side of the handshake on the same socket.
   */
  async startTls(): Promise<void> {
    const context = this.opts.secureContext;
    if (!context) throw new Error("STARTTLS is not available on this connection");
    if (this.encrypted || this.upgrading) throw new Error("TLS already active");
    const plain = this.socket;
    if (!(plain instanceof net.Socket)) throw new Error("STARTTLS needs a socket");
    this.upgrading = true;
    this.detach(plain);
    plain.pause();
    await this.flushed();
    if (this.closed) throw new Error("connection closed before TLS negotiation");

    // TLSSocket takes over the handle and replays whatever the plain socket had buffered (the ClientHello).
    const secure: tls.TLSSocket & Owned = new tls.TLSSocket(plain, { isServer: true, secureContext: context });
    secure[owner] = this;
    this.socket = secure;
    secure.on("error", Connection.onSocketError);
    secure.on("close", Connection.onSocketClose);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => secure.destroy(new Error("TLS handshake timed out")), this.opts.tlsHandshakeTimeoutMs);
      timer.unref();
      const onSecure = () => {
        clearTimeout(timer);
        secure.off("error", onError);
        resolve();
      };
      const onError = (err: Error) => {
        clearTimeout(timer);
        secure.off("secure", onSecure);
        this.log.info({ err: { message: err.message } }, "STARTTLS handshake failed");
        secure.destroy();
        this.cleanup();
        reject(err);
      };
      secure.once("secure", onSecure);
      secure.once("error", onError);
    });
    secure.off("close", Connection.onSocketClose);
    secure.off("error", Connection.onSocketError);
    this.attach(secure);
    this.upgrading = false;
    this.log.debug({ protocol: secure.getProtocol(), cipher: secure.getCipher().name }, "STARTTLS complete");
    this.updateFlow();
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    this.relay?.destroy();
    clearTimeout(this.idleTimer);
    clearTimeout(this.endTimer);
    for (const w of this.flushWaiters.splice(0)) w();
    try {
      this.session?.onClose();
    } catch (err) {
      this.log.error({ err }, "session failed on close");
    }
    if (this.opts.logsDebug()) this.log.debug("connection closed");
    this.opts.onClosed(this);
    for (const w of this.closeWaiters.splice(0)) w();
  }
}
