import { afterEach, describe, expect, it } from "vitest";
import { StoreError } from "../imap/store-port";
import { message, tempStore, type TempStore } from "./test-support";

let t: TempStore;
afterEach(async () => {
  await t?.cleanup();
});

async function code(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(StoreError);
    return (err as StoreError).code;
  }
  throw new Error("expected a StoreError");
}

describe("mailbox management", () => {
  it("starts a new user with the default folders, subscribed", async () => {
    t = await tempStore();
    const user = await t.store.forUser("new");
    expect(user.list().map((m) => m.name).sort()).toEqual(["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"]);
    expect(user.info("inbox")).toMatchObject({ name: "INBOX", subscribed: true });
    expect(user.info("Sent")?.specialUse).toBe("\\Sent");
    expect(user.subscriptions().sort()).toEqual(["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"]);
  });

  it("creates superior names and strips a trailing separator", async () => {
    t = await tempStore();
    const user = await t.store.forUser("u");
    await user.create("a/b/c/");
    const names = user.list().map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining(["a", "a/b", "a/b/c"]));
    expect(names).not.toContain("a/b/c/");
    expect(await code(user.create("a/b"))).toBe("ALREADYEXISTS");
    expect(await code(user.create("inbox"))).toBe("ALREADYEXISTS");
  });

  it("creates a child of an existing mailbox without duplicating the parent", async () => {
    t = await tempStore();
    const user = await t.store.forUser("u");
    await user.create("Projects");
    await user.create("Projects/2024");
    const names = user.list().map((m) => m.name).filter((n) => n.startsWith("Projects"));
    expect(names.sort()).toEqual(["Projects", "Projects/2024"]);
    await user.rename("Projects", "Work");
    const after = user.list().map((m) => m.name);
    expect(after).toEqual(expect.arrayContaining(["Work", "Work/2024"]));
    expect(after.filter((n) => n.startsWith("Projects"))).toEqual([]);
  });

  it("refuses invalid names", async () => {
    t = await tempStore();
    const user = await t.store.forUser("u");
    for (const bad of ["", "/x", "a//b", "a\r\nb", "nul\0", "x".repeat(1001), "é".repeat(501), "a*"]) {
      expect(await code(user.create(bad))).toBe("CANNOT");
    }
    expect(await code(user.rename("Junk", "/root"))).toBe("CANNOT");
  });

  it("deletes mailboxes, but not INBOX, missing ones, or ones with children", async () => {
    t = await tempStore();
    const user = await t.store.forUser("u");
    await user.create("p/q");
    expect(await code(user.delete("INBOX"))).toBe("CANNOT");
    expect(await code(user.delete("nope"))).toBe("NONEXISTENT");
    expect(await code(user.delete("p"))).toBe("CANNOT");
    await user.delete("p/q");
    await user.delete("p");
    expect(user.info("p")).toBeUndefined();
    // A mailbox created again under an old name gets a new UIDVALIDITY.
    await user.create("q");
    const v1 = user.status("q").uidValidity;
    await user.delete("q");
    await user.create("q");
    expect(user.status("q").uidValidity).toBeGreaterThan(v1);
  });

  it("renames a mailbox with its children, its messages and its subscriptions", async () => {
    t = await tempStore();
    const user = await t.store.forUser("u");
    await user.create("old/kid");
    await user.subscribe("old/kid");
    const r = await user.append("old", message("m", "hello"), ["\\Seen"]);
    expect(await code(user.rename("old", "Junk"))).toBe("ALREADYEXISTS");
    expect(await code(user.rename("missing", "x"))).toBe("NONEXISTENT");
    expect(await code(user.rename("old", "old/kid/deeper"))).toBe("CANNOT");
    await user.rename("old", "new/place");
    const names = user.list().map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining(["new", "new/place", "new/place/kid"]));
    expect(names).not.toContain("old");
    expect(names).not.toContain("old/kid");
    expect(user.status("new/place")).toMatchObject({ messages: 1, uidValidity: r.uidValidity });
    expect(user.subscriptions()).toContain("new/place/kid");
    expect(user.subscriptions()).not.toContain("old/kid");
  });

  it("renaming INBOX moves its messages to the new mailbox and leaves INBOX empty", async () => {
    t = await tempStore();
    const user = await t.store.forUser("u");
    await user.create("INBOX/child");
    await user.append("INBOX", message("1", "one"), ["\\Flagged"]);
    await user.append("INBOX", message("2", "two"), []);
    await user.rename("inbox", "Old Mail");
    expect(user.status("INBOX").messages).toBe(0);
    expect(user.info("INBOX/child")).toBeDefined();
    const box = await user.open("Old Mail", true);
    const msgs = box.messages();
    expect(msgs.map((m) => m.uid)).toEqual([1, 2]);
    expect(msgs[0]!.flags).toEqual(["\\Flagged"]);
    expect((await box.body(2)).toString()).toContain("two");
    // INBOX keeps handing out UIDs above those it used.
    const next = await user.append("INBOX", message("3", "three"), []);
    expect(next.uid).toBe(3);
  });

  it("subscribes and unsubscribes, also names that do not exist", async () => {
    t = await tempStore();
    const user = await t.store.forUser("u");
    await user.subscribe("ghost");
    await user.subscribe("ghost");
    expect(user.subscriptions().filter((s) => s === "ghost")).toHaveLength(1);
    await user.unsubscribe("Junk");
    expect(user.info("Junk")?.subscribed).toBe(false);
    expect(user.subscriptions()).not.toContain("Junk");
    await user.unsubscribe("never-subscribed");
  });

  it("reports STATUS and refuses oversized or misdirected APPENDs", async () => {
    t = await tempStore({ maxMessageSize: 400 });
    const user = await t.store.forUser("u");
    await user.append("INBOX", message("s", "x"), ["\\Seen"]);
    await user.append("INBOX", message("u", "y"), []);
    expect(user.status("INBOX")).toEqual(
      expect.objectContaining({ messages: 2, unseen: 1, uidNext: 3, recent: 2 }),
    );
    expect(await code(user.append("INBOX", Buffer.alloc(401, 0x61), []))).toBe("TOOBIG");
    expect(await code(user.append("Nowhere", message("n", "z"), []))).toBe("NONEXISTENT");
    expect(await code(() => user.status("Nowhere"))).toBe("NONEXISTENT");
    expect(await code(user.open("Nowhere", false))).toBe("NONEXISTENT");
  });
});
