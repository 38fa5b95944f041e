// BlobStore over a real LevelDB: bodies stay readable from memory while their
// batch is pending and, within a byte budget, after it is on disk.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BlobStore, sha256Hex } from "./blob-store";
import { openDb, type Db } from "./leveldb";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function db(): Promise<Db> {
  const dir = mkdtempSync(path.join(tmpdir(), "charon-blobs-"));
  const d = await openDb(dir);
  cleanups.push(async () => {
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return d;
}

async function write(store: BlobStore, d: Db, body: Buffer): Promise<string> {
  const sha = sha256Hex(body);
  await d.batch(store.stage(sha, body, undefined), { sync: true });
  store.settle(sha);
  return sha;
}

describe("BlobStore", () => {
  it("serves bodies written lately from memory, and older ones from disk once past the byte budget", async () => {
    const d = await db();
    const store = new BlobStore(d, 8 * 1024);
    const bodies = [0, 1, 2, 3].map((i) => Buffer.alloc(1000, 65 + i));
    const shas: string[] = [];
    for (const b of bodies) shas.push(await write(store, d, b));
    const reads = vi.spyOn(d, "get");
    for (let i = 0; i < 4; i++) expect(await store.get(shas[i]!)).toEqual(bodies[i]);
    expect(reads).not.toHaveBeenCalled();
    // 8 more KB push the first bodies out of memory: they come from LevelDB, unchanged.
    for (let i = 0; i < 8; i++) await write(store, d, Buffer.alloc(1000, 97 + i));
    expect(await store.get(shas[0]!)).toEqual(bodies[0]);
    expect(reads).toHaveBeenCalled();
    expect(await store.has(shas[0]!)).toBe(true);
    expect(await store.get(sha256Hex(Buffer.from("never stored")))).toBeUndefined();
  });
});
