import { afterEach, describe, expect, it, vi } from "vitest";
import type { SearchKey } from "../imap/types";
import { zoneOffsetMinutes } from "./search";
import { message, tempStore, type TempStore } from "./test-support";

let t: TempStore;
afterEach(async () => {
  await t?.cleanup();
});

const b64 = (s: string) =>
  Buffer.from(s, "utf8")
    .toString("base64")
    .replace(/(.{76})/g, "$1\r\n");

const multipart = Buffer.from(
  [
    "From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.de>",
    "To: team@example.org",
    "Subject: =?UTF-8?B?" + Buffer.from("Größe der Ärmel").toString("base64") + "?=",
    "Date: Tue, 4 Feb 2025 00:30:00 +0100",
    "X-Tracking: abc123",
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="XX"',
    "",
    "--XX",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: base64",
    "",
    b64("Die geheime Zutat ist Zimtzucker.\r\n"),
    "--XX",
    "Content-Type: application/octet-stream",
    "Content-Transfer-Encoding: base64",
    "",
    b64("binaryneedle"),
    "--XX--",
    "",
  ].join("\r\n"),
);

async function setup() {
  t = await tempStore();
  const user = await t.store.forUser("u");
  // uid 1: sent Mon 3 Feb 2025 23:30 -0800 (= 4 Feb 07:30 UTC)
  await user.append("INBOX", message("Quarterly report", "numbers inside"), ["\\Seen"], Date.UTC(2025, 1, 4, 12));
  // uid 2: sent Tue 4 Feb 2025 00:30 +0100 (= 3 Feb 23:30 UTC)
  await user.append("INBOX", multipart, ["\\Flagged", "$Todo"], Date.UTC(2025, 1, 5, 12));
  await user.append("INBOX", message("short", "x"), [], Date.UTC(2025, 1, 6, 12));
  const box = await user.open("INBOX", false);
  return { user, box };
}

