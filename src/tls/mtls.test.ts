import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadClusterConfig, nodeCertPaths, readNodeTls, type ClusterConfig } from "../config/cluster";
import { createCa, issueLeaf, type NodeRole, type PemKeyPair } from "./certs";
import { initClusterCerts } from "./cluster-certs";
import { ALLOWED_PEERS, assertPeerAllowed, expectPeer, internalClientOptions, internalServerOptions, peerIdentity, PeerNotAllowedError } from "./mtls";

const CONFIG = `
cluster: { name: mtls }
nodes:
  - { name: dist-1, role: distributor, imaps: 127.0.0.1:0 }
  - { name: worker-1, role: worker, internal: 127.0.0.1:7201 }
  - { name: worker-2, role: worker, internal: 127.0.0.1:7202 }
  - { name: storage-1, role: storage, internal: 127.0.0.1:7301 }
`;

let dir: string;
let config: ClusterConfig;
let ca: string;
const pairs = new Map<string, PemKeyPair>();

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "charon-mtls-"));
  writeFileSync(path.join(dir, "cluster.yaml"), CONFIG);
  config = await loadClusterConfig(path.join(dir, "cluster.yaml"), {});
  const entries = await initClusterCerts(config);
  expect(entries.every((e) => e.action === "created")).toBe(true);
  for (const n of config.nodes) {
    const t = await readNodeTls(config, n.name);
    ca = t.ca;
    pairs.set(n.name, t.pair);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Outcome {
  /** What the server's role check said: the identity, or the refusal. */
  server?: { allowed: boolean; peer?: { role: string; name: string }; error?: string };
  /** Bytes the client received ("welcome" only if the server accepted it). */
  received: string;
  clientError?: string;
  protocol?: string | null;
  serverPeerAtClient?: { role: string; name: string };
}

/** A real internal listener for `localRole` that greets allowed peers and destroys the others. */
async function connectTo(localRole: NodeRole, serverPair: PemKeyPair, client: tls.ConnectionOptions): Promise<Outcome> {
  const outcome: Outcome = { received: "" };
  const server = tls.createServer(internalServerOptions(serverPair, ca), (socket) => {
    try {
      const peer = assertPeerAllowed(localRole, socket);
      outcome.server = { allowed: true, peer };
      socket.end("welcome");
    } catch (err) {
      outcome.server = { allowed: false, error: (err as Error).message, peer: peerIdentity(socket) };
      socket.destroy();
    }
  });
  server.on("tlsClientError", (err) => {
    outcome.server = { allowed: false, error: `handshake: ${err.message}` };
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  try {
    await new Promise<void>((resolve) => {
      const socket = tls.connect({ ...client, host: "127.0.0.1", port }, () => {
        outcome.protocol = socket.getProtocol();
        outcome.serverPeerAtClient = peerIdentity(socket);
      });
      socket.on("data", (d: Buffer) => (outcome.received += d.toString()));
      socket.on("error", (err) => (outcome.clientError = err.message));
      socket.on("close", () => resolve());
    });
  } finally {
    await new Promise((r) => server.close(r));
  }
  return outcome;
}

describe("internal mutual TLS with certificates from certs init", () => {
  it("a distributor client is accepted by a worker, both sides see each other's role", async () => {
    const o = await connectTo("worker", pairs.get("worker-1")!, internalClientOptions(pairs.get("dist-1")!, ca, "localhost"));
    expect(o.clientError).toBeUndefined();
    expect(o.protocol).toBe("TLSv1.3");
    expect(o.server).toEqual({ allowed: true, peer: { role: "distributor", name: "dist-1" } });
    expect(o.serverPeerAtClient).toEqual({ role: "worker", name: "worker-1" });
    expect(o.received).toBe("welcome");
  });

  it("servername checked against the certificate's altNames (127.0.0.1 is in them, a stranger name is not)", async () => {
    const ok = await connectTo("worker", pairs.get("worker-1")!, internalClientOptions(pairs.get("dist-1")!, ca, "127.0.0.1"));
    expect(ok.received).toBe("welcome");
    const bad = await connectTo("worker", pairs.get("worker-1")!, internalClientOptions(pairs.get("dist-1")!, ca, "mail.example.org"));
    expect(bad.received).toBe("");
    expect(bad.clientError).toMatch(/altnames|Hostname/i);
  });

  it.each([
    ["storage-1", "storage"],
    ["worker-2", "worker"],
  ])("a worker refuses a %s client (role %s not allowed)", async (name, role) => {
    const o = await connectTo("worker", pairs.get("worker-1")!, internalClientOptions(pairs.get(name)!, ca));
    expect(o.server?.allowed).toBe(false);
    expect(o.server?.peer).toEqual({ role, name });
    expect(o.server?.error).toContain(`from a ${role}`);
    expect(o.received).toBe("");
  });

  it("a storage node accepts distributor, worker and storage peers", async () => {
    for (const name of ["dist-1", "worker-1", "storage-1"]) {
      const o = await connectTo("storage", pairs.get("storage-1")!, internalClientOptions(pairs.get(name)!, ca));
      expect(o.server?.allowed).toBe(true);
      expect(o.received).toBe("welcome");
    }
  });

  it("refuses a client whose certificate comes from another CA, even with an allowed role", async () => {
    const otherCa = await createCa({ commonName: "rogue" });
    const rogue = await issueLeaf(otherCa, { role: "distributor", name: "dist-1", altNames: ["localhost", "127.0.0.1"] });
    // The rogue client trusts the real CA so that only the server's check can stop it.
    const o = await connectTo("worker", pairs.get("worker-1")!, internalClientOptions(rogue, ca));
    expect(o.received).toBe("");
    expect(o.server?.allowed).toBe(false);
    expect(o.server?.error).toMatch(/handshake/);
  });

  it("refuses a client without a certificate", async () => {
    const o = await connectTo("worker", pairs.get("worker-1")!, {
      ca,
      minVersion: "TLSv1.3",
      checkServerIdentity: () => undefined,
    });
    expect(o.received).toBe("");
    expect(o.server?.allowed).toBe(false);
    expect(o.server?.error).toMatch(/handshake/);
  });

  it("a client refuses a server whose certificate is from another CA", async () => {
    const otherCa = await createCa({ commonName: "rogue" });
    const rogue = await issueLeaf(otherCa, { role: "worker", name: "worker-1", altNames: ["localhost", "127.0.0.1"] });
    const o = await connectTo("worker", rogue, internalClientOptions(pairs.get("dist-1")!, ca));
    expect(o.clientError).toBeDefined();
    expect(o.received).toBe("");
  });

  it("TLS 1.2 is refused on internal links", async () => {
    const o = await connectTo("worker", pairs.get("worker-1")!, { ...internalClientOptions(pairs.get("dist-1")!, ca), minVersion: "TLSv1.2", maxVersion: "TLSv1.2" });
    expect(o.received).toBe("");
    expect(o.clientError).toBeDefined();
  });

  it("expectPeer checks the server's role and name at the client", async () => {
    const server = tls.createServer(internalServerOptions(pairs.get("worker-1")!, ca), (s) => s.end());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const socket = tls.connect({ ...internalClientOptions(pairs.get("dist-1")!, ca), host: "127.0.0.1", port });
      await new Promise<void>((r, j) => socket.once("secureConnect", r).once("error", j));
      expect(expectPeer(socket, "worker", "worker-1")).toEqual({ role: "worker", name: "worker-1" });
      expect(() => expectPeer(socket, "storage")).toThrow(/expected storage/);
      expect(() => expectPeer(socket, "worker", "worker-2")).toThrow(/worker\/worker-2/);
      socket.destroy();
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe("ALLOWED_PEERS", () => {
  it("workers accept distributors only; storage accepts distributor, worker, storage", () => {
    expect(ALLOWED_PEERS.worker).toEqual(["distributor"]);
    expect([...ALLOWED_PEERS.storage].sort()).toEqual(["distributor", "storage", "worker"]);
    expect(ALLOWED_PEERS.distributor).toEqual([]);
  });

  it("assertPeerAllowed on an unauthorized socket throws or returns false", () => {
    const fake = { authorized: false } as unknown as tls.TLSSocket;
    expect(() => assertPeerAllowed("storage", fake)).toThrow(PeerNotAllowedError);
    expect(assertPeerAllowed("storage", fake, { throwOnDeny: false })).toBe(false);
  });
});

describe("initClusterCerts", () => {
  it("writes keys 0600, keeps existing files, reissues only with --force", async () => {
    for (const n of config.nodes) {
      const p = nodeCertPaths(config, n.name);
      expect(statSync(p.key).mode & 0o777).toBe(0o600);
    }
    expect(statSync(config.tls.caKey).mode & 0o777).toBe(0o600);
    expect(statSync(config.tls.public.key).mode & 0o777).toBe(0o600);
    const before = readFileSync(config.tls.ca, "utf8");
    const again = await initClusterCerts(config);
    expect(again.every((e) => e.action === "kept")).toBe(true);
    expect(readFileSync(config.tls.ca, "utf8")).toBe(before);
  });
});
