// The user directory: a JSON file `{ "name": "scrypt$N$r$p$salt$hash", ... }`
// in the data dir. Only hashes are ever written; plaintext passwords live in
// memory for the duration of one hash or verify call.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { EventEmitter } from "node:events";
import { watch as fsWatch, promises as fs, type FSWatcher } from "node:fs";
import path from "node:path";
import { DEFAULT_SCRYPT, hashPassword, isPasswordHash, verifyPassword, type ScryptParams } from "./password";
import { ScryptThreads } from "./scrypt-threads";
import { usernameProblem } from "./username";
import { BoundedMap } from "../util/bounded-map";

export type UserDirectoryErrorCode = "INVALID" | "EXISTS" | "NOTFOUND" | "CORRUPT";

export class UserDirectoryError extends Error {
  constructor(public readonly code: UserDirectoryErrorCode, message: string) {
    super(message);
    this.name = "UserDirectoryError";
  }
}

export interface UserDirectoryOptions {
  scrypt?: ScryptParams;
  /** How many scrypt computations may run at once, each on its own low-priority thread; the rest queue. */
  maxConcurrentHashes?: number;
  /** How long a successful verification is remembered (0 disables the cache). */
  cacheTtlMs?: number;
  /** How often, at most, verify() checks the file for edits made by another process. */
  reloadCheckMs?: number;
  /** Start watching the file right away (see `startWatching`). Default false (the CLI does not watch). */
  watch?: boolean | WatchOptions;
}

export interface WatchOptions {
  /** Stat polling interval, the fallback for file systems where fs.watch misses events. Default 2000 ms. */
  pollMs?: number;
}

/**
 * Events: "reload" (the file changed on disk and the new content is in use;
 * listener gets `{ users: number }`), "reloadError" (the changed file could not
 * be read or parsed; the last good copy stays in use; listener gets the error).
 */
export interface UserDirectoryEvents {
  reload: [{ users: number }];
  reloadError: [Error];
}

const DEFAULT_CACHE_TTL_MS = 10 * 60 * 1000;
const MAX_CACHE_ENTRIES = 10_000;

interface CacheEntry {
  mac: Buffer;
  /** The stored hash the password was verified against; a password change invalidates the entry. */
  hash: string;
  expires: number;
}

export class UserDirectory extends EventEmitter<UserDirectoryEvents> {
  private users = new Map<string, string>();
  private fileStamp = "";
  private lastReloadCheck = 0;
  private mutations: Promise<unknown> = Promise.resolve();
  private readonly kdf: ScryptThreads;
  private readonly scrypt: ScryptParams;
  private readonly cacheTtlMs: number;
  private readonly reloadCheckMs: number;
  /**
   * Successful logins, keyed by user, as an HMAC of the password under a key
   * that exists only in this process. Repeated logins (clients reconnect
   * constantly) then skip scrypt, as Dovecot's auth cache does. Failures are
   * never cached, so guessing always pays the full scrypt cost.
   */
  private readonly verified = new BoundedMap<string, CacheEntry>(MAX_CACHE_ENTRIES);
  private readonly cacheKey = randomBytes(32);
  /** Hash compared against for unknown users, so a miss costs the same time as a wrong password. */
  private dummyHash: Promise<string> | undefined;

  private watcher: FSWatcher | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private checkQueued = false;
  private closed = false;

  private constructor(readonly file: string, opts: UserDirectoryOptions) {
    super();
    this.scrypt = opts.scrypt ?? DEFAULT_SCRYPT;
    this.kdf = new ScryptThreads(Math.max(1, opts.maxConcurrentHashes ?? 2));
    this.cacheTtlMs = opts.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
    this.reloadCheckMs = opts.reloadCheckMs ?? 1000;
  }

  /** Opens the directory file; a missing file is an empty directory (created on the first write). */
  static async open(file: string, opts: UserDirectoryOptions = {}): Promise<UserDirectory> {
    const dir = new UserDirectory(file, opts);
    await dir.reload();
    if (opts.watch) dir.startWatching(opts.watch === true ? {} : opts.watch);
    return dir;
  }

  private async stamp(): Promise<string> {
    try {
      const st = await fs.stat(this.file);
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return "missing";
      throw err;
    }
  }

