// The cluster configuration: one YAML file describing the nodes, the TLS
// material, the user directory and the limits (issue 3). A bad configuration
// is refused at start with a ConfigError naming the key and the problem.
//
//   loadClusterConfig(file, env, { nodeName })   parse + env overrides + validate (+ cert files of that node)
//   checkPortsFree(config, nodeName)             every port the node binds is free on its host
//   generateDevConfig({ dir, workers, ... })     cluster.yaml for `charon dev`
import { createPrivateKey, X509Certificate } from "node:crypto";
import { promises as fs } from "node:fs";
import net from "node:net";
import path from "node:path";
import YAML from "yaml";
import type { PemKeyPair } from "../tls/certs";
import { roleOf } from "../tls/certs";
import { ConfigError } from "./errors";
import type { Limits } from "./limits";
import { applyEnvOverrides } from "./env-overrides";
import { formatHostPort, validateClusterConfig, type ClusterConfig, type ClusterRole, type HostPort, type NodeConfig } from "./schema";

import { closeServer } from "../server/listen";
export * from "./errors";
export * from "./schema";
export { applyEnvOverrides, ENV_PREFIX, NON_CONFIG_ENV_VARS, NON_CONFIG_ENV_PREFIXES } from "./env-overrides";

export interface LoadOptions {
  /**
   * The node about to start. When given, it must exist in the configuration,
   * and its certificate files are checked (CA, its own cert/key, and the
   * public cert/key for a distributor).
   */
  nodeName?: string;
}

/** Parses YAML text (duplicate keys are errors), applies CHARON_* overrides and validates. */
export function parseClusterConfig(text: string, baseDir: string, env: NodeJS.ProcessEnv = process.env): ClusterConfig {
  const doc = YAML.parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const where = err.linePos ? `line ${err.linePos[0].line}` : "document";
    throw new ConfigError(`(yaml ${where})`, err.message.split("\n")[0], "syntax");
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError("(yaml)", (err as Error).message, "syntax");
  }
  if (raw === null || raw === undefined) throw new ConfigError("nodes", "missing: the configuration file is empty", "missing");
  const { raw: overridden } = applyEnvOverrides(raw, env);
  return validateClusterConfig(overridden, path.resolve(baseDir));
}

/** Reads, parses and validates the configuration file; paths in the result are absolute. */
export async function loadClusterConfig(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  opts: LoadOptions = {},
): Promise<ClusterConfig> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await fs.readFile(abs, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError("--config", code === "ENOENT" ? `configuration file ${abs} does not exist` : `cannot read ${abs}: ${(err as Error).message}`, "file");
  }
  try {
    const config = parseClusterConfig(text, path.dirname(abs), env);
    config.file = abs;
    if (opts.nodeName !== undefined) {
      nodeByName(config, opts.nodeName);
      await checkCertificateFiles(config, opts.nodeName);
    }
    return config;
  } catch (err) {
    if (err instanceof ConfigError && !err.file) throw err.inFile(abs);
    throw err;
  }
}

/** The node with that name, or a ConfigError (key `--name`). */
export function nodeByName(config: ClusterConfig, name: string): NodeConfig {
  const node = config.nodes.find((n) => n.name === name);
  if (!node) {
    throw new ConfigError("--name", `no node named ${JSON.stringify(name)} in the configuration (nodes: ${config.nodes.map((n) => n.name).join(", ")})`, "value");
  }
  return node;
}

export function nodeIndex(config: ClusterConfig, name: string): number {
  return config.nodes.findIndex((n) => n.name === name);
}

export function nodesWithRole(config: ClusterConfig, role: ClusterRole): NodeConfig[] {
  return config.nodes.filter((n) => n.role === role);
}

/** Where a node's certificate and key live: <tls.nodeCerts>/<name>.crt and .key. */
export function nodeCertPaths(config: ClusterConfig, name: string): { cert: string; key: string } {
  return { cert: path.join(config.tls.nodeCerts, `${name}.crt`), key: path.join(config.tls.nodeCerts, `${name}.key`) };
}

async function readFileFor(key: string, file: string, what: string): Promise<string> {
  try {
    return await fs.readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem = code === "ENOENT" ? `missing ${what} file ${file}` : `cannot read ${what} file ${file}: ${(err as Error).message}`;
    throw new ConfigError(key, `${problem} (create it with: charon certs init --config FILE)`, "file");
  }
}

function parseCert(key: string, file: string, pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new ConfigError(key, `${file} is not a PEM certificate: ${(err as Error).message}`, "file");
  }
}

