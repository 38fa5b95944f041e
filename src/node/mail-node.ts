// A node that holds mail: a worker (home of its users) or a storage node (a
// replica of every user). Both run the same engine over the same LevelDB mail
// store; they differ only in who may connect and what they are asked to hold.
// Sessions arrive from distributors as streams inside a mutual-TLS link, each
// already logged in: the distributor checked the password.
import type tls from "node:tls";
import type { Logger } from "pino";
import type { AdminServer } from "../admin/http";
import { nodeByName, readNodeTls, type ClusterConfig, type HostPort } from "../config/cluster";
import { dataPaths } from "../config/paths";
import { ImapSession } from "../imap/session";
import { listenMux, type MuxConnection, type MuxStream } from "../link";
import { sessionLogger } from "../log/logger";
import { createMailStore, type LevelMailStore } from "../mailstore";
import { createMetrics, type Metrics } from "../metrics";
import { Connection, type ConnectionOptions } from "../server/connection";
import { assertPeerAllowed, internalServerOptions, type PeerIdentity } from "../tls/mtls";
import { listenServer, closeServer } from "../server/listen";
import { heldMail, replicaView } from "./admin-views";
import { CLUSTER_LINK } from "./link-options";
import { startNodeAdmin } from "./node-admin";
import { NodeReplication } from "./node-replication";
import { REPLICATION_STREAM } from "./peer-links";
import { replicaIdFor } from "./replica-id";
import { SESSION_STREAM, parseSessionHeader, type SessionHeader } from "./session-header";

export type MailRole = "worker" | "storage";

export interface MailNodeOptions {
  config: ClusterConfig;
  name: string;
  role: MailRole;
  log: Logger;
}

/** A stream kind other than sessions (replication, later) and who handles it. */
export type StreamHandler = (stream: MuxStream, header: Record<string, unknown>, peer: PeerIdentity, accept: () => void, refuse: (reason: string) => void) => void;

export interface RunningMailNode {
  readonly name: string;
  readonly role: MailRole;
  readonly internal: HostPort;
  readonly admin: HostPort;
  readonly store: LevelMailStore;
  readonly metrics: Metrics;
  sessionCount(): number;
  /** Routes streams whose header `kind` is `kind` to `handler`. */
  handleStreams(kind: string, handler: StreamHandler): void;
  /** Stops accepting, BYE to every session (in-flight commands finish), closes links and LevelDB. */
  close(): Promise<void>;
}

/**
 * How long another replica's op may wait for a commit batch to share. A
 * storage node applies every worker's ops; writing them each turn cost an
 * fsync that competed for the disk with the workers' fsyncs clients wait for.
 */
const REMOTE_LINGER_MS = 3;