  private async reload(): Promise<void> {
    const previous = this.fileStamp;
    const stamp = await this.stamp();
    if (stamp === "missing") {
      this.users = new Map();
      this.fileStamp = stamp;
      if (previous !== "" && previous !== stamp) this.emit("reload", { users: 0 });
      return;
    }
    const text = await fs.readFile(this.file, "utf8");
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new UserDirectoryError("CORRUPT", `${this.file}: not valid JSON (${(err as Error).message})`);
    }
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      throw new UserDirectoryError("CORRUPT", `${this.file}: expected an object of user → password hash`);
    }
    const users = new Map<string, string>();
    for (const [name, hash] of Object.entries(data)) {
      // Never echo the value: a hand-edited file might hold a plaintext password.
      if (typeof hash !== "string" || !isPasswordHash(hash)) {
        throw new UserDirectoryError("CORRUPT", `${this.file}: entry for ${JSON.stringify(name)} is not an scrypt hash`);
      }
      users.set(name, hash);
    }
    this.users = users;
    this.fileStamp = stamp;
    // The first load is not a reload; our own writes update fileStamp in save() and do not come here changed.
    if (previous !== "" && previous !== stamp) this.emit("reload", { users: users.size });
  }

  /** Picks up edits made by another process (`charon user ...` while the server runs). */
  private async reloadIfChanged(): Promise<void> {
    const now = Date.now();
    if (now - this.lastReloadCheck < this.reloadCheckMs) return;
    this.lastReloadCheck = now;
    if ((await this.stamp()) !== this.fileStamp) await this.serialized(() => this.reload());
  }

  /** Runs `fn` in the mutation queue, so a reload never swaps the map under a read-modify-write. */
  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.mutations.then(fn);
    this.mutations = run.catch(() => undefined);
    return run;
  }

  /**
   * Reloads when the file changes: fs.watch on its directory (the file is
   * replaced by rename, so watching the file itself would lose track; this
   * also sees Kubernetes ConfigMap/Secret symlink swaps), plus stat polling
   * for file systems where fs.watch is missing or silent. Emits "reload".
   * Idempotent; `close()` stops it. Neither keeps the process alive.
   */
  startWatching(opts: WatchOptions = {}): void {
    if (this.closed || this.pollTimer) return;
    const pollMs = Math.max(10, opts.pollMs ?? 2000);
    try {
      this.watcher = fsWatch(path.dirname(this.file), { persistent: false }, () => this.queueCheck());
      this.watcher.on("error", () => {
        // e.g. the directory was removed; polling carries on.
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      // No directory yet, or no fs.watch here: polling only.
    }
    this.pollTimer = setInterval(() => this.queueCheck(), pollMs);
    this.pollTimer.unref();
  }

  /** One stat (and a reload if it differs) at a time; a burst of watch events costs one check. */
  private queueCheck(): void {
    if (this.closed || this.checkQueued) return;
    this.checkQueued = true;
    void this.serialized(async () => {
      this.checkQueued = false;
      if (this.closed) return;
      try {
        if ((await this.stamp()) !== this.fileStamp) await this.reload();
      } catch (err) {
        this.emit("reloadError", err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** Stops watching; resolves once a check in progress is done. */
  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    await this.mutations;
    await this.kdf.close();
  }

  private async save(): Promise<void> {
    await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    // Null prototype: a user named "__proto__" must become a key, not a prototype.
    const obj: Record<string, string> = Object.create(null);
    for (const name of [...this.users.keys()].sort()) obj[name] = this.users.get(name)!;
    const tmp = `${this.file}.${process.pid}.tmp`;
    await fs.writeFile(tmp, JSON.stringify(obj, null, 2) + "\n", { mode: 0o600 });
    await fs.chmod(tmp, 0o600);
    await fs.rename(tmp, this.file);
    this.fileStamp = await this.stamp();
  }

  /** Runs one read-modify-write at a time, starting from the file as it is now. */
  private mutate<T>(fn: () => Promise<T>): Promise<T> {
    return this.serialized(async () => {
      await this.reload();
      return fn();
    });
  }

  private hash(password: string): Promise<string> {
    return hashPassword(password, this.scrypt, this.kdf.derive);
  }

  private static checkName(name: string): void {
    const problem = usernameProblem(name);
    if (problem) throw new UserDirectoryError("INVALID", problem);
  }

  async addUser(name: string, password: string): Promise<void> {
    UserDirectory.checkName(name);
    const hash = await this.hash(password);
    await this.mutate(async () => {
      if (this.users.has(name)) throw new UserDirectoryError("EXISTS", `user ${name} already exists`);
      this.users.set(name, hash);
      await this.save();
    });
  }

  async setPassword(name: string, password: string): Promise<void> {
    const hash = await this.hash(password);
    await this.mutate(async () => {
      if (!this.users.has(name)) throw new UserDirectoryError("NOTFOUND", `no user ${name}`);
      this.users.set(name, hash);
      this.verified.delete(name);
      await this.save();
    });
  }

  /** Adds the user or replaces their password; returns whether the user was new. */
  async upsertUser(name: string, password: string): Promise<boolean> {
    UserDirectory.checkName(name);
    const hash = await this.hash(password);
    return this.mutate(async () => {
      const created = !this.users.has(name);
      this.users.set(name, hash);
      this.verified.delete(name);
      await this.save();
      return created;
    });
  }

  async deleteUser(name: string): Promise<void> {
    await this.mutate(async () => {
      if (!this.users.delete(name)) throw new UserDirectoryError("NOTFOUND", `no user ${name}`);
      this.verified.delete(name);
      await this.save();
    });
  }

  listUsers(): string[] {
    return [...this.users.keys()].sort();
  }

  has(name: string): boolean {
    return this.users.has(name);
  }

  private mac(name: string, password: string): Buffer {
    return createHmac("sha256", this.cacheKey).update(name).update("\0").update(password).digest();
  }

  /** True only for an existing user and their current password. Never throws for bad input. */
  async verify(name: string, password: string): Promise<boolean> {
    try {
      await this.reloadIfChanged();
    } catch {
      // A file mid-edit by hand stays unreadable until fixed; keep serving the last good copy.
    }
    const stored = this.users.get(name);
    if (stored === undefined) {
      this.dummyHash ??= this.hash(randomBytes(16).toString("hex"));
      await verifyPassword(password, await this.dummyHash, this.kdf.derive);
      return false;
    }
    const cached = this.verified.get(name);
    if (cached && cached.hash === stored && cached.expires > Date.now()) {
      if (timingSafeEqual(cached.mac, this.mac(name, password))) return true;
    }
    const ok = await verifyPassword(password, stored, this.kdf.derive);
    if (ok && this.cacheTtlMs > 0 && this.users.get(name) === stored) {
      this.verified.set(name, { mac: this.mac(name, password), hash: stored, expires: Date.now() + this.cacheTtlMs });
    }
    return ok;
  }
}
