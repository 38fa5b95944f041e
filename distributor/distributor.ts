// The front door: client listeners (IMAPS and STARTTLS), the commands before
// login, the password check, then a relay of the rest of each session to the
// user's home worker, or to a storage replica while that worker is down. It
// holds no mail.
import type tls from "node:tls";
import type { Logger } from "pino";
import type { AdminServer } from "../src/admin/http";
import { AuthRateLimiter, rateLimitedAuthenticator } from "../src/auth/rate-limit";
import { UserDirectory } from "../src/auth/user-directory";
import { nodeByName, nodesWithRole, readNodeTls, readPublicTls, type ClusterConfig, type HostPort } from "../src/config/cluster";
import { ImapSession } from "../src/imap/session";
import type { MailStore } from "../src/imap/store-port";
import { connectMux } from "../src/link";
import { createMetrics, type Metrics } from "../src/metrics";
import { CLUSTER_LINK } from "../src/node/link-options";
import { startNodeAdmin } from "../src/node/node-admin";
import { sessionHeader } from "../src/node/session-header";
import { SessionListener, type BoundEndpoints } from "../src/server/listener";
import { expectPeer, internalClientOptions } from "../src/tls/mtls";
import { BackendLinks, type OpenedSession } from "./backend-links";
import { clusterRouter } from "../src/routing/home-worker-router";

export interface DistributorOptions {
  config: ClusterConfig;
  name: string;
  log: Logger;
}

export interface RunningDistributor {
  readonly name: string;
  readonly endpoints: BoundEndpoints;
  readonly admin: HostPort;
  readonly backend: BackendLinks;
  readonly metrics: Metrics;
  close(): Promise<void>;
}

/** The distributor never opens mail itself: sessions hand off before they could. */
const NO_STORE: MailStore = {
  forUser: () => Promise.reject(new Error("a distributor holds no mail")),
};


export async function startDistributor(opts: DistributorOptions): Promise<RunningDistributor> {
  const { config, name, log } = opts;
  const node = nodeByName(config, name);
  if (node.role !== "distributor") throw new Error(`node ${name} is a ${node.role}, not a distributor`);
  const metrics = createMetrics({ node: name, role: "distributor" });
  const { ca, pair } = await readNodeTls(config, name);
  const publicTls = await readPublicTls(config);
  const directory = await UserDirectory.open(config.users, { watch: true });
  directory.on("reload", () => log.info("user directory reloaded"));
  const limiter = new AuthRateLimiter(config.auth);
  const mailNodes = [...nodesWithRole(config, "worker"), ...nodesWithRole(config, "storage")];
  const backend = new BackendLinks({
    nodes: mailNodes.map((n) => n.name),
    router: clusterRouter(config),
    log: log.child({ component: "backend" }),
    onHealth: (n, up) => log.info({ target: n, up }, "mail node health changed"),
    connect: async (target) => {
      const entry = mailNodes.find((n) => n.name === target)!;
      const mux = await connectMux(
        { ...internalClientOptions(pair, ca, target), host: entry.internal!.host, port: entry.internal!.port },
        { ...CLUSTER_LINK, connectTimeoutMs: 3000, log: log.child({ component: "link", peer: target }) },
      );
      try {
        // The CA vouches for the certificate; it must also be the node we meant, in its role.
        expectPeer(mux.socket as tls.TLSSocket, entry.role, target);
      } catch (err) {
        mux.close();
        throw err;
      }
      return mux;
    },
  });

  const listener = new SessionListener({
    tls: publicTls,
    log,
    limits: config.limits,
    observer: metrics.sessionObserver(),
    onTlsHandshakeFailure: () => metrics.tlsHandshakeFailed(),
    countRelayed: (direction, bytes) => metrics.countRelayed(direction, bytes),
    createSession: (transport, f, limits) => {
      let opened: OpenedSession | undefined;
      return new ImapSession(transport, {
        store: NO_STORE,
        authenticate: rateLimitedAuthenticator(limiter, f.remoteAddress, (u, p) => directory.verify(u, p), {
          onRefused: (_ip, user) => f.log.warn({ user }, "login refused: too many failures"),
        }),
        limits,
        secure: f.secure,
        startTls: f.startTls,
        log: f.log,
        serverName: "charon",
        observer: f.observer,
        handoff: {
          open: async (user) => {
            opened = await backend.openSession(user, sessionHeader({ user, session: f.id, client: f.remoteAddress }));
            f.log.info({ user, target: opened.node, home: opened.home }, "relaying session");
          },
          start: (pending, closed) => f.relayTo(opened!.stream, pending, closed),
        },
      });
    },
  });

  let closing = false;
  let admin: AdminServer | undefined;
  try {
    await backend.warmUp();
    const endpoints = await listener.listen({ imaps: node.imaps, imap: node.imap });
    admin = await startNodeAdmin({
      node,
      metrics,
      log,
      notReady: () => (closing ? "shutting down" : backend.upNodes().length === 0 ? "no mail node reachable" : undefined),
    });
    const adminAddress = { host: admin.host, port: admin.port };
    log.info({ ...endpoints, admin: adminAddress }, "distributor ready");
    const adminServer = admin;
    let closed: Promise<void> | undefined;
    return {
      name,
      endpoints,
      admin: adminAddress,
      backend,
      metrics,
      close() {
        closed ??= (async () => {
          closing = true;
          await listener.close("Server shutting down, please reconnect");
          backend.close();
          await directory.close();
          await adminServer.close();
          metrics.close();
          log.info("distributor stopped");
        })();
        return closed;
      },
    };
  } catch (err) {
    await listener.close();
    backend.close();
    await directory.close();
    await admin?.close();
    metrics.close();
    throw err;
  }
}
