// `charon certs init --config FILE [--force]`: creates the cluster CA, one
// certificate per node with its role, and a self-signed public certificate.
// stdout: one line per file pair, "created ..." or "kept ...".
import { ConfigError } from "../config/errors";
import { loadClusterConfig } from "../config/cluster";
import { formatCertsInitEntry, initClusterCerts } from "../tls/cluster-certs";
import { parseOrUsage, type CliIo } from "./args";
import { CERTS_HELP, EXIT_OK, UsageError } from "./usage";

export interface CertsCommand {
  help: boolean;
  action?: "init";
  config?: string;
  force: boolean;
}

export function parseCertsArgs(argv: string[]): CertsCommand {
  const { values, positionals } = parseOrUsage({
    args: argv,
    options: {
      config: { type: "string", short: "c" },
      force: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  const cmd: CertsCommand = { help: values.help ?? false, config: values.config, force: values.force ?? false };
  if (cmd.help) return cmd;
  const [action, ...rest] = positionals;
  if (!action) throw new UsageError("missing action: init");
  if (action !== "init") throw new UsageError(`unknown action: ${action}`);
  if (rest.length > 0) throw new UsageError(`unexpected argument: ${rest[0]}`);
  cmd.action = action;
  if (!cmd.config) throw new UsageError("init needs --config FILE");
  return cmd;
}

/** Prints a ConfigError the way every command does, and returns its exit code. */
export function reportConfigError(err: ConfigError, io: CliIo): number {
  io.err(`charon: configuration error: ${err.message}`);
  return err.exitCode;
}

export async function runCerts(argv: string[], io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const cmd = parseCertsArgs(argv);
  if (cmd.help) {
    io.out(CERTS_HELP.trimEnd());
    return EXIT_OK;
  }
  try {
    const config = await loadClusterConfig(cmd.config!, env);
    const entries = await initClusterCerts(config, { force: cmd.force });
    for (const e of entries) io.out(formatCertsInitEntry(e));
    return EXIT_OK;
  } catch (err) {
    if (err instanceof ConfigError) return reportConfigError(err, io);
    throw err;
  }
}
