import { describe, expect, it } from "vitest";
import { SelectedView } from "./selected-view";
import { isKeyword, type MailboxChange, type MailboxHandle, type MessageMeta } from "./store-port";

/** Just enough of a handle for the view: a message list, \Recent claims and a change feed. */
function fakeHandle(initial: number[], opts: { readOnly?: boolean } = {}) {
  let listener: ((c: MailboxChange) => void) | undefined;
  const claimed = new Set<number>();
  const meta = (uid: number, flags: string[] = []): MessageMeta => ({ uid, flags, internalDate: 0, size: 10 });
  const list = initial.map((u) => meta(u));
  const forgotten: number[] = [];
  const handle = {
    name: "INBOX",
    uidValidity: 7,
    readOnly: opts.readOnly ?? false,
    uidNext: () => (list.length ? list[list.length - 1]!.uid + 1 : 1),
    messages: () => list,
    keywords: () => new Set(list.flatMap((m) => m.flags.filter(isKeyword))),
    recentAmong: (uids: number[]) => {
      const fresh = uids.filter((u) => !claimed.has(u));
      if (!opts.readOnly) fresh.forEach((u) => claimed.add(u));
      return fresh;
    },
    watch: (l: (c: MailboxChange) => void) => {
      listener = l;
      return () => (listener = undefined);
    },
    close: () => undefined,
    forgetRemoved: (uids: readonly number[]) => forgotten.push(...uids),
  } as unknown as MailboxHandle;
  return {
    handle,
    forgotten,
    emit: (c: MailboxChange) => listener?.(c),
    add: (uid: number, flags: string[] = []) => listener?.({ kind: "added", message: meta(uid, flags) }),
    get watching() {
      return listener !== undefined;
    },
  };
}

function collect(view: SelectedView, allowExpunge: boolean): string[] {
  const out: string[] = [];
  view.flush((l) => out.push(l), allowExpunge);
  return out;
}

