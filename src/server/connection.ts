// One client connection: feeds socket bytes to its session, applies
// back-pressure, runs the autologout timer and performs the STARTTLS upgrade.
// The session sees a transport whose socket can change underneath it.
import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type { Logger } from "pino";

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

export interface ConnectionOptions {
  log: Logger;
  idleTimeoutMs: number;
  tlsHandshakeTimeoutMs: number;
  /** Present on the plain listener: the context STARTTLS upgrades with. */
  secureContext?: tls.SecureContext;
  onClosed(conn: Connection): void;
}

/**
 * A client socket, or a relayed stream inside an internal link: a worker runs
 * the sessions it receives from distributors through the same class.
 */
export type ConnectionStream = net.Socket | Duplex;

/** What stays of a session once its connection is relayed: only its close. */
function relayedSession(closed: () => void): SessionLike {
  return { greet() {}, onData() {}, onClose: closed, shutdown: () => Promise.resolve() };
}

/** A batch this large is written at once instead of at the end of the event-loop turn. */
const COALESCE_BYTES = 64 * 1024;

export class Connection {
  private socket: ConnectionStream;
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
  private readonly closeWaiters: Array<() => void> = [];
  /** Distributor: the mail node's session this connection is relayed to. */
  private relay: Duplex | undefined;
  readonly transport: SessionTransport;

  private readonly onSocketData = (chunk: Buffer) => {
    this.idleTimer?.refresh();
    try {
      this.session?.onData(chunk);
    } catch (err) {
      // A session bug must cost this connection only, never the process.
      this.opts.log.error({ err }, "session failed on input; dropping connection");
      this.destroy();
    }
  };
  private readonly onSocketDrain = () => {
    this.pausedByWrites = false;
    this.onWritesDrained();
    this.updateFlow();
  };
  private readonly onSocketError = (err: Error) => {
    // Resets and broken pipes are routine on the internet; 'close' follows and cleans up.
    this.opts.log.debug({ err: { code: (err as NodeJS.ErrnoException).code, message: err.message } }, "socket error");
  };
  private readonly onSocketClose = () => this.cleanup();
  /** A relayed stream ended by the distributor (it is shutting down): BYE, then close. */
  private readonly onStreamEnd = () => void this.shutdown("Server shutting down, please reconnect");

  constructor(socket: ConnectionStream, private readonly opts: ConnectionOptions) {
    this.socket = socket;
    if (socket instanceof net.Socket) {
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 60_000);
    }
    this.transport = {
      write: (data) => this.write(data),
      end: () => this.end(),
      pause: () => {
        this.pausedBySession = true;
        this.updateFlow();
      },
      resume: () => {
        this.pausedBySession = false;
        this.updateFlow();
      },
    };
    this.attach(socket);
  }

  get log(): Logger {
    return this.opts.log;
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
    this.relay = stream;
    // The session is inert from here on; holding it would cost every idle relayed connection its parser and state.
    this.session = relayedSession(closed);
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.socket.off("data", this.onSocketData);
    const socket = this.socket;
    const toNode = (chunk: Buffer) => {
      count?.("in", chunk.length);
      if (!stream.write(chunk)) socket.pause();
    };
    stream.on("drain", () => {
      if (!this.pausedByWrites) socket.resume();
    });
    stream.on("data", (chunk: Buffer) => {
      count?.("out", chunk.length);
      this.write(chunk);
    });
    stream.on("end", () => this.end());
    stream.on("error", (err: Error) => {
      // The node or the link to it died mid-session: tell the client to reconnect (RFC 3501 §7.1.5).
      this.opts.log.warn({ err: { message: err.message } }, "relayed session lost its mail node");
      this.flushBatch();
      if (!socket.destroyed && !socket.writableEnded) socket.write("* BYE Lost the connection to the mail store, please reconnect\r\n");
      this.end();
    });
    if (pending.length > 0) toNode(pending);
    socket.on("data", toNode);
    this.pausedBySession = false;
    this.updateFlow();
  }

  private attach(socket: ConnectionStream): void {
    if (!(socket instanceof net.Socket)) socket.once("end", this.onStreamEnd);
    socket.on("data", this.onSocketData);
    socket.on("drain", this.onSocketDrain);
    socket.on("error", this.onSocketError);
    socket.on("close", this.onSocketClose);
  }

  private detach(socket: ConnectionStream): void {
    socket.off("data", this.onSocketData);
    socket.off("drain", this.onSocketDrain);
    // 'error' stays (unhandled, it would crash the process) and so does 'close' (a client that
    // hangs up mid-upgrade must still be cleaned up; cleanup is idempotent).
  }

  private updateFlow(): void {
    if (this.closed || this.upgrading) return;
    if (this.pausedBySession || this.pausedByWrites || !this.session) this.socket.pause();
    else this.socket.resume();
  }

  private readonly onWritesDrained = () => {
    // While relaying, the node's output waits for the client too.
    if (this.relay && !this.pausedByWrites) this.relay.resume();
  };

  private write(data: Buffer | string): boolean {
    if (this.closed || this.socket.destroyed || this.socket.writableEnded) return false;
    this.pendingWrites++;
    this.batch.push(data);
    this.batchBytes += data.length;
    // Past the bound the batch goes now, so the caller sees the socket's real back-pressure.
    if (this.batchBytes >= COALESCE_BYTES) return this.flushBatch();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushBatch);
    }
    return !this.pausedByWrites;
  }

  private readonly flushBatch = (): boolean => {
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

  private end(): void {
    if (this.closed) return;
    this.flushBatch();
    this.socket.end();
    // A client that never closes its side must not hold the connection open forever.
    setTimeout(() => this.destroy(), 10_000).unref();
  }

  destroy(): void {
    this.socket.destroy();
    this.cleanup();
  }

  private onIdle(): void {
    this.opts.log.info("autologout after idle timeout");
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
        this.opts.log.warn({ err }, "session shutdown failed");
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
  readonly startTls = async (): Promise<void> => {
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
    const secure = new tls.TLSSocket(plain, { isServer: true, secureContext: context });
    this.socket = secure;
    secure.on("error", this.onSocketError);
    secure.on("close", this.onSocketClose);
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
        this.opts.log.info({ err: { message: err.message } }, "STARTTLS handshake failed");
        secure.destroy();
        this.cleanup();
        reject(err);
      };
      secure.once("secure", onSecure);
      secure.once("error", onError);
    });
    secure.off("close", this.onSocketClose);
    secure.off("error", this.onSocketError);
    this.attach(secure);
    this.upgrading = false;
    this.opts.log.debug({ protocol: secure.getProtocol(), cipher: secure.getCipher().name }, "STARTTLS complete");
    this.updateFlow();
  };

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    this.relay?.destroy();
    clearTimeout(this.idleTimer);
    for (const w of this.flushWaiters.splice(0)) w();
    try {
      this.session?.onClose();
    } catch (err) {
      this.opts.log.error({ err }, "session failed on close");
    }
    this.opts.log.debug("connection closed");
    this.opts.onClosed(this);
    for (const w of this.closeWaiters.splice(0)) w();
  }
}