function checkKeyMatches(key: string, keyFile: string, keyPem: string, cert: X509Certificate): void {
  let ok = false;
  try {
    ok = cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch (err) {
    throw new ConfigError(key, `${keyFile} is not a PEM private key: ${(err as Error).message}`, "file");
  }
  if (!ok) throw new ConfigError(key, `${keyFile} is not the private key of its certificate`, "file");
}

/**
 * Checks the certificate files the node needs: the CA, the node's own
 * certificate and key (issued by that CA for the node's role and name), and for
 * a distributor the public certificate and key. Throws a ConfigError naming the key.
 */
export async function checkCertificateFiles(config: ClusterConfig, nodeName: string): Promise<void> {
  const node = nodeByName(config, nodeName);
  const caPem = await readFileFor("tls.ca", config.tls.ca, "CA certificate");
  const ca = parseCert("tls.ca", config.tls.ca, caPem);

  const paths = nodeCertPaths(config, node.name);
  const certPem = await readFileFor("tls.nodeCerts", paths.cert, `certificate of node ${node.name}:`);
  const keyPem = await readFileFor("tls.nodeCerts", paths.key, `private key of node ${node.name}:`);
  const cert = parseCert("tls.nodeCerts", paths.cert, certPem);
  checkKeyMatches("tls.nodeCerts", paths.key, keyPem, cert);
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) {
    throw new ConfigError("tls.nodeCerts", `${paths.cert} was not issued by the cluster CA ${config.tls.ca}`, "file");
  }
  const id = roleOf(certPem);
  if (!id || id.role !== node.role || id.name !== node.name) {
    const has = id ? `${id.role}/${id.name}` : "no role";
    throw new ConfigError("tls.nodeCerts", `${paths.cert} is issued for ${has}, not ${node.role}/${node.name}`, "file");
  }

  if (node.role === "distributor") {
    const pubCertPem = await readFileFor("tls.public.cert", config.tls.public.cert, "public certificate");
    const pubKeyPem = await readFileFor("tls.public.key", config.tls.public.key, "public private key");
    const pub = parseCert("tls.public.cert", config.tls.public.cert, pubCertPem);
    checkKeyMatches("tls.public.key", config.tls.public.key, pubKeyPem, pub);
  }
}

/** The CA and the node's own key pair, for src/tls/mtls.ts. */
export async function readNodeTls(config: ClusterConfig, nodeName: string): Promise<{ ca: string; pair: PemKeyPair }> {
  const paths = nodeCertPaths(config, nodeName);
  const [ca, cert, key] = await Promise.all([
    readFileFor("tls.ca", config.tls.ca, "CA certificate"),
    readFileFor("tls.nodeCerts", paths.cert, `certificate of node ${nodeName}:`),
    readFileFor("tls.nodeCerts", paths.key, `private key of node ${nodeName}:`),
  ]);
  return { ca, pair: { cert, key } };
}

/** The distributor's client-facing key pair. */
export async function readPublicTls(config: ClusterConfig): Promise<PemKeyPair> {
  const [cert, key] = await Promise.all([
    readFileFor("tls.public.cert", config.tls.public.cert, "public certificate"),
    readFileFor("tls.public.key", config.tls.public.key, "public private key"),
  ]);
  return { cert, key };
}

/** The listeners a node binds, with their config keys. Port 0 ones are included (they always bind). */
export function nodeListeners(config: ClusterConfig, nodeName: string): Array<{ key: string; field: "internal" | "imaps" | "imap" | "admin"; address: HostPort }> {
  const i = nodeIndex(config, nodeName);
  const node = nodeByName(config, nodeName);
  const out: Array<{ key: string; field: "internal" | "imaps" | "imap" | "admin"; address: HostPort }> = [];
  for (const field of ["internal", "imaps", "imap", "admin"] as const) {
    const address = node[field];
    if (address) out.push({ key: `nodes[${i}].${field}`, field, address });
  }
  return out;
}

function listenOnce(hp: HostPort): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen({ host: hp.host, port: hp.port, exclusive: true }, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

/**
 * Binds each port the node would listen on (on the node's host), then releases
 * them. Rejects with a ConfigError (kind port-in-use, key e.g. `nodes[1].admin`)
 * for the first one that is taken or cannot be bound on this machine.
 */
export async function checkPortsFree(config: ClusterConfig, nodeName: string): Promise<void> {
  const held: net.Server[] = [];
  try {
    for (const { key, address } of nodeListeners(config, nodeName)) {
      if (address.port === 0) continue;
      try {
        held.push(await listenOnce(address));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const addr = formatHostPort(address);
        if (code === "EADDRINUSE") throw new ConfigError(key, `port already in use: ${addr}`, "port-in-use", config.file);
        if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND" || code === "EAI_AGAIN") {
          throw new ConfigError(key, `cannot listen on ${addr}: the address is not on this host (${code})`, "value", config.file);
        }
        if (code === "EACCES") throw new ConfigError(key, `cannot listen on ${addr}: permission denied`, "port-in-use", config.file);
        throw new ConfigError(key, `cannot listen on ${addr}: ${(err as Error).message}`, "port-in-use", config.file);
      }
    }
  } finally {
    await Promise.all(held.map(closeServer));
  }
}

