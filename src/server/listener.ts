// Client-facing listeners: implicit TLS (IMAPS) and plain IMAP offering
// STARTTLS. Each accepted connection gets a session from the factory, so the
// same listener serves the IMAP engine now and the distributor's relay later.
import { randomBytes } from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { resolveLimits, type Limits } from "../config/limits";
import { sessionLogger } from "../log/logger";
import type { SessionObserver } from "../imap/observer";
import type { PemKeyPair } from "../tls/certs";
import { createServerContext, serverTlsOptions } from "../tls/context";
import { Connection, type ConnectionOptions, type SessionLike, type SessionTransport } from "./connection";

export interface SessionFactoryOptions {
  secure: boolean;
  startTls?: () => Promise<void>;
  log: Logger;
  /** Session id, also in every log line of the session. */
  id: string;
  /** Client address, for rate limits and logs. */
  remoteAddress: string;
  /** Hands the connection to a relayed session (distributor); `closed` replaces the session, which is dropped. */
  relayTo(stream: Duplex, pending: Buffer, closed: () => void): void;
  /** Metrics hook for the session, from SessionListenerOptions.observer. */
  observer?: SessionObserver;
}

export interface SessionListenerOptions {
  tls: PemKeyPair;
  log: Logger;
  limits?: Partial<Limits>;
  createSession(transport: SessionTransport, opts: SessionFactoryOptions, limits: Limits): SessionLike;
  /** Counts relayed bytes ("in": client to node). */
  countRelayed?: (direction: "in" | "out", bytes: number) => void;
  /** Passed to every session factory call (metrics: `createMetrics(...).sessionObserver()`). */
  observer?: SessionObserver;
  /** An implicit-TLS handshake failed (STARTTLS failures reach the session's observer). */
  onTlsHandshakeFailure?: () => void;
}

export interface Endpoint {
  host: string;
  port: number;
}

export interface ListenOptions {
  /** Implicit TLS (IMAPS, port 993 in production). */
  imaps?: Partial<Endpoint>;
  /** Plain IMAP with STARTTLS (port 143 in production). */
  imap?: Partial<Endpoint>;
}

export interface BoundEndpoints {
  imaps?: Endpoint;
  imap?: Endpoint;
}

export const DEFAULT_HOST = "127.0.0.1";

const ignoreError = (): void => undefined;

