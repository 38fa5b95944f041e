// Key and certificate files on disk. Keys are written 0600 and atomically
// (temp file + rename), so a crash never leaves a half-written key behind.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { createSelfSigned, type PemKeyPair, type SelfSignedOptions } from "./certs";

export interface CertPaths {
  keyPath: string;
  certPath: string;
}

export function certPaths(dir: string, basename = "server"): CertPaths {
  return { keyPath: path.join(dir, `${basename}.key`), certPath: path.join(dir, `${basename}.crt`) };
}

async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, data, { mode });
  // writeFile's mode is masked by the umask; chmod makes the key 0600 whatever the umask.
  await fs.chmod(tmp, mode);
  await fs.rename(tmp, file);
}

export async function writeKeyPair(dir: string, pair: PemKeyPair, basename = "server"): Promise<CertPaths> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const paths = certPaths(dir, basename);
  await writeAtomic(paths.keyPath, pair.key, 0o600);
  await writeAtomic(paths.certPath, pair.cert, 0o644);
  return paths;
}

export async function readKeyPair(dir: string, basename = "server"): Promise<PemKeyPair | undefined> {
  const paths = certPaths(dir, basename);
  try {
    const [key, cert] = await Promise.all([fs.readFile(paths.keyPath, "utf8"), fs.readFile(paths.certPath, "utf8")]);
    return { key, cert };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** True if the pair parses, the key belongs to the certificate, and it is valid for at least `marginDays` more. */
export function isUsable(pair: PemKeyPair, marginDays = 1): boolean {
  try {
    const cert = new X509Certificate(pair.cert);
    if (!cert.checkPrivateKey(createPrivateKey(pair.key))) return false;
    return new Date(cert.validTo).getTime() > Date.now() + marginDays * 24 * 60 * 60 * 1000;
  } catch {
    return false;
  }
}

/**
 * The server certificate in `dir`, created self-signed if missing, unreadable
 * or about to expire. Reusing it keeps a client's one-time "accept this
 * certificate" decision valid across restarts.
 */
export async function ensureServerCert(
  dir: string,
  opts: SelfSignedOptions = {},
): Promise<PemKeyPair & CertPaths & { created: boolean }> {
  const existing = await readKeyPair(dir);
  if (existing && isUsable(existing)) return { ...existing, ...certPaths(dir), created: false };
  const pair = await createSelfSigned(opts);
  const paths = await writeKeyPair(dir, pair);
  return { ...pair, ...paths, created: true };
}
