#!/usr/bin/env node
// The `charon` command. stdout carries only machine-readable lines (ready,
// generated passwords, user lists); logs and errors go to stderr.
import { readFileSync } from "node:fs";
import path from "node:path";
import { createLogger } from "../log/logger";
import type { LevelWithSilent } from "pino";
import type { CliIo } from "./args";
import { ConfigError } from "../config/errors";
import { reportConfigError, runCerts } from "./certs";
import { parseDevArgs, startDev } from "./dev";
import { runNode, type NodeCommand } from "./node-cli";
import { runRoute } from "./route";
import { catchStopSignals } from "./signals";
import { runUser } from "./user";
import { DEV_HELP, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, MAIN_HELP, UsageError } from "./usage";

/** The package version, found by walking up from this file (src/cli in the tree, dist/src/cli when built). */
function packageVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "charon" && pkg.version) return pkg.version;
    } catch {
      // not here; keep walking
    }
    if (path.dirname(dir) === dir) return "unknown";
  }
}

const processIo: CliIo = {
  out: (line) => process.stdout.write(line + "\n"),
  err: (line) => process.stderr.write(line + "\n"),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  },
};

async function runDev(argv: string[], io: CliIo): Promise<number | "running"> {
  const opts = parseDevArgs(argv);
  if (opts.help) {
    io.out(DEV_HELP.trimEnd());
    return EXIT_OK;
  }
  const log = createLogger({ level: opts.logLevel as LevelWithSilent, node: "dev", role: "all" });
  const signals = catchStopSignals(log);
  try {
    const cluster = await startDev(opts, io, log);
    return signals.runUntil(cluster);
  } catch (err) {
    signals.release();
    if (err instanceof ConfigError) return reportConfigError(err, io);
    throw err;
  }
}

export async function main(argv: string[], io: CliIo = processIo): Promise<number | "running"> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
        io.err(MAIN_HELP.trimEnd());
        return EXIT_USAGE;
      case "-h":
      case "--help":
      case "help":
        io.out(MAIN_HELP.trimEnd());
        return EXIT_OK;
      case "-v":
      case "--version":
        io.out(packageVersion());
        return EXIT_OK;
      case "dev":
        return await runDev(rest, io);
      case "user": {
        return await runUser(rest, io);
      }
      case "certs":
        return await runCerts(rest, io);
      case "route":
        return await runRoute(rest, io);
      case "worker":
      case "storage":
      case "distributor":
        return await runNode(command as NodeCommand, rest, io);
      default:
        throw new UsageError(`unknown command: ${command}`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`charon: ${err.message}`);
      io.err(`Try 'charon ${command && !command.startsWith("-") ? command + " " : ""}--help'.`);
      return EXIT_USAGE;
    }
    io.err(`charon: ${(err as Error).message ?? String(err)}`);
    return EXIT_FAILURE;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    if (code !== "running") process.exitCode = code;
  });
}
