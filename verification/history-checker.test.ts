import { describe, expect, it } from "vitest";
import { HistoryChecker, type ReplicaView } from "./history-checker";

const view = (digest: string, inbox: Array<[number, string, string[]]>, extra: ReplicaView["mailboxes"] = []): ReplicaView => ({
  user: "u",
  digest,
  mailboxes: [{ name: "INBOX", uidValidity: 1, messages: inbox.map(([uid, blob, flags]) => ({ uid, blob, flags })) }, ...extra],
});
const replicas = (...vs: ReplicaView[]) => new Map(vs.map((v, i) => [`r${i}`, new Map([["u", v]])]));

function history(): HistoryChecker {
  const h = new HistoryChecker();
  h.append("c1", "u", "INBOX", "aaa", 1, 1);
  h.append("c1", "u", "INBOX", "bbb", 1, 2, ["\\Seen"]);
  h.store("c1", "u", "INBOX", "aaa", "\\Flagged", true);
  h.append("c2", "u", "INBOX", "ccc", 1, 3);
  h.expunge("c2", "u", "INBOX", "ccc");
  h.create("c2", "u", "Work");
  return h;
}
const good = () => view("d1", [[1, "aaa", ["\\Flagged"]], [4, "bbb", ["\\Seen"]]], [{ name: "Work", uidValidity: 1, messages: [] }]);

describe("HistoryChecker", () => {
  it("passes a history every replica holds (a UID changed by a merge is fine)", () => {
    expect(history().verify(replicas(good(), good()))).toEqual([]);
  });

  it("finds a lost acknowledged message, a resurrected expunge, a lost flag and a missing mailbox", () => {
    const lost = view("d1", [[1, "aaa", ["\\Flagged"]]], [{ name: "Work", uidValidity: 1, messages: [] }]);
    expect(history().verify(replicas(lost, lost)).join("\n")).toMatch(/acknowledged message bbb.* missing from INBOX/);
    const back = view("d1", [[1, "aaa", ["\\Flagged"]], [2, "bbb", ["\\Seen"]], [3, "ccc", []]], [{ name: "Work", uidValidity: 1, messages: [] }]);
    expect(history().verify(replicas(back, back)).join("\n")).toMatch(/expunged message ccc.* is back/);
    const unflagged = view("d1", [[1, "aaa", []], [2, "bbb", ["\\Seen"]]], [{ name: "Work", uidValidity: 1, messages: [] }]);
    expect(history().verify(replicas(unflagged, unflagged)).join("\n")).toMatch(/aaa.* should have \\Flagged/);
    const noWork = view("d1", [[1, "aaa", ["\\Flagged"]], [2, "bbb", ["\\Seen"]]]);
    expect(history().verify(replicas(noWork, noWork)).join("\n")).toMatch(/mailbox Work missing/);
  });

  it("finds replicas that disagree, a replica without the user, duplicate UIDs and a UID that went backwards", () => {
    expect(history().verify(replicas(good(), { ...good(), digest: "d2" })).join("\n")).toMatch(/replicas disagree/);
    const missing = new Map([["r0", new Map([["u", good()]])], ["r1", new Map<string, ReplicaView>()]]);
    expect(history().verify(missing).join("\n")).toMatch(/r1 holds nothing/);
    const dup = view("d1", [[1, "aaa", ["\\Flagged"]], [1, "bbb", ["\\Seen"]]], [{ name: "Work", uidValidity: 1, messages: [] }]);
    expect(history().verify(replicas(dup)).join("\n")).toMatch(/duplicate UIDs/);
    const h = history();
    h.append("c1", "u", "INBOX", "ddd", 1, 2);
    expect(h.verify(replicas(good())).join("\n")).toMatch(/c1: UID went backwards in u\/INBOX: 2 after 2/);
  });

  it("does not require what a later acknowledged write undid, nor flags two clients raced on", () => {
    const h = new HistoryChecker();
    h.append("c1", "u", "INBOX", "aaa", 1, 1);
    h.store("c1", "u", "INBOX", "aaa", "\\Seen", true);
    h.store("c2", "u", "INBOX", "aaa", "\\Seen", false);
    h.create("c1", "u", "Old");
    h.rename("c1", "u", "Old", "New");
    h.append("c1", "u", "New", "bbb", 7, 1);
    h.delete("c2", "u", "New");
    const v = view("d", [[1, "aaa", []]]);
    expect(h.verify(replicas(v))).toEqual([]);
  });
});
