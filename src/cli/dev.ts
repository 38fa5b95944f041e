// `charon dev`: the whole cluster on loopback, each node its own process:
// the mail nodes (workers and a storage node) first, then the distributor that
// clients talk to. Killing a worker's process shows failover at work; the
// supervisor does not restart it, it prints the command that would.
import { promises as fs } from "node:fs";
import path from "node:path";
import type { Logger } from "pino";
import { randomPassword } from "../auth/password";
import { UserDirectory } from "../auth/user-directory";
import { usernameProblem } from "../auth/username";
import { checkPortsFree, generateDevConfig, parseHostPort, type HostPort } from "../config/cluster";
import { isLogLevel } from "../log/logger";
import { initClusterCerts } from "../tls/cluster-certs";
import { DEFAULT_DATA_DIR, parseOrUsage, parsePort, parseSize, type CliIo } from "./args";
import { sharedHostNodeFlags, shellQuote, spawnNode, stopNode, type NodeProcess } from "./node-process";
import { UsageError } from "./usage";

export const DEFAULT_IMAPS_PORT = 1993;
export const DEFAULT_IMAP_PORT = 1143;
export const DEMO_USER = "demo";
export const DEFAULT_WORKERS = 2;
export const DEFAULT_STORAGE = 1;

export interface DevOptions {
  help: boolean;
  dataDir: string;
  host: string;
  imapsPort: number;
  imapPort: number;
  users: Array<{ name: string; password: string }>;
  maxMessageSize?: number;
  logLevel: string;
  workers: number;
  storage: number;
}

