// Certificates for client-facing TLS (a self-signed server certificate for
// `charon dev`) and, later, the cluster's internal mutual TLS (a CA that
// issues per-node leaf certificates carrying the node's role). ECDSA P-256
// throughout: DESIGN.md measured its signatures ~27x faster than RSA-2048.
import "reflect-metadata";
import { webcrypto, X509Certificate as NodeX509Certificate } from "node:crypto";
import { isIP } from "node:net";
import * as x509 from "@peculiar/x509";

// @peculiar/x509 is typed against the DOM Crypto; Node's webcrypto implements it.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const KEY_ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING_ALGORITHM = { name: "ECDSA", hash: "SHA-256" } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Roles a cluster node can hold; carried in its certificate so a peer can check who it talks to. */
export type NodeRole = "distributor" | "worker" | "storage" | "admin";
const ROLES: readonly NodeRole[] = ["distributor", "worker", "storage", "admin"];

/** URI SAN prefix that names a node's role: `charon://role/<role>/<name>`. */
const ROLE_URI_PREFIX = "charon://role/";

export interface PemKeyPair {
  /** PKCS#8 private key, PEM. */
  key: string;
  /** X.509 certificate, PEM. */
  cert: string;
}

export interface SelfSignedOptions {
  commonName?: string;
  /** DNS names and IP addresses for the subjectAltName; defaults cover loopback. */
  altNames?: string[];
  validDays?: number;
}

export const DEFAULT_ALT_NAMES = ["localhost", "127.0.0.1", "::1"];

function toGeneralNames(names: string[]): x509.JsonGeneralName[] {
  return names.map((value) => ({ type: isIP(value) ? "ip" : "dns", value }));
}

type KeyPair = webcrypto.CryptoKeyPair;

async function generateKeys(): Promise<KeyPair> {
  return (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ["sign", "verify"])) as KeyPair;
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

function validity(validDays: number): { notBefore: Date; notAfter: Date } {
  // Backdated an hour so a peer whose clock runs slightly behind accepts it at once.
  const now = Date.now();
  return { notBefore: new Date(now - 60 * 60 * 1000), notAfter: new Date(now + validDays * DAY_MS) };
}

/** Escapes a value for an RFC 4514 distinguished name string. */
function dnValue(value: string): string {
  return value.replace(/([,+"\\<>;=#])/g, "\\$1");
}

/** A self-signed server certificate (serverAuth) for client-facing TLS. */
export async function createSelfSigned(opts: SelfSignedOptions = {}): Promise<PemKeyPair> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${dnValue(opts.commonName ?? "charon")}`,
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    ...validity(opts.validDays ?? 825),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(toGeneralNames(opts.altNames ?? DEFAULT_ALT_NAMES)),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { key: await privateKeyPem(keys.privateKey), cert: cert.toString("pem") };
}

export interface CaOptions {
  commonName?: string;
  validDays?: number;
}

/** A cluster certificate authority: signs the nodes' leaf certificates, nothing else. */
export async function createCa(opts: CaOptions = {}): Promise<PemKeyPair> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${dnValue(opts.commonName ?? "charon cluster CA")}, O=charon`,
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    ...validity(opts.validDays ?? 3650),
    extensions: [
      // pathLength 0: the CA signs leaves only, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { key: await privateKeyPem(keys.privateKey), cert: cert.toString("pem") };
}

export interface LeafOptions {
  role: NodeRole;
  /** Node name, e.g. `worker-0`; becomes the CN and part of the role URI. */
  name: string;
  /** DNS names and IP addresses the node is reached by. */
  altNames?: string[];
  validDays?: number;
}

async function importPrivateKey(pem: string): Promise<webcrypto.CryptoKey> {
  const der = x509.PemConverter.decodeFirst(pem);
  return webcrypto.subtle.importKey("pkcs8", der, KEY_ALGORITHM, false, ["sign"]);
}

/**
 * A node certificate signed by the cluster CA, good for both ends of mutual
 * TLS (serverAuth + clientAuth). The role is in the subject's OU and in a URI
 * SAN, so `roleOf` can read it back from a peer certificate.
 */
export async function issueLeaf(ca: PemKeyPair, opts: LeafOptions): Promise<PemKeyPair> {
  if (!ROLES.includes(opts.role)) throw new Error(`unknown role ${JSON.stringify(opts.role)}`);
  if (!/^[A-Za-z0-9._-]{1,63}$/.test(opts.name)) throw new Error(`bad node name ${JSON.stringify(opts.name)}`);
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await importPrivateKey(ca.key);
  const keys = await generateKeys();
  const altNames: x509.JsonGeneralName[] = [
    ...toGeneralNames(opts.altNames ?? [opts.name]),
    { type: "url", value: `${ROLE_URI_PREFIX}${opts.role}/${opts.name}` },
  ];
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=${opts.name}, OU=${opts.role}, O=charon`,
    issuer: caCert.subject,
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    ...validity(opts.validDays ?? 825),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(altNames),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { key: await privateKeyPem(keys.privateKey), cert: cert.toString("pem") };
}

/** The role and node name a leaf certificate was issued for, or undefined if it carries none. */
export function roleOf(certPem: string | Buffer): { role: NodeRole; name: string } | undefined {
  const san = new NodeX509Certificate(certPem).subjectAltName ?? "";
  for (const entry of san.split(", ")) {
    if (!entry.startsWith(`URI:${ROLE_URI_PREFIX}`)) continue;
    const [role, name] = entry.slice(`URI:${ROLE_URI_PREFIX}`.length).split("/");
    if (ROLES.includes(role as NodeRole) && name) return { role: role as NodeRole, name };
  }
  return undefined;
}
