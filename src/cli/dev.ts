// `charon dev`: one node on loopback, ready for a mail client.
import path from "node:path";
import type { Logger } from "pino";
import { randomPassword } from "../auth/password";
import { usernameProblem } from "../auth/username";
import { isLogLevel } from "../log/logger";
import { startNode, type RunningNode } from "../../worker/node";
import { DEFAULT_DATA_DIR, parseOrUsage, parsePort, parseSize, type CliIo } from "./args";
import { UsageError } from "./usage";

export const DEFAULT_IMAPS_PORT = 1993;
export const DEFAULT_IMAP_PORT = 1143;
export const DEMO_USER = "demo";

export interface DevOptions {
  help: boolean;
  dataDir: string;
  host: string;
  imapsPort: number;
  imapPort: number;
  users: Array<{ name: string; password: string }>;
  maxMessageSize?: number;
  logLevel: string;
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
    users,
    maxMessageSize: parseSize("max-message-size", values["max-message-size"]),
    logLevel,
  };
}

/** Clients reach a wildcard listener over loopback, so the ready line names loopback. */
export function displayHost(bound: string): string {
  if (bound === "0.0.0.0") return "127.0.0.1";
  if (bound === "::") return "::1";
  return bound;
}

/** Starts the node, creates or resets the users, prints the user and ready lines. */
export async function startDev(opts: DevOptions, io: CliIo, log: Logger): Promise<RunningNode> {
  const size = opts.maxMessageSize;
  const node = await startNode({
    dataDir: opts.dataDir,
    log,
    listen: {
      imaps: { host: opts.host, port: opts.imapsPort },
      imap: { host: opts.host, port: opts.imapPort },
    },
    limits: size ? { maxAppendSize: size, maxLiteralSize: size } : {},
  });
  try {
    for (const { name, password } of opts.users) {
      const created = await node.users.upsertUser(name, password);
      log.info({ user: name }, created ? "user created" : "user password reset");
    }
    if (opts.users.length === 0) {
      const password = randomPassword();
      await node.users.upsertUser(DEMO_USER, password);
      io.out(`user ${DEMO_USER} password ${password}`);
    }
  } catch (err) {
    await node.close();
    throw err;
  }
  const { imaps, imap } = node.endpoints;
  io.out(`ready imaps=${displayHost(imaps!.host)}:${imaps!.port} imap=${displayHost(imap!.host)}:${imap!.port}`);
  return node;
}
