// The typed schema of the cluster configuration (cluster.yaml) and the
// validator that turns the parsed YAML into a ClusterConfig or throws a
// ConfigError naming the key and the problem. The same schema drives the
// environment overrides (env-overrides.ts), so both agree on key names and types.
import path from "node:path";
import { DEFAULT_LIMITS, resolveLimits, type Limits } from "./limits";
import { ConfigError } from "./errors";

export const CLUSTER_ROLES = ["distributor", "worker", "storage"] as const;
export type ClusterRole = (typeof CLUSTER_ROLES)[number];

export const DURABILITY_MODES = ["local", "replicated"] as const;
export type Durability = (typeof DURABILITY_MODES)[number];

/** How each node's event-loop thread is scheduled by Linux (src/node/scheduling.ts). */
export const SCHEDULING_POLICIES = ["batch", "normal"] as const;
export type SchedulingPolicy = (typeof SCHEDULING_POLICIES)[number];

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface HostPort {
  host: string;
  port: number;
}

export interface NodeConfig {
  name: string;
  role: ClusterRole;
  /** Internal mutual-TLS listener. Required for workers and storage nodes. */
  internal?: HostPort;
  /** Implicit-TLS client listener (distributors only). Port 0 = any free port. */
  imaps?: HostPort;
  /** Plain client listener offering STARTTLS (distributors only). Port 0 = any free port. */
  imap?: HostPort;
  /** Admin HTTP listener: /healthz /readyz /metrics. Port 0 = any free port. */
  admin?: HostPort;
  /** Absolute data directory; defaults to <config dir>/data/<name>. */
  data: string;
}

export interface TlsConfig {
  /** Absolute path of the cluster CA certificate. */
  ca: string;
  /** Absolute path of the CA private key (only `charon certs init` needs it). */
  caKey: string;
  /** Absolute directory holding <node>.crt and <node>.key. */
  nodeCerts: string;
  /** Client-facing certificate of the distributors. */
  public: { cert: string; key: string };
}

export interface AuthConfig {
  maxFailuresPerIp: number;
  maxFailuresPerUser: number;
  windowSeconds: number;
  delayMs: number;
}

export interface ReplicationConfig {
  /** Storage nodes that keep each user (picked by rendezvous hashing); 0 means every storage node. */
  storageReplicas: number;
  /** How often a node looks for op logs to compact. */
  compactEveryMs: number;
  /** A user's log is compacted once at least this many ops are acknowledged by every replica. */
  compactMinOps: number;
  /** How often a node takes its users' tombstones a step towards purging (three steps purge them). */
  purgeEveryMs: number;
}

export const DEFAULT_REPLICATION: Readonly<ReplicationConfig> = Object.freeze({
  storageReplicas: 0,
  compactEveryMs: 10_000,
  compactMinOps: 1000,
  purgeEveryMs: 2_000,
});

export const DEFAULT_AUTH: Readonly<AuthConfig> = Object.freeze({
  maxFailuresPerIp: 10,
  maxFailuresPerUser: 5,
  windowSeconds: 60,
  delayMs: 1000,
});

export interface ClusterConfig {
  /** Absolute path of the file it was loaded from, if any. */
  file?: string;
  /** Directory relative paths were resolved against. */
  baseDir: string;
  cluster: { name: string };
  durability: Durability;
  tls: TlsConfig;
  /** Absolute path of the user directory file. */
  users: string;
  limits: Limits;
  auth: AuthConfig;
  replication: ReplicationConfig;
  nodes: NodeConfig[];
  logLevel: LogLevel;
  scheduling: SchedulingPolicy;
}

// ---------------------------------------------------------------------------
// Schema description (shared with the env overrides)

export type Spec =
  | { t: "string" }
  | { t: "path" }
  | { t: "int"; min: number }
  | { t: "enum"; values: readonly string[] }
  | { t: "hostport"; allowZero: boolean }
  | { t: "object"; fields: Record<string, Spec> }
  | { t: "nodes" };

const intSpec = (min: number): Spec => ({ t: "int", min });

export const NODE_SPEC: Record<string, Spec> = {
  name: { t: "string" },
  role: { t: "enum", values: CLUSTER_ROLES },
  internal: { t: "hostport", allowZero: false },
  imaps: { t: "hostport", allowZero: true },
  imap: { t: "hostport", allowZero: true },
  admin: { t: "hostport", allowZero: true },
  data: { t: "path" },
};

