import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ImapFlow, MessageStructureObject } from "imapflow";
import { removeDir, startServer, type RunningServer } from "./support/server";
import { closeQuietly, connected, snapshot, storedFlags, streamToBuffer, waitForEvent } from "./support/imapflow-client";
import { ATTACHMENT_BYTES, multipartMessage, simpleMessage } from "./support/messages";

const DEFAULT_SPECIAL_USE: Record<string, string> = {
  Sent: "\\Sent",
  Drafts: "\\Drafts",
  Trash: "\\Trash",
  Junk: "\\Junk",
  Archive: "\\Archive",
};

let srv: RunningServer;
let dataDir: string;
let alice: ImapFlow;

beforeAll(async () => {
  srv = await startServer();
  dataDir = srv.dataDir;
  alice = await connected(srv);
});

afterAll(async () => {
  await closeQuietly(alice);
  await srv?.stop();
  removeDir(dataDir);
});

describe("imapflow against charon dev", () => {
  it("lists the default mailboxes with their special-use attributes from the server", async () => {
    const list = await alice.list();
    const paths = list.map((m) => m.path).sort();
    expect(paths).toEqual(["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"]);
    for (const [name, use] of Object.entries(DEFAULT_SPECIAL_USE)) {
      const entry = list.find((m) => m.path === name)!;
      // The attribute must come from the LIST response, not from imapflow guessing by name.
      expect([...entry.flags], `LIST flags of ${name}`).toContain(use);
      expect(entry.specialUse).toBe(use);
      expect(entry.specialUseSource).toBe("extension");
    }
    expect(alice.capabilities.has("SPECIAL-USE")).toBe(true);
    expect(alice.capabilities.has("UIDPLUS")).toBe(true);
  });

  it("creates, renames (with children) and deletes mailboxes, including a non-ASCII name", async () => {
    const delim = (await alice.list()).find((m) => m.path === "INBOX")!.delimiter;
    expect(delim).toBe("/");
    const created = await alice.mailboxCreate("Projects");
    expect(created.created).toBe(true);
    await alice.mailboxCreate(["Projects", "2024"]);
    await alice.mailboxCreate("Résumé");

    let paths = (await alice.list()).map((m) => m.path);
    expect(paths).toEqual(expect.arrayContaining(["Projects", "Projects/2024", "Résumé"]));

    await alice.mailboxRename("Projects", "Work");
    paths = (await alice.list()).map((m) => m.path);
    expect(paths).toEqual(expect.arrayContaining(["Work", "Work/2024"]));
    expect(paths).not.toContain("Projects");
    expect(paths).not.toContain("Projects/2024");

    await alice.mailboxDelete("Work/2024");
    await alice.mailboxDelete("Work");
    await alice.mailboxDelete("Résumé");
    paths = (await alice.list()).map((m) => m.path);
    expect(paths).not.toContain("Work");
    expect(paths).not.toContain("Résumé");

    await expect(alice.mailboxDelete("INBOX")).rejects.toThrow();
    // imapflow reports NO [ALREADYEXISTS] as created: false instead of throwing.
    const again = await alice.mailboxCreate("INBOX").catch(() => null);
    expect(again === null || again.created === false).toBe(true);
    await expect(alice.mailboxRename("NoSuchBox", "Other")).rejects.toThrow();
    await expect(alice.mailboxDelete("NoSuchBox")).rejects.toThrow();
  });

  it("APPENDs with flags and an internal date and returns APPENDUID", async () => {
    const msg = simpleMessage({ subject: "Append test", body: "first appended body" });
    const date = new Date("2020-01-02T03:04:05Z");
    const res = await alice.append("INBOX", msg, ["\\Seen", "$Label1"], date);
    expect(res).not.toBe(false);
    if (!res) return;
    expect(typeof res.uid).toBe("number");
    expect(res.uid).toBeGreaterThan(0);
    expect(typeof res.uidValidity).toBe("bigint");

    const res2 = await alice.append("INBOX", simpleMessage({ subject: "Append two", body: "second" }));
    expect(res2 && res2.uid).toBeGreaterThan(res.uid!);
    expect(res2 && res2.uidValidity).toBe(res.uidValidity);

    const box = await alice.mailboxOpen("INBOX");
    expect(box.uidValidity).toBe(res.uidValidity);
    expect(box.exists).toBe(2);
    expect(box.uidNext).toBeGreaterThan(res2 ? res2.uid! : 0);
    const got = await alice.fetchOne(String(res.uid), { uid: true, flags: true, internalDate: true, size: true, source: true }, { uid: true });
    expect(got).not.toBe(false);
    if (!got) return;
    expect(got.uid).toBe(res.uid);
    expect(storedFlags(got)).toEqual(["$Label1", "\\Seen"]);
    expect(new Date(got.internalDate!).getTime()).toBe(date.getTime());
    expect(got.size).toBe(Buffer.byteLength(msg));
    expect(got.source!.toString("utf8")).toBe(msg);
  });

  describe("a multipart message with an attachment and a message/rfc822 part", () => {
    let uid: number;
    const raw = multipartMessage();

    beforeAll(async () => {
      await alice.mailboxCreate("Structure");
      const r = await alice.append("Structure", raw, [], new Date("2022-03-02T11:34:56Z"));
      if (!r || !r.uid) throw new Error("append to Structure gave no APPENDUID");
      uid = r.uid;
      await alice.mailboxOpen("Structure");
    });

    it("FETCH ENVELOPE", async () => {
      const m = await alice.fetchOne(String(uid), { envelope: true }, { uid: true });
      if (!m) throw new Error("no message");
      const env = m.envelope!;
      expect(env.subject).toBe("Quarterly report with attachment");
      expect(env.messageId).toBe("<report-1@example.org>");
      expect(new Date(env.date!).toISOString()).toBe("2022-03-02T11:34:56.000Z");
      expect(env.from).toEqual([{ name: "Carol Example", address: "carol@example.org" }]);
      // RFC 3501 §7.4.2: sender and reply-to default to from.
      expect(env.sender).toEqual([{ name: "Carol Example", address: "carol@example.org" }]);
      expect(env.replyTo).toEqual([{ name: "Carol Example", address: "carol@example.org" }]);
      expect(env.to).toEqual([
        { name: "Alice", address: "alice@example.com" },
        { name: "Bob", address: "bob@example.com" },
      ]);
      expect(env.cc).toEqual([{ name: "Dave", address: "dave@example.org" }]);
    });

    it("FETCH BODYSTRUCTURE", async () => {
      const m = await alice.fetchOne(String(uid), { bodyStructure: true }, { uid: true });
      if (!m) throw new Error("no message");
      const bs = m.bodyStructure!;
      expect(bs.type).toBe("multipart/mixed");
      expect(bs.parameters?.boundary).toBe("mix-b");
      const kids = bs.childNodes!;
      expect(kids.map((k) => k.type)).toEqual(["text/plain", "application/pdf", "message/rfc822"]);
      expect(kids.map((k) => k.part)).toEqual(["1", "2", "3"]);

      expect(kids[0].encoding).toBe("quoted-printable");
      expect(kids[0].parameters?.charset).toBe("utf-8");
      // Servers count a last line without CRLF differently (0 or 1); the field must be there.
    expect(typeof kids[0].lineCount).toBe("number");

      expect(kids[1].encoding).toBe("base64");
      expect(kids[1].disposition).toBe("attachment");
      expect(kids[1].dispositionParameters?.filename).toBe("report.pdf");
      expect(kids[1].parameters?.name).toBe("report.pdf");
      expect(kids[1].size).toBe(ATTACHMENT_BYTES.toString("base64").length);

      const rfc822 = kids[2];
      expect(rfc822.envelope?.subject).toBe("Inner subject");
      expect(rfc822.envelope?.from).toEqual([{ name: "Inner Person", address: "inner@example.net" }]);
      expect(typeof rfc822.lineCount).toBe("number");
      const inner: MessageStructureObject = rfc822.childNodes![0];
      expect(inner.type).toBe("multipart/alternative");
      expect(inner.childNodes!.map((k) => k.type)).toEqual(["text/plain", "text/html"]);
      expect(inner.childNodes!.map((k) => k.part)).toEqual(["3.1", "3.2"]);
    });

    it("FETCH BODY[section] parts, MIME headers and the nested message", async () => {
      const m = await alice.fetchOne(
        String(uid),
        { bodyParts: ["1", "1.MIME", "2", "3", "3.HEADER", "3.1", "3.2"] },
        { uid: true },
      );
      if (!m) throw new Error("no message");
      const parts = m.bodyParts!;
      const get = (k: string) => parts.get(k.toLowerCase())?.toString("latin1");
      expect(get("1")).toBe("Hello Alice, the quarterly numbers are attached. Gr=C3=BC=C3=9Fe");
      expect(get("1.mime")).toBe("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
      expect(get("2")).toBe(ATTACHMENT_BYTES.toString("base64"));
      const full3 = get("3")!;
      expect(full3.startsWith("From: Inner Person <inner@example.net>\r\n")).toBe(true);
      expect(full3.endsWith("--alt-b--\r\n")).toBe(true);
      expect(get("3.header")).toMatch(/^From: Inner Person.*\r\nContent-Type: multipart\/alternative; boundary="alt-b"\r\n\r\n$/s);
      expect(get("3.1")).toBe("inner plain text");
      expect(get("3.2")).toBe("<p>inner html</p>");
    });

    it("downloads decoded parts (base64 attachment, quoted-printable text)", async () => {
      const att = await alice.download(String(uid), "2", { uid: true });
      if (!att.content) throw new Error("part 2 not found");
      expect(att.meta.contentType).toBe("application/pdf");
      expect(att.meta.filename).toBe("report.pdf");
      expect((await streamToBuffer(att.content)).equals(ATTACHMENT_BYTES)).toBe(true);

      const text = await alice.download(String(uid), "1", { uid: true });
      if (!text.content) throw new Error("part 1 not found");
      expect((await streamToBuffer(text.content)).toString("utf8")).toContain("Grüße");

      const whole = await alice.download(String(uid), undefined, { uid: true });
      if (!whole.content) throw new Error("message not found");
      expect((await streamToBuffer(whole.content)).toString("latin1")).toBe(raw);
    });

    it("FETCH partial ranges BODY[]<0.10> and BODY[1]<6.5>", async () => {
      const m = await alice.fetchOne(String(uid), { source: { start: 0, maxLength: 10 } }, { uid: true });
      if (!m) throw new Error("no message");
      expect(m.source!.toString("latin1")).toBe(raw.slice(0, 10));

      const p = await alice.fetchOne(String(uid), { bodyParts: [{ key: "1", start: 6, maxLength: 5 }] }, { uid: true });
      if (!p) throw new Error("no message");
      const values = [...p.bodyParts!.values()].map((b) => b.toString("latin1"));
      expect(values).toEqual(["Alice"]);

      // A start past the end gives an empty string (RFC 3501 §6.4.5).
      const past = await alice.fetchOne(String(uid), { source: { start: raw.length + 100, maxLength: 10 } }, { uid: true });
      if (!past) throw new Error("no message");
      expect(past.source?.length ?? 0).toBe(0);
    });

    it("FETCH of a part that does not exist returns an empty string, not an error", async () => {
      const m = await alice.fetchOne(String(uid), { bodyParts: ["9"] }, { uid: true });
      if (!m) throw new Error("no message");
      expect(m.bodyParts?.get("9")?.length ?? 0).toBe(0);
    });
  });

  describe("flags, search, copy, move, expunge", () => {
    const uids: number[] = [];

    beforeAll(async () => {
      await alice.mailboxCreate("Search");
      const msgs = [
        simpleMessage({ from: "Zed <zed@example.net>", subject: "Invoice 1001", body: "Please pay the invoice for the pineapple shipment." }),
        simpleMessage({ from: "Yolanda <yolanda@example.org>", subject: "Lunch tomorrow?", body: "How about the noodle place.", extraHeaders: ["X-Priority-Tag: urgent-77"] }),
        simpleMessage({ from: "Zed <zed@example.net>", subject: "Re: Invoice 1001", body: "Paid. Thanks!" }),
        simpleMessage({ from: "Xavier <xavier@example.com>", subject: "Grüße aus Köln", body: "Schöne Grüße, Xavier" }),
      ];
      for (const [i, m] of msgs.entries()) {
        const r = await alice.append("Search", m, i % 2 === 0 ? ["\\Seen"] : []);
        if (!r || !r.uid) throw new Error("append gave no APPENDUID");
        uids.push(r.uid);
      }
      await alice.mailboxOpen("Search");
    });

    it("STORE adds, removes and replaces flags and keywords", async () => {
      const u = String(uids[1]);
      expect(await alice.messageFlagsAdd(u, ["\\Flagged", "$Important"], { uid: true })).toBe(true);
      expect(storedFlags(await alice.fetchOne(u, { flags: true }, { uid: true }))).toEqual(["$Important", "\\Flagged"]);
      await alice.messageFlagsRemove(u, ["\\Flagged"], { uid: true });
      expect(storedFlags(await alice.fetchOne(u, { flags: true }, { uid: true }))).toEqual(["$Important"]);
      await alice.messageFlagsSet(u, ["\\Answered"], { uid: true });
      expect(storedFlags(await alice.fetchOne(u, { flags: true }, { uid: true }))).toEqual(["\\Answered"]);
      // STORE must never change a message's UID or duplicate it.
      const all = await alice.fetchAll("1:*", { uid: true });
      expect(all.map((m) => m.uid)).toEqual(uids);
    });

    it("SEARCH by seen/unseen, from, subject, body, text and header", async () => {
      const s = (q: Parameters<ImapFlow["search"]>[0]) => alice.search(q, { uid: true });
      expect(await s({ seen: true })).toEqual([uids[0], uids[2]]);
      expect(await s({ seen: false })).toEqual([uids[1], uids[3]]);
      expect(await s({ from: "zed@example.net" })).toEqual([uids[0], uids[2]]);
      expect(await s({ subject: "invoice" })).toEqual([uids[0], uids[2]]);
      expect(await s({ body: "pineapple" })).toEqual([uids[0]]);
      expect(await s({ text: "noodle" })).toEqual([uids[1]]);
      expect(await s({ header: { "X-Priority-Tag": "urgent-77" } })).toEqual([uids[1]]);
      expect(await s({ subject: "Grüße" })).toEqual([uids[3]]);
      expect(await s({ body: "Schöne" })).toEqual([uids[3]]);
      expect(await s({ or: [{ from: "xavier" }, { subject: "lunch" }] })).toEqual([uids[1], uids[3]]);
      expect(await s({ not: { from: "zed" } })).toEqual([uids[1], uids[3]]);
      expect(await s({ subject: "no-such-subject-anywhere" })).toEqual([]);
      // Sequence-number SEARCH (no UID) numbers from 1.
      expect(await alice.search({ seen: true })).toEqual([1, 3]);
    });

    it("COPY returns COPYUID and keeps flags; MOVE removes the source", async () => {
      await alice.mailboxCreate("CopyTarget");
      const copy = await alice.messageCopy(`${uids[0]}:${uids[1]}`, "CopyTarget", { uid: true });
      if (!copy) throw new Error("copy failed");
      expect(typeof copy.uidValidity).toBe("bigint");
      expect([...copy.uidMap!.keys()].sort((a, b) => a - b)).toEqual([uids[0], uids[1]]);
      const destUids = [...copy.uidMap!.values()];
      expect(new Set(destUids).size).toBe(2);

      const st = await alice.status("CopyTarget", { messages: true, uidNext: true });
      expect(st && st.messages).toBe(2);
      expect(st && st.uidNext).toBeGreaterThan(Math.max(...destUids));

      const move = await alice.messageMove(String(uids[2]), "CopyTarget", { uid: true });
      if (!move) throw new Error("move failed");
      expect([...move.uidMap!.keys()]).toEqual([uids[2]]);
      const left = await alice.fetchAll("1:*", { uid: true });
      expect(left.map((m) => m.uid)).toEqual([uids[0], uids[1], uids[3]]);

      await alice.mailboxOpen("CopyTarget");
      const there = await alice.fetchAll("1:*", { uid: true, flags: true, envelope: true });
      expect(there.map((m) => m.envelope!.subject)).toEqual(["Invoice 1001", "Lunch tomorrow?", "Re: Invoice 1001"]);
      expect(there.map((m) => m.uid)).toEqual([...destUids, move.uidMap!.get(uids[2])!]);
      expect(storedFlags(there[0])).toEqual(["\\Seen"]);
      expect(storedFlags(there[2])).toEqual(["\\Seen"]);
      await alice.mailboxOpen("Search");
    });

    it("EXPUNGE removes only \\Deleted messages and never reuses their UIDs", async () => {
      const before = await alice.status("Search", { uidNext: true });
      await alice.messageDelete(String(uids[0]), { uid: true });
      const left = await alice.fetchAll("1:*", { uid: true });
      expect(left.map((m) => m.uid)).toEqual([uids[1], uids[3]]);
      const r = await alice.append("Search", simpleMessage({ subject: "after expunge", body: "x" }));
      expect(r && r.uid).toBeGreaterThanOrEqual(before ? before.uidNext! : Infinity);
      expect(r && r.uid).toBeGreaterThan(uids[3]);
    });
  });

  it("an IDLE session sees another session's APPEND (EXISTS) and EXPUNGE", async () => {
    await alice.mailboxCreate("IdleBox");
    await alice.append("IdleBox", simpleMessage({ subject: "idle seed", body: "seed" }));
    const watcher = await connected(srv);
    try {
      await watcher.mailboxOpen("IdleBox");
      expect(watcher.mailbox && watcher.mailbox.exists).toBe(1);
      const idling = watcher.idle();

      const exists = waitForEvent<{ path: string; count: number; prevCount: number }>(watcher, "exists", (e) => e.count === 2);
      const r = await alice.append("IdleBox", simpleMessage({ subject: "idle new", body: "new" }));
      const ev = await exists;
      expect(ev.path).toBe("IdleBox");
      expect(ev.prevCount).toBe(1);

      const expunged = waitForEvent<{ path: string; seq?: number; uid?: number }>(watcher, "expunge", () => true);
      await alice.mailboxOpen("IdleBox");
      await alice.messageDelete(String(r && r.uid), { uid: true });
      const ex = await expunged;
      expect(ex.path).toBe("IdleBox");
      expect(ex.seq).toBe(2);

      // Leaving IDLE (DONE) must complete with a tagged OK and the session must stay usable.
      const nooped = watcher.noop();
      await nooped;
      await idling;
      expect(watcher.mailbox && watcher.mailbox.exists).toBe(1);
    } finally {
      await closeQuietly(watcher);
    }
  });

  it("another user cannot see alice's mailboxes and wrong passwords are refused", async () => {
    const bob = await connected(srv, "bob", "secret2");
    try {
      const paths = (await bob.list()).map((m) => m.path);
      expect(paths).not.toContain("Search");
      expect(paths).not.toContain("Structure");
      const st = await bob.status("INBOX", { messages: true });
      expect(st && st.messages).toBe(0);
    } finally {
      await closeQuietly(bob);
    }
    await expect(connected(srv, "alice", "wrong-password")).rejects.toThrow();
    await expect(connected(srv, "nobody", "secret1")).rejects.toThrow();
  });

  it("a restart on the same data directory keeps every acknowledged message, flag and UID", async () => {
    const before = await snapshot(alice);
    expect(before.find((b) => b.path === "INBOX")!.msgs.length).toBe(2);
    await closeQuietly(alice);

    const stopped = await srv.stop();
    expect(stopped.forced, "SIGTERM did not stop the server within 10 s").toBe(false);
    expect(stopped.code, `exit after SIGTERM; stderr tail:\n${srv.stderr().slice(-2000)}`).toBe(0);

    srv = await startServer({ dataDir });
    alice = await connected(srv);
    const after = await snapshot(alice);
    expect(after).toEqual(before);

    // UIDs handed out before the restart are never handed out again.
    const inbox = before.find((b) => b.path === "INBOX")!;
    const r = await alice.append("INBOX", simpleMessage({ subject: "after restart", body: "x" }));
    expect(r && r.uid).toBeGreaterThanOrEqual(inbox.uidNext);
    expect(r && String(r.uidValidity)).toBe(inbox.uidValidity);
  });
});
