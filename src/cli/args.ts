import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./usage";

export interface CliIo {
  /** One line to stdout (machine-readable output only). */
  out(line: string): void;
  /** One line to stderr (human-readable errors). */
  err(line: string): void;
  readStdin(): Promise<string>;
}

export const DEFAULT_DATA_DIR = ".charon";

/** parseArgs, with its errors turned into usage errors. */
export function parseOrUsage<T extends ParseArgsConfig>(config: T) {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function parsePort(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new UsageError(`--${name}: not a port number: ${value}`);
  return Number(value);
}

export function parseSize(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+)([KMG]i?B?)?$/i.exec(value);
  if (!m) throw new UsageError(`--${name}: not a size: ${value} (bytes, or e.g. 64MiB)`);
  const unit = (m[2] ?? "").toUpperCase()[0];
  const factor = unit === "K" ? 1024 : unit === "M" ? 1024 ** 2 : unit === "G" ? 1024 ** 3 : 1;
  const n = Number(m[1]) * factor;
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${name}: out of range: ${value}`);
  return n;
}
