// One all-in-one node: mail store, user directory and the client listeners in
// one process. Later issues split this into distributor, worker and storage.
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import type { Logger } from "pino";
import { UserDirectory, type UserDirectoryOptions } from "../src/auth/user-directory";
import { resolveLimits, type Limits } from "../src/config/limits";
import { dataPaths } from "../src/config/paths";
import { createMailStore } from "../src/mailstore";
import { ImapListener, type BoundEndpoints, type ListenOptions } from "../src/server/imap-listener";
import { ensureServerCert } from "../src/tls/cert-files";

export interface NodeOptions {
  dataDir: string;
  log: Logger;
  listen: ListenOptions;
  limits?: Partial<Limits>;
  serverName?: string;
  users?: UserDirectoryOptions;
}

export interface RunningNode {
  endpoints: BoundEndpoints;
  users: UserDirectory;
  listener: ImapListener;
  /** BYE to every session, then the store is closed. Safe to call more than once. */
  close(): Promise<void>;
}

/**
 * The replica id must survive restarts: op ids are (replica, seq), and a new
 * id for old data would look like a second replica to the CRDTs.
 */
export async function replicaIdFor(dataDir: string): Promise<string> {
  const file = dataPaths(dataDir).replicaIdFile;
  try {
    const id = (await fs.readFile(file, "utf8")).trim();
    if (/^[A-Za-z0-9_-]{4,64}$/.test(id)) return id;
    throw new Error(`${file} does not hold a valid replica id`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const id = `r${randomBytes(8).toString("hex")}`;
  await fs.writeFile(file, id + "\n", { flag: "wx", mode: 0o644 });
  return id;
}

/** Prepares the data directory: the directory itself, the TLS certificate, the user directory. */
export async function prepareDataDir(dataDir: string, users?: UserDirectoryOptions) {
  const paths = dataPaths(dataDir);
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const cert = await ensureServerCert(paths.tlsDir);
  const directory = await UserDirectory.open(paths.usersFile, users);
  return { paths, cert, directory };
}

export async function startNode(opts: NodeOptions): Promise<RunningNode> {
  const limits = resolveLimits(opts.limits);
  const { paths, cert, directory } = await prepareDataDir(opts.dataDir, opts.users);
  if (cert.created) opts.log.info({ certPath: cert.certPath }, "created self-signed certificate");
  const replicaId = await replicaIdFor(opts.dataDir);
  const store = await createMailStore({
    dir: paths.storeDir,
    replicaId,
    maxMessageSize: limits.maxAppendSize,
    log: opts.log.child({ component: "mailstore" }),
  });
  const listener = new ImapListener({
    store,
    authenticate: (user, password) => directory.verify(user, password),
    tls: cert,
    log: opts.log,
    limits,
    serverName: opts.serverName,
  });
  let endpoints: BoundEndpoints;
  try {
    endpoints = await listener.listen(opts.listen);
  } catch (err) {
    await listener.close();
    await store.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    endpoints,
    users: directory,
    listener,
    close() {
      closing ??= (async () => {
        await listener.close();
        await store.close();
        opts.log.info("store closed");
      })();
      return closing;
    },
  };
}
