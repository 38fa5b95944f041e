// The metric families an operator can count on (issue 5), by where they are
// exported. The dashboard, the deploy checks and the tests all read this list,
// so a family renamed in src/metrics/index.ts is caught in one place.
export const EVERY_NODE_FAMILIES = [
  "charon_sessions_active",
  "charon_connections_total",
  "charon_commands_total",
  "charon_command_duration_seconds",
  "charon_auth_failures_total",
  "charon_tls_handshake_failures_total",
  "charon_relayed_bytes_total",
  "charon_event_loop_lag_seconds",
  // process metrics from prom-client's collectDefaultMetrics, with our prefix
  "charon_process_cpu_seconds_total",
  "charon_process_resident_memory_bytes",
] as const;

/** Only nodes that hold mail (workers and storage) have a LevelDB to measure. */
export const MAIL_NODE_FAMILIES = ["charon_leveldb_size_bytes"] as const;
