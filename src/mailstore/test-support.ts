// Shared by the mailstore tests: a real LevelDB store in a fresh temp dir.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Db } from "./leveldb";
import { createMailStore, type LevelMailStore, type MailStoreOptions } from "./mail-store";

export interface TempStore {
  dir: string;
  store: LevelMailStore;
  /** Closes cleanly (snapshots) and opens a new instance on the same directory. */
  reopen(opts?: Partial<MailStoreOptions>): Promise<LevelMailStore>;
  /**
   * Like kill -9 after the acknowledged writes: closes the database without
   * the close-time snapshot or anything else the store would do on shutdown,
   * then opens a new instance.
   */
  crashAndReopen(opts?: Partial<MailStoreOptions>): Promise<LevelMailStore>;
  cleanup(): Promise<void>;
}

export async function tempStore(opts: Partial<MailStoreOptions> = {}): Promise<TempStore> {
  const dir = await mkdtemp(join(tmpdir(), "charon-mailstore-"));
  const base: MailStoreOptions = { dir, replicaId: "w1", maxMessageSize: 1024 * 1024, ...opts };
  const t: TempStore = {
    dir,
    store: await createMailStore(base),
    async reopen(more = {}) {
      await t.store.close();
      t.store = await createMailStore({ ...base, ...more });
      return t.store;
    },
    async crashAndReopen(more = {}) {
      await t.store.db.close();
      t.store = await createMailStore({ ...base, ...more });
      return t.store;
    },
    async cleanup() {
      if (t.store.db.status === "open") await t.store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return t;
}

export function message(subject: string, text: string, extraHeaders: string[] = []): Buffer {
  return Buffer.from(
    [
      "From: Alice <alice@example.org>",
      "To: Bob <bob@example.org>",
      `Subject: ${subject}`,
      "Date: Mon, 3 Feb 2025 23:30:00 -0800",
      "Message-ID: <" + subject.replace(/\W/g, "") + "@example.org>",
      ...extraHeaders,
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
      "",
      text,
      "",
    ].join("\r\n"),
  );
}

export async function countKeys(store: LevelMailStore, prefix: string): Promise<number> {
  let n = 0;
  for await (const _ of store.db.keys({ gt: prefix, lt: prefix + "~" })) n++;
  return n;
}

/**
 * Routes every batch write of `db` through `write`, which gets the real write
 * and whether it asks for an fsync: to count writes, hold them back as a slow
 * disk would, or fail them as a full one would.
 */
export function interceptWrites(db: Db, write: (real: () => Promise<void>, sync: boolean) => Promise<void>): void {
  type Chained = { write(options?: { sync?: boolean }): Promise<void> };
  const batch = db.batch.bind(db) as () => Chained;
  db.batch = (() => {
    const chained = batch();
    const real = chained.write.bind(chained);
    chained.write = (options) => write(() => real(options), options?.sync === true);
    return chained;
  }) as unknown as Db["batch"];
}
