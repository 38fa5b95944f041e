import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { CommitQueue } from "./commit-queue";
import { openDb, type Db } from "./leveldb";

let dir: string;
let db: Db;
afterEach(async () => {
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

it("combines writes submitted while a batch is in flight into one further batch", async () => {
  dir = await mkdtemp(join(tmpdir(), "charon-cq-"));
  db = await openDb(dir);
  const q = new CommitQueue(db);
  const first = q.submit([{ type: "put", key: "k0", value: Buffer.from("0") }]);
  // Same tick: joins the first batch.
  const second = q.submit([{ type: "put", key: "k1", value: Buffer.from("1") }]);
  await Promise.resolve();
  // The first batch is now in flight; these wait and go out together.
  const later = Array.from({ length: 50 }, (_, i) =>
    q.submit([{ type: "put", key: `k${i + 2}`, value: Buffer.from(String(i + 2)) }]),
  );
  await Promise.all([first, second, ...later]);
  expect(q.stats).toEqual({ batches: 2, writes: 52 });
  for (let i = 0; i < 52; i++) expect((await db.get(`k${i}`))?.toString()).toBe(String(i));
});

it("rejects every waiter of a failed batch", async () => {
  dir = await mkdtemp(join(tmpdir(), "charon-cq-"));
  db = await openDb(dir);
  const q = new CommitQueue(db);
  await db.close();
  const a = q.submit([{ type: "put", key: "a", value: Buffer.from("a") }]);
  const b = q.submit([{ type: "put", key: "b", value: Buffer.from("b") }]);
  await expect(a).rejects.toThrow();
  await expect(b).rejects.toThrow();
  db = await openDb(dir);
});
