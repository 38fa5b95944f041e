import { afterEach, describe, expect, it } from "vitest";
import { digest, type Op } from "../crdt";
import type { MailboxChange } from "../imap/store-port";
import type { LevelMailStore } from "./mail-store";
import { message, tempStore, type TempStore } from "./test-support";

const temps: TempStore[] = [];
afterEach(async () => {
  for (const t of temps.splice(0)) await t.cleanup();
});

/** Ships every op `from` has that `to` lacks, with the blobs they introduce. */
async function sync(from: LevelMailStore, to: LevelMailStore, user: string): Promise<number> {
  // A reassignment issued while applying is logged once its batch is written.
  await from.queue.drain();
  const target = await to.replica(user);
  const ops: Op[] = await from.readOps(user, target.versionVector());
  for (const op of ops) {
    const blobs = new Map<string, Buffer>();
    for (const e of op.effects) {
      if (e.type === "message.add" && !(await to.hasBlob(e.blob))) blobs.set(e.blob, (await from.getBlob(e.blob))!);
    }
    await target.applyRemote(op, blobs);
  }
  return ops.length;
}

describe("remote ops", () => {
  it("keeps a removed message for FETCH only in a handle that watches its mailbox, until its session told the client", async () => {
    const a = await tempStore({ replicaId: "w1" });
    const b = await tempStore({ replicaId: "s1" });
    temps.push(a, b);
    const ua = await a.store.forUser("u");
    for (let i = 1; i <= 2; i++) await ua.append("INBOX", message(`m${i}`, `body ${i}`), ["\\Deleted"]);
    await sync(a.store, b.store, "u");
    const watched = await (await b.store.forUser("u")).open("INBOX", true);
    watched.watch(() => undefined);
    const box = await ua.open("INBOX", false);
    await box.expunge([1]);
    await sync(a.store, b.store, "u");
    // b's session still numbers message 1 until it is told: b keeps it. Nobody on a watches INBOX.
    expect(watched.removedMessage(1)?.uid).toBe(1);
    expect(box.removedMessage(1)).toBeUndefined();
    // The session told its client: the record goes.
    watched.forgetRemoved([1]);
    expect(watched.removedMessage(1)).toBeUndefined();
    // Once nobody on b watches either, a removal is not kept there (a storage node, say, keeps none).
    watched.close();
    await box.expunge([2]);
    await sync(a.store, b.store, "u");
    expect((await (await b.store.forUser("u")).open("INBOX", true)).removedMessage(2)).toBeUndefined();
  });

  it("merges a split brain: the losing messages get fresh UIDs and every replica converges", async () => {
    const a = await tempStore({ replicaId: "w1" });
    const b = await tempStore({ replicaId: "s1" });
    temps.push(a, b);
    const ua = await a.store.forUser("u");
    const ub = await b.store.forUser("u");
    await ua.append("INBOX", message("from a", "written on a"), []);
    await ub.append("INBOX", message("from b", "written on b"), ["\\Seen"]);

    const watched = await ua.open("INBOX", false);
    const events: MailboxChange[] = [];
    watched.watch((c) => events.push(c));
    const shipped: string[] = [];
    a.store.onDurableOp((user, op, local) => shipped.push(`${user} ${op.id.replica}:${op.id.seq} ${local}`));

    // Both claimed UID 1: both lose it and each origin issues a uid.reassign.
    for (let round = 0; round < 3; round++) {
      await sync(a.store, b.store, "u");
      await sync(b.store, a.store, "u");
    }
    // Converged: nothing is left to ship either way.
    expect(await sync(a.store, b.store, "u")).toBe(0);
    expect(await sync(b.store, a.store, "u")).toBe(0);
    const ra = await a.store.replica("u");
    const rb = await b.store.replica("u");
    expect(digest(ra.state)).toBe(digest(rb.state));
    const uids = watched.messages().map((m) => m.uid);
    expect(uids).toHaveLength(2);
    expect(Math.min(...uids)).toBeGreaterThan(1);
    expect(new Set(uids).size).toBe(2);
    const bodies = await Promise.all(uids.map((u) => watched.body(u).then(String)));
    expect(bodies.some((s) => s.includes("written on b"))).toBe(true);
    // The session saw the collision as EXPUNGE of UID 1 plus new messages.
    expect(events).toContainEqual({ kind: "removed", uid: 1 });
    expect(events.filter((e) => e.kind === "added")).toHaveLength(2);
    expect(shipped.some((s) => s.endsWith("false"))).toBe(true);
    expect(shipped.some((s) => s.startsWith("u w1:") && s.endsWith("true"))).toBe(true);

    // A replayed op is ignored; the merged state survives a restart of either side.
    const again = await a.store.readOps("u", {});
    expect(await ra.applyRemote(again[0]!)).toBe(false);
    const reopened = await a.crashAndReopen();
    expect(digest((await reopened.replica("u")).state)).toBe(digest(rb.state));
  });

  it("counts an op in the durable vector only once its batch is on disk", async () => {
    const a = await tempStore({ replicaId: "w1" });
    const b = await tempStore({ replicaId: "s1" });
    temps.push(a, b);
    const ua = await a.store.forUser("u");
    const ra = await a.store.replica("u");
    // The op is applied before create() first awaits; its commit is still queued.
    const creating = ua.create("x");
    const applied = ra.versionVector()["w1"]!;
    expect(applied).toBeGreaterThan(0);
    expect(ra.durableVersionVector()["w1"] ?? 0).toBe(applied - 1);
    await creating;
    expect(ra.durableVersionVector()).toEqual(ra.versionVector());

    const rb = await b.store.replica("u");
    const [op] = await a.store.readOps("u", rb.versionVector());
    const receiving = rb.applyRemote(op!);
    await Promise.resolve();
    expect(rb.versionVector()["w1"]).toBe(op!.id.seq);
    expect(rb.durableVersionVector()["w1"] ?? 0).toBeLessThan(op!.id.seq);
    await receiving;
    expect(rb.durableVersionVector()["w1"]).toBe(op!.id.seq);

    // After a restart everything loaded is on disk.
    const reopened = await a.crashAndReopen();
    const again = await reopened.replica("u");
    expect(again.durableVersionVector()).toEqual(again.versionVector());
    expect(again.durableVersionVector()["w1"]).toBe(applied);
  });

  it("refuses an op whose causal context has not been delivered", async () => {
    const a = await tempStore({ replicaId: "w1" });
    const b = await tempStore({ replicaId: "s1" });
    temps.push(a, b);
    const ua = await a.store.forUser("u");
    await ua.create("x");
    await ua.create("y");
    const ops = await a.store.readOps("u", {});
    const rb = await b.store.replica("u");
    expect(rb.isReady(ops[1]!)).toBe(false);
    await expect(rb.applyRemote(ops[1]!)).rejects.toMatchObject({ code: "SERVERBUG" });
    expect(await rb.applyRemote(ops[0]!)).toBe(true);
    expect(await rb.applyRemote(ops[1]!)).toBe(true);
    expect((await b.store.forUser("u")).info("y")).toBeDefined();
  });
});
