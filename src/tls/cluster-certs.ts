// `charon certs init`: the cluster CA, one leaf per node carrying its role,
// and a self-signed public certificate for development. Keys are written 0600
// and atomically; existing files are kept unless `force`.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import type { ClusterConfig, NodeConfig } from "../config/schema";
import { createCa, createSelfSigned, DEFAULT_ALT_NAMES, issueLeaf, roleOf, type PemKeyPair } from "./certs";

export interface CertsInitOptions {
  /** Replace existing files (a new CA means new leaves for every node). */
  force?: boolean;
}

export interface CertsInitEntry {
  action: "created" | "kept";
  /** "ca", "node", or "public". */
  what: "ca" | "node" | "public";
  /** Node name for node certificates. */
  name?: string;
  role?: string;
  cert: string;
  key: string;
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, data, { mode });
  await fs.chmod(tmp, mode); // whatever the umask
  await fs.rename(tmp, file);
}

async function writePair(certFile: string, keyFile: string, pair: PemKeyPair): Promise<void> {
  await writeAtomic(keyFile, pair.key, 0o600);
  await writeAtomic(certFile, pair.cert, 0o644);
}

async function readPair(certFile: string, keyFile: string): Promise<PemKeyPair | undefined> {
  if (!(await exists(certFile)) || !(await exists(keyFile))) return undefined;
  return { cert: await fs.readFile(certFile, "utf8"), key: await fs.readFile(keyFile, "utf8") };
}

/** True when the pair parses, matches, and (for a leaf) was issued by `ca` for the node's role and name. */
function leafStillGood(pair: PemKeyPair, ca: PemKeyPair, node: NodeConfig): boolean {
  try {
    const cert = new X509Certificate(pair.cert);
    const caCert = new X509Certificate(ca.cert);
    if (!cert.checkPrivateKey(createPrivateKey(pair.key))) return false;
    if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey)) return false;
    const id = roleOf(pair.cert);
    if (id?.role !== node.role || id.name !== node.name) return false;
    // A host added to the node since: reissue so the new name verifies.
    const san = (cert.subjectAltName ?? "").split(", ");
    return nodeAltNames(node).every((n) => san.includes(`DNS:${n}`) || san.includes(`IP Address:${n}`) || san.includes(`IP Address:${expandV6(n)}`));
  } catch {
    return false;
  }
}

/** Node prints IPv6 SAN entries fully expanded (0:0:0:0:0:0:0:1 for ::1). */
function expandV6(ip: string): string {
  if (!ip.includes(":")) return ip;
  const [head, tail = ""] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const fill = ip.includes("::") ? Array(8 - h.length - t.length).fill("0") : [];
  return [...h, ...fill, ...t].map((x) => x.replace(/^0+(?=.)/, "").toUpperCase()).join(":");
}

/** DNS names and IPs a node's certificate is good for: its hosts, its name, and loopback. */
export function nodeAltNames(node: NodeConfig): string[] {
  const names = new Set<string>();
  for (const field of ["internal", "imaps", "imap", "admin"] as const) {
    const host = node[field]?.host;
    if (host && host !== "0.0.0.0" && host !== "::") names.add(host);
  }
  names.add(node.name);
  for (const n of DEFAULT_ALT_NAMES) names.add(n);
  return [...names];
}

/**
 * Creates whatever is missing of: the CA (tls.ca + tls.caKey), a leaf per node
 * (<tls.nodeCerts>/<name>.crt/.key) and the public pair (tls.public). A node
 * certificate that no longer fits (other CA, role or name) is reissued.
 */
export async function initClusterCerts(config: ClusterConfig, opts: CertsInitOptions = {}): Promise<CertsInitEntry[]> {
  const force = opts.force ?? false;
  const entries: CertsInitEntry[] = [];
  const { tls } = config;

  let ca = force ? undefined : await readPair(tls.ca, tls.caKey);
  if (!force && !ca && (await exists(tls.ca))) {
    throw new Error(`${tls.ca} exists but its key ${tls.caKey} does not; restore the key, or use --force to create a new CA (and new node certificates)`);
  }
  if (ca) {
    entries.push({ action: "kept", what: "ca", cert: tls.ca, key: tls.caKey });
  } else {
    ca = await createCa({ commonName: `charon ${config.cluster.name} cluster CA` });
    await writePair(tls.ca, tls.caKey, ca);
    entries.push({ action: "created", what: "ca", cert: tls.ca, key: tls.caKey });
  }

  for (const node of config.nodes) {
    const cert = path.join(tls.nodeCerts, `${node.name}.crt`);
    const key = path.join(tls.nodeCerts, `${node.name}.key`);
    const existing = force ? undefined : await readPair(cert, key);
    if (existing && leafStillGood(existing, ca, node)) {
      entries.push({ action: "kept", what: "node", name: node.name, role: node.role, cert, key });
      continue;
    }
    const leaf = await issueLeaf(ca, { role: node.role, name: node.name, altNames: nodeAltNames(node) });
    await writePair(cert, key, leaf);
    entries.push({ action: "created", what: "node", name: node.name, role: node.role, cert, key });
  }

  const pub = force ? undefined : await readPair(tls.public.cert, tls.public.key);
  if (pub) {
    entries.push({ action: "kept", what: "public", cert: tls.public.cert, key: tls.public.key });
  } else {
    const hosts = new Set<string>(DEFAULT_ALT_NAMES);
    for (const node of config.nodes) {
      if (node.role !== "distributor") continue;
      for (const hp of [node.imaps, node.imap]) if (hp && hp.host !== "0.0.0.0" && hp.host !== "::") hosts.add(hp.host);
    }
    const pair = await createSelfSigned({ commonName: `charon ${config.cluster.name}`, altNames: [...hosts] });
    await writePair(tls.public.cert, tls.public.key, pair);
    entries.push({ action: "created", what: "public", cert: tls.public.cert, key: tls.public.key });
  }
  return entries;
}

/** One line per entry, e.g. `created node worker-1 role=worker cert=/x/worker-1.crt key=/x/worker-1.key`. */
export function formatCertsInitEntry(e: CertsInitEntry): string {
  const who = e.what === "node" ? `node ${e.name} role=${e.role}` : e.what;
  return `${e.action} ${who} cert=${e.cert} key=${e.key}`;
}