function listenOn(server: net.Server, endpoint: Partial<Endpoint>): Promise<Endpoint> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once("error", onError);
    server.listen({ host: endpoint.host ?? DEFAULT_HOST, port: endpoint.port ?? 0 }, () => {
      server.off("error", onError);
      const addr = server.address() as net.AddressInfo;
      resolve({ host: addr.address, port: addr.port });
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}

export class SessionListener {
  readonly limits: Limits;
  private readonly secureContext: tls.SecureContext;
  private readonly connections = new Set<Connection>();
  /** Every accepted TCP socket, including ones still in their TLS handshake (no Connection yet). */
  private readonly sockets = new Set<net.Socket>();
  private readonly servers: net.Server[] = [];
  private closing: Promise<void> | undefined;

  /** Shared by every connection of the listener (one object, not one per connection). */
  private readonly implicitTlsConnections: ConnectionOptions;
  private readonly plainConnections: ConnectionOptions;

  constructor(private readonly opts: SessionListenerOptions) {
    this.limits = resolveLimits(opts.limits);
    this.secureContext = createServerContext(opts.tls);
    const connections = this.connections;
    this.implicitTlsConnections = {
      idleTimeoutMs: this.limits.idleTimeoutMs,
      tlsHandshakeTimeoutMs: this.limits.tlsHandshakeTimeoutMs,
      onClosed: (c) => connections.delete(c),
      logsDebug: () => opts.log.isLevelEnabled("debug"),
    };
    this.plainConnections = { ...this.implicitTlsConnections, secureContext: this.secureContext };
  }

  /** Number of open sessions. */
  get sessionCount(): number {
    return this.connections.size;
  }

  async listen(endpoints: ListenOptions): Promise<BoundEndpoints> {
    if (this.closing) throw new Error("listener is closed");
    const bound: BoundEndpoints = {};
    if (endpoints.imaps) {
      // tls.Server ignores a `secureContext` option; it builds its own from key/cert.
      const server = tls.createServer({
        ...serverTlsOptions(this.opts.tls),
        handshakeTimeout: this.limits.tlsHandshakeTimeoutMs,
      });
      server.on("secureConnection", (socket: tls.TLSSocket) => this.accept(socket, true));
      server.on("tlsClientError", (err, socket) => {
        // Scanners and clients that reject the self-signed certificate land here; not our failure.
        this.opts.log.debug({ err: { message: err.message }, remote: socket.remoteAddress }, "TLS handshake failed");
        this.opts.onTlsHandshakeFailure?.();
        socket.destroy();
      });
      bound.imaps = await this.start(server, endpoints.imaps);
    }
    if (endpoints.imap) {
      const server = net.createServer((socket) => this.accept(socket, false));
      bound.imap = await this.start(server, endpoints.imap);
    }
    return bound;
  }

  private async start(server: net.Server, endpoint: Partial<Endpoint>): Promise<Endpoint> {
    server.maxConnections = this.limits.maxConnections;
    // Shared handlers rather than closures per socket: every byte an idle connection holds counts.
    const sockets = this.sockets;
    const forget = function (this: net.Socket): void {
      sockets.delete(this);
    };
    server.on("connection", (socket: net.Socket) => {
      sockets.add(socket);
      socket.on("close", forget);
      // Until a session owns it, a socket still needs an error listener or a reset would crash us.
      socket.on("error", ignoreError);
    });
    server.on("error", (err) => this.opts.log.error({ err }, "listener error"));
    const bound = await listenOn(server, endpoint);
    this.servers.push(server);
    this.opts.log.info({ ...bound, tls: server instanceof tls.Server ? "implicit" : "starttls" }, "listening");
    return bound;
  }

  private accept(socket: net.Socket, implicitTls: boolean): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const id = randomBytes(6).toString("base64url");
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const tlsMode = implicitTls ? "implicit" : "plain";
    const parent = this.opts.log;
    const makeLog = () => sessionLogger(parent, id, { remote, tls: tlsMode });
    const log = makeLog();
    // The session holds `log` until it hands over; the connection, which may
    // sit relayed and idle for hours, builds one only when it has something to say.
    const conn = new Connection(socket, makeLog, implicitTls ? this.implicitTlsConnections : this.plainConnections);
    this.connections.add(conn);
    try {
      const factoryOpts: SessionFactoryOptions = {
        secure: implicitTls,
        startTls: implicitTls ? undefined : () => conn.startTls(),
        log,
        id,
        remoteAddress: socket.remoteAddress ?? "",
        relayTo: (stream, pending, closed) => conn.relayTo(stream, pending, closed, this.opts.countRelayed),
        observer: this.opts.observer,
      };
      const session = this.opts.createSession(conn.transport, factoryOpts, this.limits);
      log.debug("connection accepted");
      conn.start(session);
    } catch (err) {
      log.error({ err }, "could not start session");
      conn.destroy();
    }
  }

  /**
   * Stops accepting, says `* BYE` to every session and waits for them to go
   * (bounded by shutdownGraceMs). The store is not closed here: it belongs to
   * whoever assembled the node, and may outlive this listener.
   */
  close(reason = "server shutting down"): Promise<void> {
    this.closing ??= (async () => {
      const stopped = Promise.all(this.servers.map(closeServer));
      await Promise.all([...this.connections].map((c) => c.shutdown(reason, this.limits.shutdownGraceMs)));
      for (const socket of this.sockets) socket.destroy();
      await stopped;
      this.opts.log.info("listeners closed");
    })();
    return this.closing;
  }
}