export async function startMailNode(opts: MailNodeOptions): Promise<RunningMailNode> {
  const { config, name, role, log } = opts;
  const node = nodeByName(config, name);
  if (node.role !== role) throw new Error(`node ${name} is a ${node.role}, not a ${role}`);
  if (!node.internal) throw new Error(`node ${name} has no internal address`);
  const limits = config.limits;
  const metrics = createMetrics({ node: name, role });
  const { ca, pair } = await readNodeTls(config, name);
  const paths = dataPaths(node.data);
  const replicaId = await replicaIdFor(node.data);
  const store = await createMailStore({
    dir: paths.storeDir,
    replicaId,
    maxMessageSize: limits.maxAppendSize,
    // Under `replicated` durability a worker's client waits for storage's fsync of its op.
    remoteLingerMs: config.durability === "local" ? REMOTE_LINGER_MS : 0,
    log: log.child({ component: "mailstore" }),
  });
  metrics.watchDirectorySize(paths.storeDir);
  const observer = metrics.sessionObserver();
  const connections = new Set<Connection>();
  const links = new Set<MuxConnection>();
  const handlers = new Map<string, StreamHandler>();
  let closing = false;

  const connectionOptions: ConnectionOptions = {
    idleTimeoutMs: limits.idleTimeoutMs,
    tlsHandshakeTimeoutMs: limits.tlsHandshakeTimeoutMs,
    onClosed: (c) => connections.delete(c),
    logsDebug: () => log.isLevelEnabled("debug"),
  };

  const serveSession = (stream: MuxStream, h: SessionHeader) => {
    const slog = sessionLogger(log, h.session ?? `s${stream.id}`, { user: h.user, client: h.client });
    const conn = new Connection(stream, slog, connectionOptions);
    connections.add(conn);
    const session = new ImapSession(conn.transport, {
      store,
      // The distributor checked the password; a relayed session never logs in again.
      authenticate: async () => false,
      limits,
      secure: true,
      log: slog,
      serverName: name,
      preauthenticated: { user: h.user },
      observer,
    });
    conn.start(session, false);
  };

  const replication = new NodeReplication({ config, self: node, store, tls: { pair, ca }, metrics, log });
  handlers.set(REPLICATION_STREAM, (stream, _header, peer, accept, refuse) => replication.accept(stream, peer, accept, refuse));

  handlers.set(SESSION_STREAM, (stream, header, peer, accept, refuse) => {
    const h = parseSessionHeader(header);
    if (!h) return refuse("bad session header");
    // Sessions come only from distributors; a worker admits no other role at all, a storage node admits peers that replicate.
    if (peer.role !== "distributor") return refuse(`a ${peer.role} may not open sessions`);
    // A returning worker would serve state older than what storage served meanwhile; the distributor tries storage.
    if (role === "worker" && !replication.caughtUp()) return refuse("catching up");
    // Open the user's mail before accepting, so a failure becomes NO [UNAVAILABLE] at the client's login.
    store.forUser(h.user).then(
      () => {
        if (closing) return refuse("node is shutting down");
        accept();
        serveSession(stream, h);
      },
      (err: unknown) => {
        log.error({ err, user: h.user }, "could not open the user's mail");
        refuse("mail store unavailable");
      },
    );
  });

  const onLink = (mux: MuxConnection, socket: tls.TLSSocket) => {
    const peer = assertPeerAllowed(role, socket, { throwOnDeny: false });
    if (!peer) {
      log.warn({ remote: socket.remoteAddress }, "internal connection refused: the peer's role may not connect to a " + role);
      mux.close();
      return;
    }
    links.add(mux);
    mux.once("close", () => links.delete(mux));
    mux.on("stream", (stream, header, accept, refuse) => {
      if (closing) return refuse("node is shutting down");
      const handler = handlers.get(typeof header.kind === "string" ? header.kind : "");
      if (!handler) return refuse(`unknown stream kind ${JSON.stringify(header.kind)}`);
      handler(stream, header, peer, accept, refuse);
    });
  };

  let server: tls.Server | undefined;
  let admin: AdminServer | undefined;
  try {
    server = listenMux(internalServerOptions(pair, ca), onLink, { ...CLUSTER_LINK, log: log.child({ component: "link" }) });
    const internal = await listenServer(server, node.internal);
    await replication.start();
    admin = await startNodeAdmin({
      node,
      metrics,
      log,
      notReady: () => (closing ? "shutting down" : replication.caughtUp() ? undefined : "catching up"),
      json: { "/users": () => heldMail(store), "/replica": (q) => replicaView(store, q.get("user")) },
    });
    const adminAddress = { host: admin.host, port: admin.port };
    log.info({ internal, admin: adminAddress, replicaId }, `${role} ready`);

    let closed: Promise<void> | undefined;
    const tlsServer = server;
    const adminServer = admin;
    return {
      name,
      role,
      internal,
      admin: adminAddress,
      store,
      metrics,
      sessionCount: () => connections.size,
      handleStreams: (kind, handler) => void handlers.set(kind, handler),
      close() {
        closed ??= (async () => {
          closing = true;
          const stopped = closeServer(tlsServer);
          await Promise.all([...connections].map((c) => c.shutdown("Server shutting down, please reconnect", limits.shutdownGraceMs)));
          replication.close();
          for (const l of links) l.close();
          await stopped;
          await store.close();
          await adminServer.close();
          metrics.close();
          log.info(`${role} stopped`);
        })();
        return closed;
      },
    };
  } catch (err) {
    replication.close();
    if (server) await closeServer(server);
    await admin?.close();
    await store.close();
    metrics.close();
    throw err;
  }
}
