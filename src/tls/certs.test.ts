import { X509Certificate, createPrivateKey } from "node:crypto";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import tls from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { ensureServerCert, isUsable, readKeyPair } from "./cert-files";
import { createCa, createSelfSigned, issueLeaf, roleOf, type PemKeyPair } from "./certs";
import { createServerContext, serverTlsOptions } from "./context";

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), "charon-tls-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Runs one TLS handshake on loopback; resolves with what each side saw. */
async function handshake(
  server: tls.TlsOptions,
  client: tls.ConnectionOptions,
): Promise<{ clientAuthorized: boolean; clientError?: string; serverAuthorized?: boolean; protocol: string | null; peerCN?: string }> {
  const srv = tls.createServer(server, (sock) => {
    sock.end("hello");
  });
  let serverAuthorized: boolean | undefined;
  let peerCN: string | undefined;
  srv.on("secureConnection", (sock) => {
    serverAuthorized = sock.authorized;
    const cn = (sock.getPeerCertificate() as tls.PeerCertificate | undefined)?.subject?.CN;
    peerCN = Array.isArray(cn) ? cn[0] : cn;
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  try {
    return await new Promise((resolve, reject) => {
      const sock = tls.connect({ host: "127.0.0.1", port, ...client }, () => {
        const result = {
          clientAuthorized: sock.authorized,
          clientError: sock.authorizationError ? String(sock.authorizationError) : undefined,
          protocol: sock.getProtocol(),
        };
        let data = "";
        sock.on("data", (d) => (data += d));
        sock.on("end", () => {
          expect(data).toBe("hello");
          resolve({ ...result, serverAuthorized, peerCN });
        });
      });
      sock.on("error", reject);
    });
  } finally {
    srv.close();
  }
}

describe("createSelfSigned", () => {
  it("makes an ECDSA P-256 server certificate for loopback that verifies against itself", async () => {
    const pair = await createSelfSigned();
    const cert = new X509Certificate(pair.cert);
    expect(cert.publicKey.asymmetricKeyType).toBe("ec");
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(pair.key))).toBe(true);
    expect(cert.subjectAltName).toContain("DNS:localhost");
    expect(cert.subjectAltName).toContain("IP Address:127.0.0.1");
    expect(cert.subjectAltName).toContain("IP Address:0:0:0:0:0:0:0:1");
    expect(cert.keyUsage).toContain("1.3.6.1.5.5.7.3.1");
    expect(cert.ca).toBe(false);
    expect(cert.checkHost("localhost")).toBe("localhost");
    expect(cert.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(cert.checkHost("example.com")).toBeUndefined();
    expect(new Date(cert.validTo).getTime()).toBeGreaterThan(Date.now() + 30 * 24 * 3600 * 1000);
  });

  it("completes a real TLS handshake that a client trusting the certificate accepts", async () => {
    const pair = await createSelfSigned();
    const result = await handshake(
      serverTlsOptions(pair),
      { ca: pair.cert, servername: "localhost" },
    );
    expect(result.clientAuthorized).toBe(true);
    expect(result.protocol).toMatch(/^TLSv1\.[23]$/);
  });

  it("serves an in-place upgrade of a plain socket with createServerContext", async () => {
    const pair = await createSelfSigned();
    const context = createServerContext(pair);
    const srv = net.createServer((plain) => {
      const secure = new tls.TLSSocket(plain, { isServer: true, secureContext: context });
      secure.on("secure", () => secure.end("upgraded"));
      secure.on("error", () => undefined);
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as net.AddressInfo).port;
    try {
      const text = await new Promise<string>((resolve, reject) => {
        const sock = tls.connect({ host: "127.0.0.1", port, ca: pair.cert, servername: "localhost" });
        let data = "";
        sock.on("data", (d) => (data += d));
        sock.on("end", () => resolve(sock.authorized ? data : "unauthorized"));
        sock.on("error", reject);
      });
      expect(text).toBe("upgraded");
    } finally {
      srv.close();
    }
  });

  it("is rejected by a client that does not trust it", async () => {
    const pair = await createSelfSigned();
    const other = await createSelfSigned();
    const result = await handshake(
      serverTlsOptions(pair),
      { ca: other.cert, servername: "localhost", rejectUnauthorized: false },
    );
    expect(result.clientAuthorized).toBe(false);
    expect(result.clientError).toBeDefined();
  });

  it("refuses clients limited to TLS 1.1", async () => {
    const pair = await createSelfSigned();
    await expect(
      handshake(serverTlsOptions(pair), { rejectUnauthorized: false, maxVersion: "TLSv1.1", minVersion: "TLSv1" }),
    ).rejects.toThrow();
  });
});

describe("cluster CA and leaf certificates", () => {
  it("issues leaves that chain to the CA and carry their role", async () => {
    const ca = await createCa();
    const leaf = await issueLeaf(ca, { role: "worker", name: "worker-0", altNames: ["worker-0.charon", "127.0.0.1"] });
    const caCert = new X509Certificate(ca.cert);
    const leafCert = new X509Certificate(leaf.cert);
    expect(caCert.ca).toBe(true);
    expect(leafCert.checkIssued(caCert)).toBe(true);
    expect(leafCert.verify(caCert.publicKey)).toBe(true);
    expect(leafCert.subject).toContain("OU=worker");
    expect(roleOf(leaf.cert)).toEqual({ role: "worker", name: "worker-0" });
    expect(roleOf(ca.cert)).toBeUndefined();
    expect(leafCert.checkHost("worker-0.charon")).toBe("worker-0.charon");
  });

  it("authenticates both ends of mutual TLS", async () => {
    const ca = await createCa();
    const server = await issueLeaf(ca, { role: "storage", name: "storage-1", altNames: ["localhost", "127.0.0.1"] });
    const client = await issueLeaf(ca, { role: "distributor", name: "dist-0" });
    const result = await handshake(
      { key: server.key, cert: server.cert, ca: ca.cert, requestCert: true, rejectUnauthorized: true },
      { key: client.key, cert: client.cert, ca: ca.cert, servername: "localhost" },
    );
    expect(result.clientAuthorized).toBe(true);
    expect(result.serverAuthorized).toBe(true);
    expect(result.peerCN).toBe("dist-0");
  });

  it("rejects bad roles and names", async () => {
    const ca = await createCa();
    await expect(issueLeaf(ca, { role: "root" as never, name: "x" })).rejects.toThrow(/role/);
    await expect(issueLeaf(ca, { role: "worker", name: "a,b=c" })).rejects.toThrow(/name/);
  });
});

describe("ensureServerCert", () => {
  it("writes a 0600 key once and reuses it afterwards", async () => {
    const dir = path.join(tempDir(), "tls");
    const first = await ensureServerCert(dir);
    expect(first.created).toBe(true);
    expect(statSync(first.keyPath).mode & 0o777).toBe(0o600);
    const second = await ensureServerCert(dir);
    expect(second.created).toBe(false);
    expect(second.cert).toBe(first.cert);
    expect(second.key).toBe(first.key);
  });

  it("replaces a pair whose key does not match the certificate", async () => {
    const dir = tempDir();
    const first = await ensureServerCert(dir);
    const other: PemKeyPair = await createSelfSigned();
    writeFileSync(first.keyPath, other.key);
    expect(isUsable((await readKeyPair(dir))!)).toBe(false);
    const again = await ensureServerCert(dir);
    expect(again.created).toBe(true);
    expect(again.cert).not.toBe(first.cert);
    expect(isUsable(again)).toBe(true);
  });
});
