// `charon worker|storage|distributor --config FILE --name NAME`: one node of a
// cluster, as a Kubernetes pod or `charon dev` runs it.
import type { LevelWithSilent, Logger } from "pino";
import { startDistributor } from "../../distributor/distributor";
import { startStorage } from "../../storage/storage";
import { startWorker } from "../../worker/worker";
import { checkPortsFree, ConfigError, formatHostPort, loadClusterConfig, nodeByName } from "../config/cluster";
import type { ClusterConfig } from "../config/schema";
import { createLogger, isLogLevel } from "../log/logger";
import { applyScheduling } from "../node/scheduling";
import { parseOrUsage, type CliIo } from "./args";
import { reportConfigError } from "./certs";
import { exitWithSupervisor } from "./node-process";
import { catchStopSignals, type StopSignals } from "./signals";
import { EXIT_OK, UsageError } from "./usage";

export type NodeCommand = "worker" | "storage" | "distributor";

export const NODE_COMMANDS: readonly NodeCommand[] = ["worker", "storage", "distributor"];

export const nodeHelp = (role: NodeCommand) => `Usage: charon ${role} --config FILE --name NAME [--log-level LEVEL]

Runs the ${role} node NAME of the cluster described in FILE (YAML). NAME may
also come from CHARON_NODE (a StatefulSet pod name, say). Prints
"ready ${role} name=NAME ..." on stdout once it serves; logs are JSON lines on
stderr. A bad configuration is refused with a message naming the key.
SIGTERM or SIGINT: sessions get "* BYE", the store is closed, exit code 0.
`;

export async function runNode(role: NodeCommand, argv: string[], io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number | "running"> {
  const { values, positionals } = parseOrUsage({
    args: argv,
    options: {
      config: { type: "string" },
      name: { type: "string" },
      "log-level": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(nodeHelp(role).trimEnd());
    return EXIT_OK;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
  const configFile = values.config ?? env.CHARON_CONFIG;
  if (!configFile) throw new UsageError("--config FILE is required");
  const name = values.name ?? env.CHARON_NODE;
  if (!name) throw new UsageError("--name NAME (or CHARON_NODE) is required");
  const levelArg = values["log-level"] ?? env.CHARON_LOG_LEVEL;
  if (levelArg !== undefined && !isLogLevel(levelArg)) throw new UsageError(`--log-level: unknown level ${levelArg}`);

  let config;
  try {
    config = await loadClusterConfig(configFile, env, { nodeName: name });
    const entry = nodeByName(config, name);
    if (entry.role !== role) throw new ConfigError("--name", `node ${name} is a ${entry.role}, not a ${role}`, "value");
    await checkPortsFree(config, name);
  } catch (err) {
    if (err instanceof ConfigError) return reportConfigError(err, io);
    throw err;
  }
  const log = createLogger({ level: (levelArg ?? config.logLevel) as LevelWithSilent, node: name, role });
  const signals = catchStopSignals(log);
  try {
    return await startAndServe(role, config, name, log, io, signals);
  } catch (err) {
    signals.release();
    throw err;
  }
}

async function startAndServe(role: NodeCommand, config: ClusterConfig, name: string, log: Logger, io: CliIo, signals: StopSignals): Promise<"running"> {
  const { node, ready } = await startRole(role, config, name, log);
  // After the start: libuv's pool exists by then and keeps the normal policy.
  await applyScheduling(config.scheduling, log);
  io.out(ready);
  exitWithSupervisor();
  return signals.runUntil(node);
}

/** Starts the node and says what its ready line announces. */
async function startRole(role: NodeCommand, config: ClusterConfig, name: string, log: Logger) {
  if (role === "distributor") {
    const d = await startDistributor({ config, name, log });
    const { imaps, imap } = d.endpoints;
    const parts = [`ready distributor name=${name}`];
    if (imaps) parts.push(`imaps=${formatHostPort(imaps)}`);
    if (imap) parts.push(`imap=${formatHostPort(imap)}`);
    parts.push(`admin=${formatHostPort(d.admin)}`);
    return { node: d, ready: parts.join(" ") };
  }
  const n = await (role === "worker" ? startWorker : startStorage)({ config, name, log });
  return { node: n, ready: `ready ${role} name=${name} internal=${formatHostPort(n.internal)} admin=${formatHostPort(n.admin)}` };
}
