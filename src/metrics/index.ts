// Prometheus metrics of one node. Every node object gets its own Registry:
// tests run several nodes in one process, so the global default registry is
// never used. Names follow the Prometheus conventions (_total, _seconds, _bytes)
// and carry the default labels node and role.
import { promises as fs } from "node:fs";
import path from "node:path";
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { CommandStatus, SessionObserver } from "../imap/observer";

export interface MetricsLabels {
  node: string;
  role: string;
}

export type RelayDirection = "in" | "out";

/** Seconds; IMAP commands range from sub-millisecond NOOPs to large FETCHes and APPENDs. */
export const COMMAND_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface Metrics {
  readonly registry: Registry;
  readonly labels: Readonly<MetricsLabels>;
  readonly sessionsActive: Gauge;
  readonly connectionsTotal: Counter;
  readonly commandsTotal: Counter<"command" | "status">;
  readonly commandDuration: Histogram<"command">;
  readonly authFailures: Counter<"reason">;
  readonly tlsHandshakeFailures: Counter;
  readonly relayedBytes: Counter<"direction">;
  readonly leveldbSize: Gauge;
  readonly eventLoopLag: Gauge;
  /** A SessionObserver that feeds these metrics (pass as `observer` in SessionOptions). */
  sessionObserver(): SessionObserver;
  /** For SessionListenerOptions.countRelayed ("in": client to node). */
  countRelayed(direction: RelayDirection, bytes: number): void;
  tlsHandshakeFailed(): void;
  /** Adds a directory whose file sizes (recursively) make up charon_leveldb_size_bytes at each scrape. */
  watchDirectorySize(dir: string): void;
  /** Prometheus text exposition. */
  text(): Promise<string>;
  readonly contentType: string;
  /** Stops the event-loop monitor. The registry stays readable. */
  close(): void;
}

/** Command label values are bounded by the session already; this keeps a foreign caller honest too. */
function commandLabel(name: string): string {
  return /^(UID )?[A-Z]{1,20}$/.test(name) ? name : "UNKNOWN";
}

function reasonLabel(reason: string): string {
  return /^[a-z_]{1,32}$/.test(reason) ? reason : "other";
}

/** Total size of the regular files under `dir`; a missing directory counts 0. */
export async function directorySize(dir: string): Promise<number> {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw err;
  }
  let total = 0;
  for (const e of entries) {
    const p = path.join(dir, e.name);
    try {
      if (e.isDirectory()) total += await directorySize(p);
      else if (e.isFile()) total += (await fs.stat(p)).size;
    } catch (err) {
      // LevelDB compaction deletes files between readdir and stat.
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  return total;
}

export function createMetrics(labels: MetricsLabels): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: labels.node, role: labels.role });
  collectDefaultMetrics({ register: registry, prefix: "charon_" });
  const registers = [registry];

  const sessionsActive = new Gauge({
    name: "charon_sessions_active",
    help: "IMAP sessions currently open on this node",
    registers,
  });
  const connectionsTotal = new Counter({
    name: "charon_connections_total",
    help: "IMAP sessions opened since the node started",
    registers,
  });
  const commandsTotal = new Counter({
    name: "charon_commands_total",
    help: "IMAP commands completed, by command name and tagged status",
    labelNames: ["command", "status"] as const,
    registers,
  });
  const commandDuration = new Histogram({
    name: "charon_command_duration_seconds",
    help: "Time from reading an IMAP command to its tagged response",
    labelNames: ["command"] as const,
    buckets: COMMAND_BUCKETS,
    registers,
  });
  const authFailures = new Counter({
    name: "charon_auth_failures_total",
    help: "Failed LOGIN/AUTHENTICATE attempts, by reason (the response code, lower-case)",
    labelNames: ["reason"] as const,
    registers,
  });
  const tlsHandshakeFailures = new Counter({
    name: "charon_tls_handshake_failures_total",
    help: "TLS handshakes that failed (implicit TLS and STARTTLS)",
    registers,
  });
  const relayedBytes = new Counter({
    name: "charon_relayed_bytes_total",
    help: "Bytes relayed between clients and mail nodes (in: client to node, out: node to client)",
    labelNames: ["direction"] as const,
    registers,
  });
  relayedBytes.inc({ direction: "in" }, 0);
  relayedBytes.inc({ direction: "out" }, 0);

  const watched = new Set<string>();
  const leveldbSize = new Gauge({
    name: "charon_leveldb_size_bytes",
    help: "Size on disk of this node's LevelDB data",
    registers,
    async collect() {
      let total = 0;
      for (const dir of watched) total += await directorySize(dir);
      this.set(total);
    },
  });

  const loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const eventLoopLag = new Gauge({
    name: "charon_event_loop_lag_seconds",
    help: "Mean event-loop delay since the previous scrape (perf_hooks monitorEventLoopDelay)",
    registers,
    collect() {
      const mean = loopDelay.count > 0 ? loopDelay.mean : 0;
      this.set(Number.isFinite(mean) ? mean / 1e9 : 0);
      loopDelay.reset();
    },
  });

  const observer: SessionObserver = {
    sessionOpened() {
      sessionsActive.inc();
      connectionsTotal.inc();
    },
    sessionClosed() {
      sessionsActive.dec();
    },
    commandDone(name: string, status: CommandStatus, seconds: number) {
      const command = commandLabel(name);
      commandsTotal.inc({ command, status });
      commandDuration.observe({ command }, seconds);
    },
    authFailed(reason: string) {
      authFailures.inc({ reason: reasonLabel(reason) });
    },
    tlsHandshakeFailed() {
      tlsHandshakeFailures.inc();
    },
  };

  return {
    registry,
    labels: Object.freeze({ ...labels }),
    sessionsActive,
    connectionsTotal,
    commandsTotal,
    commandDuration,
    authFailures,
    tlsHandshakeFailures,
    relayedBytes,
    leveldbSize,
    eventLoopLag,
    sessionObserver: () => observer,
    countRelayed(direction, bytes) {
      if (bytes > 0) relayedBytes.inc({ direction }, bytes);
    },
    tlsHandshakeFailed: () => tlsHandshakeFailures.inc(),
    watchDirectorySize(dir) {
      watched.add(path.resolve(dir));
    },
    text: () => registry.metrics(),
    contentType: registry.contentType,
    close() {
      loopDelay.disable();
    },
  };
}
