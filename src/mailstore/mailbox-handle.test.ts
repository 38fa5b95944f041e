import { afterEach, describe, expect, it } from "vitest";
import type { MailboxChange } from "../imap/store-port";
import { StoreError } from "../imap/store-port";
import { countKeys, message, tempStore, type TempStore } from "./test-support";

let t: TempStore;
afterEach(async () => {
  await t?.cleanup();
});

describe("mailbox handles", () => {
  it("copies and moves with consecutive destination UIDs in source order, sharing the blob", async () => {
    t = await tempStore();
    const user = await t.store.forUser("u");
    for (let i = 1; i <= 4; i++) await user.append("INBOX", message(`m${i}`, `body ${i}`), i === 2 ? ["\\Seen"] : []);
    await user.append("Archive", message("pre", "existing"), []);
    const box = await user.open("INBOX", false);
    const copied = await box.copy([4, 2, 99], "Archive");
    expect(copied).toEqual({ uidValidity: user.status("Archive").uidValidity, pairs: [[2, 2], [4, 3]] });
    const archive = await user.open("Archive", true);
    expect(archive.messages().map((m) => [m.uid, m.flags])).toEqual([[1, []], [2, ["\\Seen"]], [3, []]]);
    expect(await countKeys(t.store, "blob!")).toBe(5);

    const moved = await box.move([1, 3], "Trash");
    expect(moved.pairs).toEqual([[1, 1], [3, 2]]);
    expect(box.messages().map((m) => m.uid)).toEqual([2, 4]);
    expect((await (await user.open("Trash", true)).body(2)).toString()).toContain("body 3");
    expect(await countKeys(t.store, "blob!")).toBe(5);
    await expect(box.copy([2], "Missing")).rejects.toMatchObject({ code: "NONEXISTENT" });
  });

  it("STORE returns the new flags of changed messages and never stores \\Recent", async () => {
    t = await tempStore();
    const user = await t.store.forUser("u");
    await user.append("INBOX", message("a", "a"), ["\\Seen"]);
    await user.append("INBOX", message("b", "b"), []);
    const box = await user.open("INBOX", false);
    const added = await box.store([1, 2, 7], "add", ["\\seen", "\\Recent", "$Label"]);
    expect([...added.keys()].sort()).toEqual([1, 2]);
    expect(added.get(2)!.sort()).toEqual(["$Label", "\\Seen"]);
    const again = await box.store([1, 2], "add", ["\\Seen"]);
    expect(again.size).toBe(0);
    const set = await box.store([1], "set", ["\\Flagged"]);
    expect(set.get(1)).toEqual(["\\Flagged"]);
    const removed = await box.store([2], "remove", ["$Label"]);
    expect(removed.get(2)).toEqual(["\\Seen"]);
    expect(box.messages().map((m) => m.flags)).toEqual([["\\Flagged"], ["\\Seen"]]);
  });

  it("EXPUNGE removes \\Deleted messages, limited to given UIDs; an expunged body stays readable", async () => {
    t = await tempStore();
    const user = await t.store.forUser("u");
    for (let i = 1; i <= 4; i++) await user.append("INBOX", message(`m${i}`, `body ${i}`), i === 3 ? [] : ["\\Deleted"]);
    const box = await user.open("INBOX", false);
    // A selected mailbox is watched by its session's view; that is what keeps expunged bodies readable to it.
    box.watch(() => undefined);
    expect(await box.expunge([2, 3])).toEqual([2]);
    expect(await box.expunge()).toEqual([1, 4]);
    expect(box.messages().map((m) => m.uid)).toEqual([3]);
    expect((await box.body(4)).toString()).toContain("body 4");
    expect(await box.expunge()).toEqual([]);
    // UIDs are never reused.
    expect((await user.append("INBOX", message("n", "new"), [])).uid).toBe(5);
  });

  it("read-only handles refuse changes, and see \\Recent without claiming it", async () => {
    t = await tempStore();
    const user = await t.store.forUser("u");
    await user.append("INBOX", message("a", "a"), ["\\Deleted"]);
    const ro = await user.open("INBOX", true);
    expect(ro.recentAmong([1])).toEqual([1]);
    expect(ro.recentAmong([1])).toEqual([1]);
    expect(user.status("INBOX").recent).toBe(1);
    const rw = await user.open("INBOX", false);
    expect(rw.recentAmong([1])).toEqual([1]);
    expect(ro.recentAmong([1])).toEqual([]);
    for (const p of [ro.store([1], "add", ["\\Seen"]), ro.expunge(), ro.move([1], "Trash")]) {
      await expect(p).rejects.toBeInstanceOf(StoreError);
    }
    expect((await ro.copy([1], "Trash")).pairs).toEqual([[1, 1]]);
  });

  it("gives \\Recent to exactly one session", async () => {
    t = await tempStore();
    const user = await t.store.forUser("u");
    await user.append("INBOX", message("a", "a"), []);
    await user.append("INBOX", message("b", "b"), []);
    const s1 = await user.open("INBOX", false);
    const s2 = await user.open("INBOX", false);
    expect(user.status("INBOX").recent).toBe(2);
    expect(s1.recentAmong([1, 2])).toEqual([1, 2]);
    expect(s2.recentAmong([1, 2])).toEqual([]);
    expect(user.status("INBOX").recent).toBe(0);
    await user.append("INBOX", message("c", "c"), []);
    expect(s2.recentAmong([1, 2, 3])).toEqual([3]);
    expect(s1.recentAmong([3])).toEqual([]);
    // The unclaimed UIDs are the tail of the ascending list, however long.
    for (const body of ["d", "e", "f"]) await user.append("INBOX", message(body, body), []);
    expect(s1.recentAmong([1, 2, 3, 4, 5, 6])).toEqual([4, 5, 6]);
    expect(s2.recentAmong([2, 3, 4, 5, 6])).toEqual([]);
    // Survives a restart: old messages are not \Recent again.
    const again = await (await t.reopen()).forUser("u");
    expect(again.status("INBOX").recent).toBe(0);
  });

  it("tells every open handle about every change, in apply order", async () => {
    t = await tempStore();
    const user = await t.store.forUser("u");
    const mine = await user.open("INBOX", false);
    const other = await user.open("INBOX", false);
    const seen: MailboxChange[] = [];
    const own: MailboxChange[] = [];
    other.watch((c) => seen.push(c));
    mine.watch((c) => own.push(c));
    await user.append("INBOX", message("a", "a"), []);
    await user.append("INBOX", message("b", "b"), []);
    await mine.store([1], "add", ["\\Deleted"]);
    await mine.expunge();
    await mine.move([2], "Trash");
    expect(seen).toEqual([
      { kind: "added", message: expect.objectContaining({ uid: 1, flags: [] }) },
      { kind: "added", message: expect.objectContaining({ uid: 2 }) },
      { kind: "flags", uid: 1, flags: ["\\Deleted"] },
      { kind: "removed", uid: 1 },
      { kind: "removed", uid: 2 },
    ]);
    expect(own).toEqual(seen);

    // A second session of the same user in this process, via forUser again.
    const sameUser = await t.store.forUser("u");
    const trash = await sameUser.open("Trash", false);
    const trashEvents: MailboxChange[] = [];
    trash.watch((c) => trashEvents.push(c));
    const stop = other.watch(() => {
      throw new Error("a failing watcher must not break others");
    });
    await user.append("Trash", message("c", "c"), []);
    stop();
    expect(trashEvents).toEqual([{ kind: "added", message: expect.objectContaining({ uid: 2 }) }]);

    await user.create("Doomed");
    const doomed = await user.open("Doomed", false);
    const gone: MailboxChange[] = [];
    doomed.watch((c) => gone.push(c));
    await user.delete("Doomed");
    expect(gone).toEqual([{ kind: "gone" }]);
    mine.close();
    await user.append("INBOX", message("d", "d"), []);
    expect(own).toHaveLength(5);
  });

  it("keeps the keywords a mailbox has defined, and tells each watcher of a new one once, before the flags", async () => {
    t = await tempStore();
    const user = await t.store.forUser("u");
    await user.append("INBOX", message("a", "a"), ["$Old", "\\Seen"]);
    await user.append("INBOX", message("b", "b"), []);
    const box = await user.open("INBOX", false);
    expect([...box.keywords()]).toEqual(["$Old"]);
    const seen: MailboxChange[] = [];
    box.watch((c) => seen.push(c));
    await box.store([2], "add", ["$New", "\\Deleted"]);
    expect(seen.map((c) => c.kind)).toEqual(["keywords", "flags"]);
    await box.store([1], "add", ["$New"]);
    await box.store([1, 2], "remove", ["$Old", "$New"]);
    await box.expunge();
    expect(seen.filter((c) => c.kind === "keywords")).toEqual([{ kind: "keywords", keywords: ["$New"] }]);
    // No message carries either now; a handle opened later is given both.
    expect(box.messages().flatMap((m) => m.flags)).toEqual(["\\Seen"]);
    expect([...(await user.open("INBOX", true)).keywords()]).toEqual(["$Old", "$New"]);
    // One that comes while no session watches joins the list too.
    box.close();
    await user.append("INBOX", message("c", "c"), ["$Quiet"]);
    expect([...(await user.open("INBOX", true)).keywords()]).toEqual(["$Old", "$New", "$Quiet"]);
  });

  it("caches the MIME structure of a body", async () => {
    t = await tempStore();
    const user = await t.store.forUser("u");
    await user.append("INBOX", message("mime", "text"), []);
    const box = await user.open("INBOX", true);
    const node = await box.mime(1);
    expect(node.type.toLowerCase()).toBe("text");
    expect(node.subtype.toLowerCase()).toBe("plain");
    expect(await countKeys(t.store, "mime!")).toBe(1);
  });
});