describe("search", () => {
  it("evaluates metadata keys without reading any body", async () => {
    const { box } = await setup();
    const get = vi.spyOn(t.store.blobs, "get");
    const mime = vi.spyOn(t.store.blobs, "getMime");
    const seqOf = (uid: number) => uid;
    const run = (key: SearchKey) => box.search(key, seqOf, new Set([3]));
    expect(await run({ op: "FLAG", flag: "\\Seen", present: false })).toEqual([2, 3]);
    expect(await run({ op: "FLAG", flag: "$todo", present: true })).toEqual([2]);
    expect(await run({ op: "NEW" })).toEqual([3]);
    expect(await run({ op: "OLD" })).toEqual([1, 2]);
    expect(await run({ op: "RECENT" })).toEqual([3]);
    expect(await run({ op: "ON", date: "2025-02-05" })).toEqual([2]);
    expect(await run({ op: "BEFORE", date: "2025-02-05" })).toEqual([1]);
    expect(await run({ op: "SINCE", date: "2025-02-05" })).toEqual([2, 3]);
    const size3 = box.messages()[2]!.size;
    expect(await run({ op: "SMALLER", size: size3 + 1 })).toContain(3);
    expect(await run({ op: "LARGER", size: size3 })).not.toContain(3);
    expect(await run({ op: "SEQ", set: [{ from: 2, to: null }] })).toEqual([2, 3]);
    expect(await run({ op: "UID", set: [{ from: null, to: null }] })).toEqual([3]);
    expect(
      await run({ op: "OR", left: { op: "UID", set: [{ from: 1, to: 1 }] }, right: { op: "NOT", key: { op: "ALL" } } }),
    ).toEqual([1]);
    expect(await run({ op: "AND", keys: [{ op: "ALL" }, { op: "NOT", key: { op: "FLAG", flag: "\\Flagged", present: true } }] })).toEqual([1, 3]);
    expect(get).not.toHaveBeenCalled();
    expect(mime).not.toHaveBeenCalled();
  });

  it("matches decoded headers, base64 body text and TEXT over headers", async () => {
    const { box } = await setup();
    const run = (key: SearchKey) => box.search(key, (u) => u, new Set());
    expect(await run({ op: "HEADER", field: "SUBJECT", value: "größe" })).toEqual([2]);
    expect(await run({ op: "HEADER", field: "FROM", value: "MÜLLER" })).toEqual([2]);
    expect(await run({ op: "HEADER", field: "X-Tracking", value: "" })).toEqual([2]);
    expect(await run({ op: "HEADER", field: "Subject", value: "report" })).toEqual([1]);
    expect(await run({ op: "BODY", value: "zimtzucker" })).toEqual([2]);
    expect(await run({ op: "BODY", value: "Ärmel" })).toEqual([]);
    expect(await run({ op: "TEXT", value: "ärmel" })).toEqual([2]);
    expect(await run({ op: "TEXT", value: "NUMBERS" })).toEqual([1]);
    expect(await run({ op: "TEXT", value: "abc123" })).toEqual([2]);
  });

  it("matches FROM against the address with comments taken out, as well as the raw text", async () => {
    t = await tempStore();
    const user = await t.store.forUser("u");
    const msg = (from: string) => Buffer.from(`From: ${from}\r\nSubject: s\r\n\r\nbody\r\n`);
    await user.append("INBOX", msg("<user-from (comment)@ (comment) domain.org>"), []);
    await user.append("INBOX", msg("User From <user-from@domain.org>"), []);
    await user.append("INBOX", msg("other@domain.org (user-from)"), []);
    const box = await user.open("INBOX", false);
    const run = (field: string, value: string) => box.search({ op: "HEADER", field, value }, (u) => u, new Set());
    expect(await run("FROM", "user-from@domain.org")).toEqual([1, 2]);
    // The raw text still counts (the comment of message 3), and other fields are not rewritten.
    expect(await run("FROM", "user-from")).toEqual([1, 2, 3]);
    expect(await run("SUBJECT", "user-from@domain.org")).toEqual([]);
  });

  it("takes the INTERNALDATE as the sent date of a message without a Date header", async () => {
    t = await tempStore();
    const user = await t.store.forUser("u");
    await user.append("INBOX", Buffer.from("Subject: undated\r\n\r\nbody\r\n"), [], Date.UTC(2008, 1, 22, 17, 6, 23));
    await user.append("INBOX", Buffer.from("Subject: dated\r\nDate: Sat, 24 Mar 2007 23:00:00 +0200\r\n\r\nbody\r\n"), [], Date.UTC(2008, 1, 22));
    const box = await user.open("INBOX", false);
    const run = (key: SearchKey) => box.search(key, (u) => u, new Set());
    expect(await run({ op: "SENTON", date: "2008-02-22" })).toEqual([1]);
    expect(await run({ op: "SENTBEFORE", date: "2008-01-01" })).toEqual([2]);
    expect(await run({ op: "SENTSINCE", date: "2008-01-01" })).toEqual([1]);
  });

  it("compares SENT* dates in the sender's zone and reads only bodies the cheap keys leave", async () => {
    const { box } = await setup();
    const run = (key: SearchKey) => box.search(key, (u) => u, new Set());
    expect(await run({ op: "SENTON", date: "2025-02-03" })).toEqual([1, 3]);
    expect(await run({ op: "SENTON", date: "2025-02-04" })).toEqual([2]);
    expect(await run({ op: "SENTBEFORE", date: "2025-02-04" })).toEqual([1, 3]);
    expect(await run({ op: "SENTSINCE", date: "2025-02-04" })).toEqual([2]);
    const get = vi.spyOn(t.store.blobs, "get");
    expect(
      await run({ op: "AND", keys: [{ op: "BODY", value: "zimt" }, { op: "FLAG", flag: "\\Flagged", present: true }] }),
    ).toEqual([2]);
    expect(get).toHaveBeenCalledTimes(1);
  });

  it("parses zones of Date: headers", () => {
    expect(zoneOffsetMinutes("Mon, 3 Feb 2025 23:30:00 -0800")).toBe(-480);
    expect(zoneOffsetMinutes("Tue, 4 Feb 2025 00:30:00 +0530 (IST)")).toBe(330);
    expect(zoneOffsetMinutes("4 Feb 2025 00:30 EST")).toBe(-300);
    expect(zoneOffsetMinutes("garbage")).toBe(0);
  });
});