export function parseDevArgs(argv: string[]): DevOptions {
  const { values, positionals } = parseOrUsage({
    args: argv,
    options: {
      data: { type: "string" },
      "imaps-port": { type: "string" },
      "imap-port": { type: "string" },
      host: { type: "string" },
      user: { type: "string", multiple: true },
      "max-message-size": { type: "string" },
      "log-level": { type: "string" },
      workers: { type: "string" },
      storage: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
  const users = (values.user ?? []).map((spec) => {
    const colon = spec.indexOf(":");
    if (colon < 0) throw new UsageError(`--user expects NAME:PASSWORD, got ${JSON.stringify(spec.split(":")[0])}`);
    const name = spec.slice(0, colon);
    const password = spec.slice(colon + 1);
    const problem = usernameProblem(name);
    if (problem) throw new UsageError(`--user: ${problem}`);
    if (password.length === 0) throw new UsageError(`--user ${name}: empty password`);
    return { name, password };
  });
  // Users are created concurrently, so a name given twice is settled here: the last --user wins.
  const lastPerName = [...new Map(users.map((u) => [u.name, u])).values()];
  const logLevel = values["log-level"] ?? process.env.CHARON_LOG_LEVEL ?? "info";
  if (!isLogLevel(logLevel)) throw new UsageError(`--log-level: unknown level ${logLevel}`);
  const host = values.host ?? "127.0.0.1";
  if (host.length === 0) throw new UsageError("--host: empty");
  return {
    help: values.help ?? false,
    dataDir: path.resolve(values.data ?? DEFAULT_DATA_DIR),
    host,
    imapsPort: parsePort("imaps-port", values["imaps-port"], DEFAULT_IMAPS_PORT),
    imapPort: parsePort("imap-port", values["imap-port"], DEFAULT_IMAP_PORT),
    users: lastPerName,
    maxMessageSize: parseSize("max-message-size", values["max-message-size"]),
    logLevel,
    workers: parseCount("workers", values.workers, DEFAULT_WORKERS, 1),
    storage: parseCount("storage", values.storage, DEFAULT_STORAGE, 0),
  };
}

function parseCount(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,2}$/.test(value) || Number(value) < min) throw new UsageError(`--${name}: expected a number from ${min} to 99, got ${value}`);
  return Number(value);
}

/** Clients reach a wildcard listener over loopback, so the ready line names loopback. */
export function displayHost(bound: string): string {
  if (bound === "0.0.0.0") return "127.0.0.1";
  if (bound === "::") return "::1";
  return bound;
}

export interface RunningDev {
  readonly configFile: string;
  readonly endpoints: { imaps: HostPort; imap: HostPort };
  readonly users: UserDirectory;
  /** In the order of the configuration: the distributor, the workers, the storage nodes. */
  readonly nodes: readonly NodeProcess[];
  /** Stops every node it started: the distributor first, then the mail nodes. */
  close(): Promise<void>;
}

/**
 * Generates the configuration, certificates and users under the data
 * directory, starts the nodes, and prints one `node ...` line per node, the
 * user line (demo) and the ready line.
 */
export async function startDev(opts: DevOptions, io: CliIo, log: Logger): Promise<RunningDev> {
  await fs.mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const size = opts.maxMessageSize;
  const { path: configFile, config } = await generateDevConfig({
    dir: opts.dataDir,
    workers: opts.workers,
    storage: opts.storage,
    host: opts.host,
    imapsPort: opts.imapsPort,
    imapPort: opts.imapPort,
    logLevel: opts.logLevel,
    limits: size ? { maxAppendSize: size, maxLiteralSize: size } : undefined,
  });
  // Refuse a taken client port before anything starts, naming it.
  const distributor = config.nodes.find((n) => n.role === "distributor")!;
  await checkPortsFree(config, distributor.name);
  for (const e of await initClusterCerts(config)) if (e.action === "created") log.info({ what: e.what, node: e.name, cert: e.cert }, "certificate created");

  const users = await UserDirectory.open(config.users);
  // scrypt is the cost here (tens of ms a user): the directory hashes on its
  // own threads, so hashing them all at once keeps every thread busy, and it
  // still writes the file one change at a time.
  // Settled, not raced: a failure is reported only once no upsert is left writing the file.
  const upserts = await Promise.allSettled(
    opts.users.map(async ({ name, password }) => {
      const created = await users.upsertUser(name, password);
      log.info({ user: name }, created ? "user created" : "user password reset");
    }),
  );
  const failed = upserts.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
  let demoPassword: string | undefined;
  if (opts.users.length === 0) {
    demoPassword = randomPassword();
    await users.upsertUser(DEMO_USER, demoPassword);
  }

  const started: NodeProcess[] = [];
  const stopAll = async () => {
    const [dist, mail] = [started.filter((p) => p.role === "distributor"), started.filter((p) => p.role !== "distributor")];
    // Distributors first, so that no new session lands on a node that is going away.
    await Promise.all(dist.map((p) => stopNode(p)));
    await Promise.all(mail.map((p) => stopNode(p)));
    await users.close();
  };
  // Every node of this cluster runs on this host.
  const nodeFlags = sharedHostNodeFlags(config.nodes.length);
  const spawn = async (name: string, role: string) => {
    const p = await spawnNode({ role, name, configFile, logLevel: opts.logLevel, nodeFlags });
    started.push(p);
    p.exited.then(({ code, signal }) => {
      if (!closing) log.warn({ child: name, childRole: role, code, signal }, "node exited; the others keep running (restart it with the command printed at start)");
    });
    return p;
  };
  let closing = false;
  try {
    const mailNodes = config.nodes.filter((n) => n.role !== "distributor");
    const results = await Promise.allSettled(mailNodes.map((n) => spawn(n.name, n.role)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    // A node's ready line means it listens; a worker serves sessions only once it has caught up with storage.
    await Promise.all(
      started.map(async (p) => {
        const reason = await untilReady(p, READY_TIMEOUT_MS);
        if (reason) log.warn({ child: p.name, reason }, "node not ready yet; its users are served by storage meanwhile");
      }),
    );
    await spawn(distributor.name, "distributor");
  } catch (err) {
    closing = true;
    await stopAll();
    throw err;
  }
  // In the order of the configuration, whatever order they became ready in.
  started.sort((a, b) => config.nodes.findIndex((n) => n.name === a.name) - config.nodes.findIndex((n) => n.name === b.name));
  for (const p of started) {
    const admin = p.ready.admin ? `http://${p.ready.admin}` : "none";
    io.out(`node ${p.name} role=${p.role} pid=${p.pid} admin=${admin} restart="${p.command.map(shellQuote).join(" ")}"`);
  }
  if (demoPassword) io.out(`user ${DEMO_USER} password ${demoPassword}`);
  const dist = started.find((p) => p.role === "distributor")!;
  const endpoints = { imaps: readyAddress(dist, "imaps"), imap: readyAddress(dist, "imap") };
  io.out(`ready imaps=${displayHost(endpoints.imaps.host)}:${endpoints.imaps.port} imap=${displayHost(endpoints.imap.host)}:${endpoints.imap.port}`);
  let closed: Promise<void> | undefined;
  return {
    configFile,
    endpoints,
    users,
    nodes: started,
    close() {
      closing = true;
      closed ??= stopAll();
      return closed;
    },
  };
}

/** How long `charon dev` waits for each mail node's /readyz (a worker's catch-up gate opens within ~3 s). */
const READY_TIMEOUT_MS = 15_000;

/** Polls the node's /readyz until it answers 200; resolves with the last reason when `timeoutMs` passes first. */
async function untilReady(p: NodeProcess, timeoutMs: number): Promise<string | undefined> {
  if (!p.ready.admin) return undefined;
  const deadline = Date.now() + timeoutMs;
  let reason = "no answer";
  for (;;) {
    try {
      const res = await fetch(`http://${p.ready.admin}/readyz`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return undefined;
      reason = (await res.text()).trim();
    } catch (err) {
      reason = (err as Error).message;
    }
    if (Date.now() >= deadline) return reason;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function readyAddress(p: NodeProcess, key: string): HostPort {
  const hp = p.ready[key] ? parseHostPort(p.ready[key], false) : undefined;
  if (!hp || typeof hp === "string") throw new Error(`${p.name} printed no ${key} address`);
  return hp;
}
