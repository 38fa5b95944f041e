// Replication metrics of a mail node (issue 4), on the node's registry, bound
// to the Replicator's hooks. `peer` is a node name: bounded by the cluster size.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { ReplicatorMetrics } from "../replication/replicator";

export const REPLICATION_FAMILIES = [
  "charon_replication_lag_seconds",
  "charon_replication_ack_seconds",
  "charon_replication_outbox_ops",
  "charon_replication_ops_sent_total",
  "charon_replication_ops_applied_total",
  "charon_replication_ops_buffered",
  "charon_replication_bytes_shipped_total",
  "charon_replication_snapshots_total",
  "charon_replication_ops_compacted_total",
  "charon_tombstones_purged_total",
  "charon_uid_reassignments_total",
  "charon_uidvalidity_changes_total",
] as const;

export function replicationMetrics(registry: Registry): ReplicatorMetrics {
  const registers = [registry];
  const lag = new Gauge({ name: "charon_replication_lag_seconds", help: "Age of the oldest live op a peer has not acknowledged", labelNames: ["peer"] as const, registers });
  const ack = new Histogram({
    name: "charon_replication_ack_seconds",
    help: "Time from shipping a live op to the peer's acknowledgement",
    labelNames: ["peer"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const outbox = new Gauge({ name: "charon_replication_outbox_ops", help: "Live ops shipped to a peer and not yet acknowledged", labelNames: ["peer"] as const, registers });
  const sent = new Counter({ name: "charon_replication_ops_sent_total", help: "Ops shipped to peers (live and anti-entropy)", labelNames: ["peer"] as const, registers });
  const applied = new Counter({ name: "charon_replication_ops_applied_total", help: "Ops from peers applied here", registers });
  const buffered = new Gauge({ name: "charon_replication_ops_buffered", help: "Ops from peers waiting for their causal context", registers });
  const bytes = new Counter({ name: "charon_replication_bytes_shipped_total", help: "Bytes of replication messages sent, blobs included", labelNames: ["peer"] as const, registers });
  const snapshots = new Counter({ name: "charon_replication_snapshots_total", help: "State snapshots sent to peers whose ops were compacted away", registers });
  const compacted = new Counter({ name: "charon_replication_ops_compacted_total", help: "Ops removed from the op log by compaction (every replica had acknowledged them)", registers });
  const purged = new Counter({
    name: "charon_tombstones_purged_total",
    help: "Expunged messages dropped from memory once every replica had their removal and every op concurrent with it",
    registers,
  });
  const reassigned = new Counter({ name: "charon_uid_reassignments_total", help: "Messages given a fresh UID after concurrent writes claimed the same one", registers });
  const uidValidity = new Counter({
    name: "charon_uidvalidity_changes_total",
    help: "UIDVALIDITY changes (the last resort of DESIGN.md; reassignment has always sufficed so far)",
    registers,
  });
  for (const c of [applied, snapshots, compacted, purged, reassigned, uidValidity]) c.inc(0);
  return {
    lag: (peer, s) => lag.set({ peer }, s),
    ackLatency: (peer, s) => ack.observe({ peer }, s),
    outboxDepth: (peer, n) => outbox.set({ peer }, n),
    opsSent: (peer, n) => sent.inc({ peer }, n),
    bytesShipped: (peer, n) => bytes.inc({ peer }, n),
    opsApplied: (n) => applied.inc(n),
    opsBuffered: (n) => buffered.set(n),
    uidReassigned: (n) => reassigned.inc(n),
    snapshotSent: () => snapshots.inc(),
    opsCompacted: (n) => compacted.inc(n),
    tombstonesPurged: (n) => purged.inc(n),
  };
}
