// Resource limits of one node. They bound memory per connection (DESIGN.md
// invariant 5) and set the timeouts RFC 3501 asks for.

export const MiB = 1024 * 1024;

export interface Limits {
  /** Longest command line, excluding literals. */
  maxLineLength: number;
  /** Largest literal in any command. */
  maxLiteralSize: number;
  /** Largest message APPEND accepts; also the store's maximum message size. */
  maxAppendSize: number;
  /**
   * Inactivity (no bytes from the client) before autologout. RFC 3501 §5.4: at
   * least 30 minutes, IDLE included; clients re-issue IDLE every 29 minutes.
   */
  idleTimeoutMs: number;
  /** A TLS handshake that has not finished by then is dropped. */
  tlsHandshakeTimeoutMs: number;
  /** On shutdown, how long sessions get to receive BYE before their sockets are destroyed. */
  shutdownGraceMs: number;
  /** Connections per listener; more are refused at accept. */
  maxConnections: number;
  /** Commands that take longer (read to tagged response) are logged at warn level. */
  slowCommandMs: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxLineLength: 65536,
  maxLiteralSize: 64 * MiB,
  maxAppendSize: 64 * MiB,
  idleTimeoutMs: 31 * 60 * 1000,
  tlsHandshakeTimeoutMs: 30_000,
  shutdownGraceMs: 5_000,
  maxConnections: 10_000,
  slowCommandMs: 1_000,
});

/** Fills in defaults and rejects nonsense (zero, negative or non-integer sizes). */
export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  const limits: Limits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(overrides) as Array<[keyof Limits, number | undefined]>) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_LIMITS)) throw new Error(`unknown limit ${key}`);
    if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`limit ${key} must be a positive integer, got ${value}`);
    limits[key] = value;
  }
  if (limits.maxLineLength < 1024) throw new Error("maxLineLength must be at least 1024 (RFC 7162 §4 recommends 8192)");
  return limits;
}