/** `count` distinct free ports on `host`, found by binding port 0 (all held at once) and releasing. */
export async function pickFreePorts(host: string, count: number): Promise<number[]> {
  const held: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) held.push(await listenOnce({ host, port: 0 }));
    return held.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(held.map(closeServer));
  }
}

export interface DevConfigOptions {
  /** Directory for cluster.yaml; certs/, data/ and users.json are relative to it. */
  dir: string;
  workers: number;
  storage: number;
  /** Distributors dist-1..N (default 1); only dist-1 takes --imaps-port/--imap-port. */
  distributors?: number;
  host: string;
  /**
   * First port of a consecutive block (distributor imaps, imap, admin, then
   * internal + admin for each worker and storage node). 0 or absent: free
   * ephemeral ports, picked by binding port 0 and releasing.
   */
  basePort?: number;
  /** Override the distributor's client ports (e.g. `charon dev --imaps-port`); 0 = any free port. */
  imapsPort?: number;
  imapPort?: number;
  cluster?: string;
  logLevel?: string;
  durability?: "local" | "replicated";
  /** Limits written into the file (e.g. `charon dev --max-message-size`). */
  limits?: Partial<Limits>;
  /** Environment for the overrides when the written file is read back (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Writes <dir>/cluster.yaml for a local cluster (one distributor `dist-1`,
 * `worker-1..N`, `storage-1..M`, all on `host`) and returns its path and the
 * parsed configuration. Overwrites an existing cluster.yaml. Certificates are
 * not created here: run initClusterCerts (src/tls/cluster-certs.ts) next.
 */
export async function generateDevConfig(opts: DevConfigOptions): Promise<{ path: string; config: ClusterConfig }> {
  if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new ConfigError("workers", `must be at least 1, got ${opts.workers}`, "value");
  if (!Number.isInteger(opts.storage) || opts.storage < 0) throw new ConfigError("storage", `must be 0 or more, got ${opts.storage}`, "value");
  const extraDistributors = Math.max(0, (opts.distributors ?? 1) - 1);
  const needed = 3 + 3 * extraDistributors + 2 * (opts.workers + opts.storage);
  const basePort = opts.basePort ?? 0;
  let ports: number[];
  if (basePort === 0) {
    ports = await pickFreePorts(opts.host, needed);
  } else {
    if (!Number.isInteger(basePort) || basePort < 1 || basePort + needed - 1 > 65535) {
      throw new ConfigError("basePort", `must leave ${needed} ports below 65536, got ${basePort}`, "value");
    }
    ports = Array.from({ length: needed }, (_, i) => basePort + i);
  }
  let next = 0;
  const addr = (port: number) => formatHostPort({ host: opts.host, port });
  const take = () => addr(ports[next++]);
  const imaps = take();
  const imap = take();
  const nodes: Array<Record<string, string>> = [
    {
      name: "dist-1",
      role: "distributor",
      imaps: opts.imapsPort !== undefined ? addr(opts.imapsPort) : imaps,
      imap: opts.imapPort !== undefined ? addr(opts.imapPort) : imap,
      admin: take(),
      data: "data/dist-1",
    },
  ];
  for (let i = 2; i <= extraDistributors + 1; i++) {
    nodes.push({ name: `dist-${i}`, role: "distributor", imaps: take(), imap: take(), admin: take(), data: `data/dist-${i}` });
  }
  const add = (role: string, name: string) => nodes.push({ name, role, internal: take(), admin: take(), data: `data/${name}` });
  for (let i = 1; i <= opts.workers; i++) add("worker", `worker-${i}`);
  for (let i = 1; i <= opts.storage; i++) add("storage", `storage-${i}`);

  const doc = {
    cluster: { name: opts.cluster ?? "dev" },
    durability: opts.durability ?? "local",
    tls: {
      ca: "certs/ca.crt",
      caKey: "certs/ca.key",
      nodeCerts: "certs",
      public: { cert: "certs/public.crt", key: "certs/public.key" },
    },
    users: "users.json",
    logLevel: opts.logLevel ?? "info",
    scheduling: "batch",
    ...(opts.limits && Object.keys(opts.limits).length > 0 ? { limits: opts.limits } : {}),
    nodes,
  };
  await fs.mkdir(opts.dir, { recursive: true });
  const file = path.resolve(opts.dir, "cluster.yaml");
  const text = `# Generated by charon dev for a local cluster on ${opts.host}; regenerated on each start.\n` + YAML.stringify(doc);
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, text);
  await fs.rename(tmp, file);
  const config = await loadClusterConfig(file, opts.env ?? process.env);
  return { path: file, config };
}
