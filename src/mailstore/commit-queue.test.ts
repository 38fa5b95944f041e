import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { CommitQueue } from "./commit-queue";
import { openDb, type Db } from "./leveldb";
import { interceptWrites } from "./test-support";

let dir: string;
let db: Db;
afterEach(async () => {
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

it("combines writes submitted while a batch is in flight into one further batch", async () => {
  const q = await freshQueue();
  const first = q.submit([{ type: "put", key: "k0", value: Buffer.from("0") }]);
  // Same turn of the event loop: joins the first batch.
  const second = q.submit([{ type: "put", key: "k1", value: Buffer.from("1") }]);
  await endOfTurn();
  // The first batch is now in flight; these wait and go out together.
  const later = Array.from({ length: 50 }, (_, i) =>
    q.submit([{ type: "put", key: `k${i + 2}`, value: Buffer.from(String(i + 2)) }]),
  );
  await Promise.all([first, second, ...later]);
  expect(q.stats).toEqual({ batches: 2, writes: 52 });
  for (let i = 0; i < 52; i++) expect((await db.get(`k${i}`))?.toString()).toBe(String(i));
});

it("puts writes from later ticks of the same event-loop turn in the first batch", async () => {
  const q = await freshQueue();
  // A pipelined STORE, STORE, EXPUNGE: each handler submits after the previous one's awaits.
  const writes: Promise<void>[] = [];
  for (let i = 0; i < 3; i++) {
    writes.push(q.submit([{ type: "put", key: `p${i}`, value: Buffer.from(String(i)) }]));
    for (let t = 0; t < 5; t++) await Promise.resolve();
  }
  await Promise.all(writes);
  expect(q.stats).toEqual({ batches: 1, writes: 3 });
});

it("lets lingering writes from different turns share one batch", async () => {
  const q = await freshQueue();
  const first = q.submit([{ type: "put", key: "r1", value: Buffer.from("1") }], 200);
  await endOfTurn();
  await endOfTurn();
  const second = q.submit([{ type: "put", key: "r2", value: Buffer.from("2") }], 200);
  await Promise.all([first, second]);
  expect(q.stats).toEqual({ batches: 1, writes: 2 });
});

it("writes lingering ops with the next plain write, at the end of its turn, and on drain", async () => {
  const q = await freshQueue();
  // A minute of linger: only the plain submit (or drain) can get these out within the test's time.
  const lingering = q.submit([{ type: "put", key: "remote", value: Buffer.from("r") }], 60_000);
  const plain = q.submit([{ type: "put", key: "local", value: Buffer.from("l") }]);
  await Promise.all([lingering, plain]);
  expect(q.stats).toEqual({ batches: 1, writes: 2 });
  const alone = q.submit([{ type: "put", key: "alone", value: Buffer.from("a") }], 60_000);
  await q.drain();
  await alone;
  expect((await db.get("alone"))?.toString()).toBe("a");
  expect(q.stats).toEqual({ batches: 2, writes: 3 });
});

it("keeps a lingering write's deadline when it arrived during another batch", async () => {
  const q = await freshQueue();
  const plain = q.submit([{ type: "put", key: "local", value: Buffer.from("l") }]);
  await endOfTurn();
  // The plain batch is in flight: this one waits for it, then lingers instead of going out alone.
  const during = q.submit([{ type: "put", key: "r1", value: Buffer.from("1") }], 60_000);
  await plain;
  // Two turns: time enough for a batch scheduled when the first one ended to have started.
  await endOfTurn();
  await endOfTurn();
  const after = q.submit([{ type: "put", key: "r2", value: Buffer.from("2") }], 60_000);
  const next = q.submit([{ type: "put", key: "local2", value: Buffer.from("l") }]);
  await Promise.all([during, after, next]);
  expect(q.stats).toEqual({ batches: 2, writes: 4 });
});

it("rejects a batch with a bad op and writes the next one", async () => {
  const q = await freshQueue();
  const bad = q.submit([{ type: "put", key: "bad", value: undefined as unknown as Buffer }]);
  await expect(bad).rejects.toThrow();
  await q.submit([{ type: "put", key: "good", value: Buffer.from("g") }]);
  expect((await db.get("good"))?.toString()).toBe("g");
});

it("rejects every waiter of a failed batch", async () => {
  const q = await freshQueue();
  await db.close();
  const a = q.submit([{ type: "put", key: "a", value: Buffer.from("a") }]);
  const b = q.submit([{ type: "put", key: "b", value: Buffer.from("b") }]);
  await expect(a).rejects.toThrow();
  await expect(b).rejects.toThrow();
  db = await openDb(dir);
});

/** A database in a new temporary directory, in `db` for the test and afterEach. */
async function freshDb(): Promise<void> {
  dir = await mkdtemp(join(tmpdir(), "charon-cq-"));
  db = await openDb(dir);
}

async function freshQueue(): Promise<CommitQueue> {
  await freshDb();
  return new CommitQueue(db);
}

/** Lets the queue's scheduled batch go out: it waits for the end of the event-loop turn. */
function endOfTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Opens a fresh database whose writes are counted, with whether each asked for an fsync. */
async function openCountedDb(): Promise<{ sync: boolean }[]> {
  await freshDb();
  const writes: { sync: boolean }[] = [];
  interceptWrites(db, (real, sync) => {
    writes.push({ sync });
    return real();
  });
  return writes;
}

it("carries a write in the next synchronous batch instead of a write of its own", async () => {
  const writes = await openCountedDb();
  const q = new CommitQueue(db, 60_000);
  const carried = q.carry([{ type: "put", key: "mark", value: Buffer.from("7") }]);
  await new Promise((r) => setTimeout(r, 20));
  expect(writes).toEqual([]);
  await Promise.all([carried, q.submit([{ type: "put", key: "op", value: Buffer.from("x") }])]);
  expect(writes).toEqual([{ sync: true }]);
  expect(q.stats).toEqual({ batches: 1, writes: 1 });
  expect((await db.get("mark"))?.toString()).toBe("7");
});

it("writes carried ops without an fsync when no batch comes in time, and on drain", async () => {
  const writes = await openCountedDb();
  const soon = new CommitQueue(db, 10);
  await soon.carry([{ type: "put", key: "a", value: Buffer.from("1") }]);
  expect(writes).toEqual([{ sync: false }]);
  expect((await db.get("a"))?.toString()).toBe("1");

  const late = new CommitQueue(db, 60_000);
  let written = false;
  const carried = late.carry([{ type: "put", key: "b", value: Buffer.from("2") }]).then(() => (written = true));
  await late.close();
  expect(written).toBe(true);
  await carried;
  expect((await db.get("b"))?.toString()).toBe("2");
  await expect(late.carry([])).rejects.toThrow(/closed/);
});

it("carries ops that arrive during a batch into a later write", async () => {
  const writes = await openCountedDb();
  const q = new CommitQueue(db, 10);
  const first = q.submit([{ type: "put", key: "op", value: Buffer.from("x") }]);
  await endOfTurn();
  // The batch is in flight and nothing else is submitted: the mark goes out on its own, unsynced.
  const carried = q.carry([{ type: "put", key: "mark", value: Buffer.from("9") }]);
  await Promise.all([first, carried]);
  expect(writes).toEqual([{ sync: true }, { sync: false }]);
  expect((await db.get("mark"))?.toString()).toBe("9");
});
