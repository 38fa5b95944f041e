// Password hashing with scrypt, stored as `scrypt$N$r$p$salt$hash` (salt and
// hash base64, no padding). The parameters travel with each hash, so the cost
// can be raised later without invalidating existing entries.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/**
 * N=2^14, r=8, p=1: the scrypt paper's interactive-login setting (16 MiB, about
 * 60 ms on this machine). Heavier settings cap logins per second on a small
 * node, since every LOGIN on a cold cache pays this once.
 */
export const DEFAULT_SCRYPT: ScryptParams = { N: 1 << 14, r: 8, p: 1 };

const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
/** Refuse parameters from a tampered file that would exhaust memory (scrypt needs 128·N·r bytes). */
const MAX_MEMORY = 256 * 1024 * 1024;

/** How a key is derived: crypto.scrypt's arguments, the password already normalized. */
export type ScryptFunction = (password: string, salt: Buffer, keyLength: number, options: ScryptOptions) => Promise<Buffer>;

/** crypto.scrypt on libuv's thread pool; `ScryptThreads.derive` is the low-priority alternative. */
const poolScrypt: ScryptFunction = (password, salt, keyLength, options) =>
  new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key)));
  });

function derive(password: string, salt: Buffer, params: ScryptParams, keyLength: number, run: ScryptFunction): Promise<Buffer> {
  const { N, r, p } = params;
  return run(password.normalize("NFC"), salt, keyLength, { N, r, p, maxmem: 128 * N * r * p + 1024 * 1024 });
}

function checkParams(params: ScryptParams): void {
  const { N, r, p } = params;
  const ok =
    Number.isInteger(N) && N > 1 && (N & (N - 1)) === 0 &&
    Number.isInteger(r) && r >= 1 && Number.isInteger(p) && p >= 1 && p <= 16 &&
    128 * N * r <= MAX_MEMORY;
  if (!ok) throw new Error(`unsupported scrypt parameters N=${N} r=${r} p=${p}`);
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT, run: ScryptFunction = poolScrypt): Promise<string> {
  checkParams(params);
  const salt = randomBytes(SALT_LENGTH);
  const hash = await derive(password, salt, params, KEY_LENGTH, run);
  const b64 = (b: Buffer) => b.toString("base64").replace(/=+$/, "");
  return `scrypt$${params.N}$${params.r}$${params.p}$${b64(salt)}$${b64(hash)}`;
}

interface ParsedHash extends ScryptParams {
  salt: Buffer;
  hash: Buffer;
}

export function parseHash(stored: string): ParsedHash | undefined {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(stored);
  if (!m) return undefined;
  const parsed = {
    N: Number(m[1]),
    r: Number(m[2]),
    p: Number(m[3]),
    salt: Buffer.from(m[4], "base64"),
    hash: Buffer.from(m[5], "base64"),
  };
  try {
    checkParams(parsed);
  } catch {
    return undefined;
  }
  if (parsed.salt.length < 8 || parsed.hash.length < 16) return undefined;
  return parsed;
}

export function isPasswordHash(stored: string): boolean {
  return parseHash(stored) !== undefined;
}

/** Constant-time comparison of the derived key; a malformed stored string never matches. */
export async function verifyPassword(password: string, stored: string, run: ScryptFunction = poolScrypt): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed) return false;
  const derived = await derive(password, parsed.salt, parsed, parsed.hash.length, run);
  return timingSafeEqual(derived, parsed.hash);
}

/** A random password for generated accounts: 18 bytes, URL-safe base64 (24 characters). */
export function randomPassword(): string {
  return randomBytes(18).toString("base64url");
}