export const CLUSTER_SPEC: Record<string, Spec> = {
  cluster: { t: "object", fields: { name: { t: "string" } } },
  durability: { t: "enum", values: DURABILITY_MODES },
  tls: {
    t: "object",
    fields: {
      ca: { t: "path" },
      caKey: { t: "path" },
      nodeCerts: { t: "path" },
      public: { t: "object", fields: { cert: { t: "path" }, key: { t: "path" } } },
    },
  },
  users: { t: "path" },
  limits: { t: "object", fields: Object.fromEntries(Object.keys(DEFAULT_LIMITS).map((k) => [k, intSpec(1)])) },
  auth: { t: "object", fields: Object.fromEntries(Object.keys(DEFAULT_AUTH).map((k) => [k, intSpec(k === "delayMs" ? 0 : 1)])) },
  replication: { t: "object", fields: Object.fromEntries(Object.keys(DEFAULT_REPLICATION).map((k) => [k, intSpec(k === "storageReplicas" ? 0 : 1)])) },
  nodes: { t: "nodes" },
  logLevel: { t: "enum", values: LOG_LEVELS },
  scheduling: { t: "enum", values: SCHEDULING_POLICIES },
};

const NODE_NAME = /^[A-Za-z0-9._-]{1,63}$/;

// ---------------------------------------------------------------------------
// host:port

/** Parses `host:port` or `[v6]:port`. Returns a problem string on failure. */
export function parseHostPort(value: string, allowZero: boolean): HostPort | string {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(value) ?? /^([A-Za-z0-9._-]+):(\d{1,5})$/.exec(value);
  if (!m) return `expected host:port (e.g. 127.0.0.1:7101 or [::1]:7101), got ${JSON.stringify(value)}`;
  const port = Number(m[2]);
  if (port > 65535) return `port ${port} is out of range (0-65535)`;
  if (port === 0 && !allowZero) return `port 0 is not allowed here: other nodes must know the port`;
  return { host: m[1], port };
}

export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(":") ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

