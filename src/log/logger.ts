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

/**
 * A session's logger; the session adds `user` with `.child({ user })` once it
 * knows who logged in. The pino children are built on first use: a child
 * serialises and redacts its bindings when it is made, which was ~3% of the
 * distributor's CPU (one child per connection, one per login), and most
 * sessions never log anything at the configured level.
 */
export function sessionLogger(parent: Logger, session: string, fields: Record<string, unknown> = {}): Logger {
  return lazyChild(parent, () => parent.child({ session, ...fields }));
}

const LEVEL_METHODS: ReadonlySet<string> = new Set(["fatal", "error", "warn", "info", "debug", "trace"]);
const noop = () => undefined;

/** A child of `root` that `make` builds when something is logged at an enabled level, or asked of it. */
function lazyChild(root: Logger, make: () => Logger): Logger {
  let built: Logger | undefined;
  const real = () => (built ??= make());
  return new Proxy({} as Logger, {
    get(_target, prop) {
      if (prop === "child") return (bindings: pino.Bindings) => lazyChild(root, () => real().child(bindings));
      if (!built && typeof prop === "string") {
        if (LEVEL_METHODS.has(prop) && !root.isLevelEnabled(prop)) return noop;
        if (prop === "isLevelEnabled") return root.isLevelEnabled.bind(root);
        if (prop === "level") return root.level;
      }
      const target = real();
      const value: unknown = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