describe("SelectedView", () => {
  it("numbers the messages present at open and claims their \\Recent", () => {
    const f = fakeHandle([3, 5, 9]);
    const v = SelectedView.open(f.handle);
    expect(v.exists).toBe(3);
    expect(v.recentCount).toBe(3);
    expect([v.uidAt(1), v.uidAt(3), v.uidAt(4)]).toEqual([3, 9, undefined]);
    expect([v.seqOf(5), v.seqOf(4)]).toEqual([2, 0]);
  });

  it("holds EXPUNGE when not allowed but still reports EXISTS and FLAGS", () => {
    const f = fakeHandle([1, 2, 3]);
    const v = SelectedView.open(f.handle);
    f.emit({ kind: "removed", uid: 1 });
    f.add(4);
    f.emit({ kind: "flags", uid: 3, flags: ["\\Seen"] });
    // RECENT counts every message \Recent for this session, not just the new ones.
    expect(collect(v, false)).toEqual(["4 EXISTS", "4 RECENT", "3 FETCH (FLAGS (\\Seen \\Recent) UID 3)"]);
    expect(v.isExpunged(1)).toBe(true);
    expect(v.seqOf(1)).toBe(1);
    // The count the client was given drops with the \Recent message it loses.
    expect(f.forgotten).toEqual([]);
    expect(collect(v, true)).toEqual(["1 EXPUNGE", "3 RECENT"]);
    // Told: the handle may drop the removed message it kept for FETCH.
    expect(f.forgotten).toEqual([1]);
    expect(v.exists).toBe(3);
    expect(v.seqOf(4)).toBe(3);
    expect(collect(v, true)).toEqual([]);
  });

  it("lets the handle drop a removed message the client never heard of", () => {
    const f = fakeHandle([1]);
    const v = SelectedView.open(f.handle);
    f.add(2);
    f.emit({ kind: "removed", uid: 2 });
    expect(collect(v, false)).toEqual([]);
    expect(f.forgotten).toEqual([2]);
  });

  it("lets the handle drop a removed message this view never numbered", () => {
    const f = fakeHandle([1]);
    const v = SelectedView.open(f.handle);
    f.emit({ kind: "removed", uid: 9 });
    expect(collect(v, true)).toEqual([]);
    expect(f.forgotten).toEqual([9]);
    expect(v.exists).toBe(1);
  });

  it("numbers and reads flags right in any lookup order, before and after EXPUNGEs", () => {
    const uids = [2, 3, 5, 8, 13, 21, 34];
    const f = fakeHandle(uids);
    const v = SelectedView.open(f.handle);
    const order = [34, 2, 3, 5, 8, 13, 21, 34, 21, 13, 8, 5, 3, 2, 4, 5, 6, 8];
    expect(order.map((u) => v.seqOf(u))).toEqual(order.map((u) => uids.indexOf(u) + 1));
    expect(order.map((u) => v.flagsText(u, [`$k${u}`]))).toEqual(order.map((u) => (uids.includes(u) ? `($k${u} \\Recent)` : `($k${u})`)));
    // knownFlags reads the list held since open: a lookup walking past a removed entry must not land on its neighbour.
    f.emit({ kind: "flags", uid: 8, flags: ["\\Seen", "$x"] });
    collect(v, true);
    for (const uid of [3, 13]) f.emit({ kind: "removed", uid });
    collect(v, true);
    const left = [2, 5, 8, 21, 34];
    const ask = [2, 5, 8, 21, 34, 3, 13, 34, 8, 2];
    expect(ask.map((u) => v.seqOf(u))).toEqual(ask.map((u) => left.indexOf(u) + 1));
    expect(ask.map((u) => v.knownFlags(u).join(" "))).toEqual(ask.map((u) => (u === 8 ? "\\Seen $x" : "")));
  });

  it("numbers several EXPUNGEs so each is valid after the previous", () => {
    const f = fakeHandle([1, 2, 3, 4, 5]);
    const v = SelectedView.open(f.handle);
    for (const uid of [2, 4, 5]) f.emit({ kind: "removed", uid });
    const out = collect(v, true);
    // Replaying the responses on the client's list must leave exactly the survivors.
    const client = [1, 2, 3, 4, 5];
    const expunges = out.filter((l) => l.endsWith(" EXPUNGE"));
    for (const l of expunges) client.splice(Number(l.split(" ")[0]) - 1, 1);
    expect(client).toEqual([1, 3]);
    // Three EXPUNGEs, then the new \Recent count, last.
    expect(out).toEqual([...expunges, "2 RECENT"]);
    expect(expunges).toHaveLength(3);
  });

  it("reports a change once, however often it is heard", () => {
    const f = fakeHandle([1]);
    const v = SelectedView.open(f.handle);
    const out: string[] = [];
    // The session's own STORE answered the client already...
    v.reportFlags(1, ["\\Flagged"], (l) => out.push(l));
    // ...then the store's notification of the same change arrives.
    f.emit({ kind: "flags", uid: 1, flags: ["\\Flagged"] });
    expect(collect(v, true)).toEqual([]);
    v.expungeOwn([1], (l) => out.push(l));
    f.emit({ kind: "removed", uid: 1 });
    expect(out).toEqual(["1 EXPUNGE", "0 RECENT"]);
    expect(collect(v, true)).toEqual([]);
  });

  it("sends EXISTS only when the count changed, and never for a message that came and went", () => {
    const f = fakeHandle([1, 2]);
    const v = SelectedView.open(f.handle);
    f.add(3);
    f.emit({ kind: "removed", uid: 3 });
    expect(collect(v, true)).toEqual([]);
    f.add(4);
    f.emit({ kind: "removed", uid: 1 });
    expect(collect(v, true)).toEqual(["1 EXPUNGE", "2 EXISTS", "2 RECENT"]);
  });

  it("announces new keywords in FLAGS before using them", () => {
    const f = fakeHandle([1]);
    const v = SelectedView.open(f.handle);
    f.emit({ kind: "flags", uid: 1, flags: ["$Work"] });
    expect(collect(v, true)).toEqual([
      "FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)",
      "OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work \\*)] Flags permitted",
      "1 FETCH (FLAGS ($Work \\Recent) UID 1)",
    ]);
    f.add(2, ["$Home"]);
    expect(collect(v, true)[0]).toBe("FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work $Home)");
  });

  it("keeps changes that arrive while a command runs, and flags the mailbox gone", () => {
    const f = fakeHandle([1]);
    const v = SelectedView.open(f.handle);
    let woken = 0;
    v.onChange = () => woken++;
    f.add(2);
    f.add(3);
    expect(woken).toBe(2);
    expect(v.hasPending).toBe(true);
    expect(collect(v, false)).toEqual(["3 EXISTS", "3 RECENT"]);
    f.emit({ kind: "gone" });
    collect(v, true);
    expect(v.gone).toBe(true);
    v.close();
    expect(f.watching).toBe(false);
  });

  it("a read-only view shows the \\Recent its handle reports and announces empty PERMANENTFLAGS", () => {
    const f = fakeHandle([1], { readOnly: true });
    const v = SelectedView.open(f.handle);
    expect(v.recentCount).toBe(1);
    f.emit({ kind: "flags", uid: 1, flags: ["$X"] });
    expect(collect(v, true)).toEqual([
      "FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $X)",
      "OK [PERMANENTFLAGS ()] Read-only mailbox",
      "1 FETCH (FLAGS ($X \\Recent) UID 1)",
    ]);
  });
});