// ---------------------------------------------------------------------------
// Validation

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${JSON.stringify(v)}`;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const join = (prefix: string, key: string) => (prefix ? `${prefix}.${key}` : key);

function checkKeys(obj: Record<string, unknown>, fields: Record<string, unknown>, prefix: string): void {
  for (const key of Object.keys(obj)) {
    if (Object.prototype.hasOwnProperty.call(fields, key)) continue;
    const near = Object.keys(fields).find((k) => k.toLowerCase() === key.toLowerCase());
    const hint = near ? ` (did you mean "${near}"?)` : ` (known keys: ${Object.keys(fields).join(", ")})`;
    throw new ConfigError(join(prefix, key), `unknown key${hint}`, "unknown-key");
  }
}

/** Validates one scalar against its spec; `undefined` stays undefined (the caller supplies defaults). */
function scalar(spec: Spec, value: unknown, key: string, baseDir: string): unknown {
  if (value === undefined) return undefined;
  switch (spec.t) {
    case "string":
      if (typeof value !== "string") throw new ConfigError(key, `expected a string, got ${typeName(value)}`, "type");
      if (value === "") throw new ConfigError(key, "must not be empty", "value");
      return value;
    case "path":
      if (typeof value !== "string") throw new ConfigError(key, `expected a path (string), got ${typeName(value)}`, "type");
      if (value === "") throw new ConfigError(key, "must not be empty", "value");
      return path.resolve(baseDir, value);
    case "int":
      if (typeof value !== "number") throw new ConfigError(key, `expected a number, got ${typeName(value)}`, "type");
      if (!Number.isSafeInteger(value)) throw new ConfigError(key, `expected an integer, got ${value}`, "value");
      if (value < spec.min) throw new ConfigError(key, `must be at least ${spec.min}, got ${value}`, "value");
      return value;
    case "enum":
      if (typeof value !== "string") throw new ConfigError(key, `expected one of ${spec.values.join(", ")}, got ${typeName(value)}`, "type");
      if (!spec.values.includes(value)) throw new ConfigError(key, `must be one of ${spec.values.join(", ")}, got ${JSON.stringify(value)}`, "value");
      return value;
    case "hostport": {
      if (typeof value !== "string") throw new ConfigError(key, `expected a string host:port, got ${typeName(value)}`, "type");
      const hp = parseHostPort(value, spec.allowZero);
      if (typeof hp === "string") throw new ConfigError(key, hp, "value");
      return hp;
    }
    default:
      throw new Error(`not a scalar spec: ${spec.t}`);
  }
}

function section(value: unknown, key: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (!isMapping(value)) throw new ConfigError(key, `expected a mapping, got ${typeName(value)}`, "type");
  return value;
}

function validateNode(raw: unknown, i: number, baseDir: string): NodeConfig {
  const key = `nodes[${i}]`;
  if (!isMapping(raw)) throw new ConfigError(key, `expected a mapping with name and role, got ${typeName(raw)}`, "type");
  checkKeys(raw, NODE_SPEC, key);
  const name = scalar(NODE_SPEC.name, raw.name, `${key}.name`, baseDir) as string | undefined;
  if (name === undefined) throw new ConfigError(`${key}.name`, "missing: every node needs a name", "missing");
  if (!NODE_NAME.test(name)) throw new ConfigError(`${key}.name`, `bad node name ${JSON.stringify(name)}: 1-63 of A-Z a-z 0-9 . _ -`, "value");
  const role = scalar(NODE_SPEC.role, raw.role, `${key}.role`, baseDir) as ClusterRole | undefined;
  if (role === undefined) throw new ConfigError(`${key}.role`, `missing: must be one of ${CLUSTER_ROLES.join(", ")}`, "missing");
  const node: NodeConfig = { name, role, data: path.resolve(baseDir, "data", name) };
  for (const field of ["internal", "imaps", "imap", "admin"] as const) {
    const hp = scalar(NODE_SPEC[field], raw[field], `${key}.${field}`, baseDir) as HostPort | undefined;
    if (hp) node[field] = hp;
  }
  const data = scalar(NODE_SPEC.data, raw.data, `${key}.data`, baseDir) as string | undefined;
  if (data) node.data = data;
  if (role !== "distributor" && !node.internal) {
    throw new ConfigError(`${key}.internal`, `missing: a ${role} node needs an internal host:port for the mutual-TLS listener`, "missing");
  }
  if (role !== "distributor") {
    for (const field of ["imaps", "imap"] as const) {
      if (raw[field] !== undefined) throw new ConfigError(`${key}.${field}`, `client listeners belong on distributors, not on a ${role}`, "value");
    }
  }
  if (role === "distributor" && !node.imaps && !node.imap) {
    throw new ConfigError(`${key}.imaps`, "missing: a distributor needs imaps or imap (or both)", "missing");
  }
  return node;
}

/** A section of integer settings (auth, replication): defaults, with each key the file sets checked against its spec. */
function intSection<T extends object>(raw: Record<string, unknown>, name: "auth" | "replication", defaults: Readonly<T>, baseDir: string): T {
  const sectionRaw = section(raw[name], name);
  const fields = (CLUSTER_SPEC[name] as { fields: Record<string, Spec> }).fields;
  checkKeys(sectionRaw, fields, name);
  const out = { ...defaults } as Record<string, number>;
  for (const k of Object.keys(sectionRaw)) {
    const v = scalar(fields[k], sectionRaw[k], `${name}.${k}`, baseDir) as number | undefined;
    if (v !== undefined) out[k] = v;
  }
  return out as T;
}

/** Turns parsed YAML (after env overrides) into a ClusterConfig; relative paths resolve against baseDir. */
export function validateClusterConfig(raw: unknown, baseDir: string): ClusterConfig {
  if (raw === null || raw === undefined) throw new ConfigError("nodes", "missing: the configuration is empty", "missing");
  if (!isMapping(raw)) throw new ConfigError("(top level)", `expected a mapping, got ${typeName(raw)}`, "type");
  checkKeys(raw, CLUSTER_SPEC, "");

  const clusterRaw = section(raw.cluster, "cluster");
  checkKeys(clusterRaw, (CLUSTER_SPEC.cluster as { fields: Record<string, Spec> }).fields, "cluster");
  const clusterName = (scalar({ t: "string" }, clusterRaw.name, "cluster.name", baseDir) as string | undefined) ?? "charon";

  const durability = (scalar(CLUSTER_SPEC.durability, raw.durability, "durability", baseDir) as Durability | undefined) ?? "local";

  const tlsRaw = section(raw.tls, "tls");
  const tlsFields = (CLUSTER_SPEC.tls as { fields: Record<string, Spec> }).fields;
  checkKeys(tlsRaw, tlsFields, "tls");
  const pubRaw = section(tlsRaw.public, "tls.public");
  checkKeys(pubRaw, (tlsFields.public as { fields: Record<string, Spec> }).fields, "tls.public");
  const p = (v: unknown, key: string, fallback: string) =>
    (scalar({ t: "path" }, v, key, baseDir) as string | undefined) ?? path.resolve(baseDir, fallback);
  const tls: TlsConfig = {
    ca: p(tlsRaw.ca, "tls.ca", "certs/ca.crt"),
    caKey: p(tlsRaw.caKey, "tls.caKey", "certs/ca.key"),
    nodeCerts: p(tlsRaw.nodeCerts, "tls.nodeCerts", "certs"),
    public: { cert: p(pubRaw.cert, "tls.public.cert", "certs/public.crt"), key: p(pubRaw.key, "tls.public.key", "certs/public.key") },
  };

  const users = p(raw.users, "users", "users.json");

  const limitsRaw = section(raw.limits, "limits");
  const limitFields = (CLUSTER_SPEC.limits as { fields: Record<string, Spec> }).fields;
  checkKeys(limitsRaw, limitFields, "limits");
  const limitOverrides: Partial<Limits> = {};
  for (const k of Object.keys(limitsRaw) as Array<keyof Limits>) {
    limitOverrides[k] = scalar(limitFields[k], limitsRaw[k], `limits.${k}`, baseDir) as number | undefined;
  }
  let limits: Limits;
  try {
    limits = resolveLimits(limitOverrides);
  } catch (err) {
    const msg = (err as Error).message;
    const k = Object.keys(DEFAULT_LIMITS).find((name) => msg.includes(name)) ?? "";
    throw new ConfigError(k ? `limits.${k}` : "limits", msg, "value");
  }

  const auth = intSection(raw, "auth", DEFAULT_AUTH, baseDir);
  const replication = intSection(raw, "replication", DEFAULT_REPLICATION, baseDir);

  const logLevel = (scalar(CLUSTER_SPEC.logLevel, raw.logLevel, "logLevel", baseDir) as LogLevel | undefined) ?? "info";
  const scheduling = (scalar(CLUSTER_SPEC.scheduling, raw.scheduling, "scheduling", baseDir) as SchedulingPolicy | undefined) ?? "batch";

  if (raw.nodes === undefined || raw.nodes === null) throw new ConfigError("nodes", "missing: list the cluster's nodes", "missing");
  if (!Array.isArray(raw.nodes)) throw new ConfigError("nodes", `expected a list of nodes, got ${typeName(raw.nodes)}`, "type");
  const nodes = raw.nodes.map((n, i) => validateNode(n, i, baseDir));

  // Cross-node checks.
  const byName = new Map<string, number>();
  const byAddress = new Map<string, string>();
  const byData = new Map<string, number>();
  nodes.forEach((node, i) => {
    const first = byName.get(node.name);
    if (first !== undefined) {
      throw new ConfigError(`nodes[${i}].name`, `duplicate node name ${JSON.stringify(node.name)} (also nodes[${first}].name)`, "duplicate");
    }
    byName.set(node.name, i);
    const sameData = byData.get(node.data);
    if (sameData !== undefined) {
      throw new ConfigError(`nodes[${i}].data`, `duplicate data directory ${node.data} (also nodes[${sameData}].data)`, "duplicate");
    }
    byData.set(node.data, i);
    for (const field of ["internal", "imaps", "imap", "admin"] as const) {
      const hp = node[field];
      if (!hp || hp.port === 0) continue;
      const addr = formatHostPort(hp);
      const other = byAddress.get(addr);
      if (other) throw new ConfigError(`nodes[${i}].${field}`, `duplicate address ${addr} (also ${other})`, "duplicate");
      byAddress.set(addr, `nodes[${i}].${field}`);
    }
  });
  if (!nodes.some((n) => n.role === "distributor")) throw new ConfigError("nodes", "missing: no node has role distributor", "missing");
  if (!nodes.some((n) => n.role === "worker")) throw new ConfigError("nodes", "missing: no node has role worker", "missing");
  const storageNodes = nodes.filter((n) => n.role === "storage").length;
  if (replication.storageReplicas > storageNodes) {
    throw new ConfigError("replication.storageReplicas", `is ${replication.storageReplicas}, but the cluster has ${storageNodes} storage node(s)`, "value");
  }

  return { baseDir, cluster: { name: clusterName }, durability, tls, users, limits, auth, replication, nodes, logLevel, scheduling };
}
