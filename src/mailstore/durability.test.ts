import { afterEach, describe, expect, it } from "vitest";
import { keys } from "./keys";
import { countKeys, message, tempStore, type TempStore } from "./test-support";

let t: TempStore;
afterEach(async () => {
  await t?.cleanup();
});

describe("durability", () => {
  it("keeps messages, flags and UIDs across a clean restart", async () => {
    t = await tempStore();
    const user = await t.store.forUser("alice");
    const date = Date.UTC(2024, 0, 2, 3, 4, 5);
    const a = await user.append("INBOX", message("one", "first"), ["\\Seen", "$Work"], date);
    const b = await user.append("INBOX", message("two", "second"), []);
    const box = await user.open("INBOX", false);
    await box.store([b.uid], "add", ["\\Flagged"]);
    box.close();

    const again = await (await t.reopen()).forUser("alice");
    const reopened = await again.open("INBOX", true);
    const msgs = reopened.messages();
    expect(msgs.map((m) => m.uid)).toEqual([a.uid, b.uid]);
    expect(msgs[0]!.flags.sort()).toEqual(["$Work", "\\Seen"]);
    expect(msgs[0]!.internalDate).toBe(date);
    expect(msgs[1]!.flags).toEqual(["\\Flagged"]);
    expect((await reopened.body(a.uid)).toString()).toContain("first");
    expect(again.status("INBOX").uidValidity).toBe(a.uidValidity);
    expect(reopened.uidNext()).toBe(b.uid + 1);
  });

  it("recovers acknowledged writes from the op log after a crash, without a snapshot", async () => {
    t = await tempStore();
    const user = await t.store.forUser("alice");
    await user.create("Work/2025");
    const r = await user.append("Work/2025", message("kept", "survives"), ["\\Answered"]);
    expect(await t.store.db.get(keys.snapshot("alice"))).toBeUndefined();

    const store = await t.crashAndReopen();
    const again = await store.forUser("alice");
    expect(again.list().map((m) => m.name)).toContain("Work/2025");
    const box = await again.open("Work/2025", false);
    expect(box.messages()).toEqual([
      expect.objectContaining({ uid: r.uid, flags: ["\\Answered"] }),
    ]);
    // The local sequence continues: a new op must not overwrite an old one in the log.
    const opsBefore = await countKeys(store, keys.opPrefix("alice"));
    const next = await again.append("Work/2025", message("after", "crash"), []);
    expect(next.uid).toBe(r.uid + 1);
    expect(await countKeys(store, keys.opPrefix("alice"))).toBe(opsBefore + 1);
  });

  it("snapshots every N ops and replays only the ops after the snapshot", async () => {
    t = await tempStore({ snapshotEvery: 5 });
    const user = await t.store.forUser("bob");
    for (let i = 0; i < 12; i++) await user.append("INBOX", message(`m${i}`, `body ${i}`), []);
    expect(await t.store.db.get(keys.snapshot("bob"))).toBeDefined();
    const store = await t.crashAndReopen({ snapshotEvery: 5 });
    const box = await (await store.forUser("bob")).open("INBOX", true);
    expect(box.messages().map((m) => m.uid)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it("snapshots a mailbox whose messages come and go less often as their tombstones pile up", async () => {
    t = await tempStore({ snapshotEvery: 5 });
    const user = await t.store.forUser("carol");
    const box = await user.open("INBOX", false);
    const snapshots = new Set<string>();
    for (let i = 0; i < 200; i++) {
      await user.append("INBOX", message(`m${i}`, `body ${i}`), ["\\Deleted"]);
      expect(await box.expunge()).toHaveLength(1);
      const snap = await t.store.db.get(keys.snapshot("carol"));
      if (snap !== undefined) snapshots.add(String(snap));
    }
    // 400 ops and never more than one message: one snapshot every 5 ops would be 80;
    // one every (messages + tombstones) / 4 ops is about 30.
    expect(snapshots.size).toBeGreaterThan(10);
    expect(snapshots.size).toBeLessThan(40);
    const store = await t.crashAndReopen({ snapshotEvery: 5 });
    const reopened = await (await store.forUser("carol")).open("INBOX", true);
    expect(reopened.messages()).toEqual([]);
    expect(reopened.uidNext()).toBe(201);
  });

  it("group-commits concurrent appends: all acknowledged, all present after a crash", async () => {
    t = await tempStore();
    const users = await Promise.all(["u1", "u2"].map((u) => t.store.forUser(u)));
    const n = 200;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => users[i % 2]!.append("INBOX", message(`c${i}`, `concurrent ${i}`), [])),
    );
    const stats = t.store.queue.stats;
    expect(stats.batches).toBeLessThan(stats.writes);
    const u1uids = results.filter((_, i) => i % 2 === 0).map((r) => r.uid);
    expect(new Set(u1uids).size).toBe(n / 2);

    const store = await t.crashAndReopen();
    for (const u of ["u1", "u2"]) {
      const box = await (await store.forUser(u)).open("INBOX", true);
      expect(box.messages().map((m) => m.uid)).toEqual(Array.from({ length: n / 2 }, (_, i) => i + 1));
    }
  });

  it("stores a body once however many messages share it", async () => {
    t = await tempStore();
    const user = await t.store.forUser("carol");
    const body = message("same", "identical bytes");
    await user.append("INBOX", body, []);
    await user.append("Archive", body, []);
    const box = await user.open("INBOX", false);
    await box.copy([1], "Trash");
    await box.move([1], "Drafts");
    expect(await countKeys(t.store, "blob!")).toBe(1);
    expect(await countKeys(t.store, "mime!")).toBe(1);
    expect(user.status("Trash").messages).toBe(1);
    expect(user.status("Drafts").messages).toBe(1);
  });
});
