// JSON logs on stderr, so stdout stays free for machine-readable lines such as
// the CLI's `ready ...`.
import pino, { type Logger, type LevelWithSilent } from "pino";

export type { Logger } from "pino";

const SECRET_KEYS = ["password", "pass", "passwd", "secret", "token", "authorization", "key"];

/** Secret-looking fields at the top level and up to two levels down. */
export const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Node name (the host name in a cluster). */
  node?: string;
  role?: string;
  /** Where lines go; defaults to stderr, written synchronously so nothing is lost on exit. */
  destination?: pino.DestinationStream;
}

export const LOG_LEVELS: readonly LevelWithSilent[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export function isLogLevel(value: string): value is LevelWithSilent {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const base: Record<string, string> = {};
  if (opts.node) base.node = opts.node;
  if (opts.role) base.role = opts.role;
  return pino(
    {
      level: opts.level ?? "info",
      base,
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

/** A session's logger; the session adds `user` with `.child({ user })` once it knows who logged in. */
export function sessionLogger(parent: Logger, session: string, fields: Record<string, unknown> = {}): Logger {
  return parent.child({ session, ...fields });
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
