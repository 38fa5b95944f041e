// Scenario tests of the mail CRDT: each one a situation DESIGN.md decides.
// The random-history properties live in verification/.

import { describe, expect, it } from "vitest";
import {
  type ApplyResult,
  type Effect,
  type Op,
  type UserState,
  CausalityError,
  applyOp,
  buildCreate,
  buildDelete,
  buildFlagChange,
  buildReassigns,
  buildRemoveMessages,
  buildRename,
  buildSubscribe,
  buildUnsubscribe,
  cloneState,
  createState,
  deserializeState,
  digest,
  findMailbox,
  genesisOp,
  listMailboxes,
  makeTag,
  mailboxById,
  messageById,
  messageByUid,
  messages,
  pendingReassignments,
  purgeTombstones,
  reassignBlockers,
  serializeState,
  subscriptions,
  tombstones,
  uidNext,
  uidStats,
  versionVector,
} from "./index";

const INBOX = "default:INBOX";

/** A replica in a test: makes ops from its own state and receives others'. */
class Replica {
  state: UserState;
  private seq: number;
  readonly results: ApplyResult[] = [];

  constructor(
    readonly id: string,
    from?: UserState,
  ) {
    this.state = from ? cloneState(from) : createState();
    if (!from) applyOp(this.state, genesisOp());
    this.seq = versionVector(this.state)[id] ?? 0;
  }

  get nextSeq(): number {
    return this.seq + 1;
  }

  make(effects: Effect[]): Op {
    const op: Op = { id: { replica: this.id, seq: ++this.seq }, deps: versionVector(this.state), effects };
    this.results.push(applyOp(this.state, op));
    return op;
  }

  recv(...ops: Op[]): ApplyResult[] {
    return ops.map((op) => {
      const r = applyOp(this.state, op);
      this.results.push(r);
      return r;
    });
  }

  append(mailboxId: string, flags: string[] = [], blob = "b"): Op {
    return this.make([
      {
        type: "message.add",
        mailboxId,
        messageId: makeTag(this.id, this.nextSeq, 0),
        blob,
        size: 10,
        internalDate: 0,
        flags,
        uid: uidNext(this.state, mailboxId),
      },
    ]);
  }
}

const ids = (s: UserState, mb: string) => messages(s, mb).map((m) => m.messageId);
const uids = (s: UserState, mb: string) => messages(s, mb).map((m) => m.uid);

describe("genesis", () => {
  it("creates the default folders with UIDVALIDITY 1, subscribed, and applies once", () => {
    const s = createState();
    const r = applyOp(s, genesisOp());
    expect(r.applied).toBe(true);
    expect(listMailboxes(s).map((m) => m.name)).toEqual(["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"]);
    expect(subscriptions(s)).toEqual(["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"]);
    expect(findMailbox(s, "inbox")).toEqual({ mailboxId: INBOX, name: "INBOX", uidValidity: 1 });
    expect(findMailbox(s, "sent")).toBeUndefined();
    expect(findMailbox(s, "Sent")?.specialUse).toBe("\\Sent");
    expect(uidNext(s, INBOX)).toBe(1);
    const d = digest(s);
    expect(applyOp(s, genesisOp())).toEqual({ applied: false, changes: [], reassign: [] });
    expect(digest(s)).toBe(d);
  });
});

describe("causal delivery is checked, not assumed", () => {
  it("refuses an op whose predecessor or dependency has not been delivered", () => {
    const a = new Replica("a");
    const b = new Replica("b");
    const op1 = a.append(INBOX);
    const op2 = a.append(INBOX);
    expect(() => b.recv(op2)).toThrow(CausalityError);
    b.recv(op1);
    const c = new Replica("c");
    const op3 = b.append(INBOX); // depends on a:1
    expect(() => c.recv(op3)).toThrow(CausalityError);
    c.recv(op1, op2, op3);
    expect(digest(c.state)).toBe(digest(a.recv(op3) && a.state));
  });
});

describe("DELETE and RENAME against concurrent APPEND", () => {
  function base() {
    const o = new Replica("o");
    const create = o.make([buildCreate(o.state, makeTag("o", o.nextSeq, 0), "Foo", 7)]);
    const foo = findMailbox(o.state, "Foo")!.mailboxId;
    o.append(foo);
    return { o, foo, create };
  }

  it("a DELETE keeps the mailbox holding only the concurrently appended message, in either order", () => {
    const { o, foo } = base();
    const a = new Replica("a", o.state);
    const b = new Replica("b", o.state);
    const del = a.make([buildDelete(a.state, foo)]);
    expect(mailboxById(a.state, foo)).toBeUndefined();
    expect(findMailbox(a.state, "Foo")).toBeUndefined();
    const app = b.append(foo);
    const newMsg = makeTag("b", 1, 0);
    const [revive] = a.recv(app);
    expect(revive.changes[0]).toEqual({ kind: "mailbox", mailboxId: foo });
    b.recv(del);
    for (const s of [a.state, b.state]) {
      expect(findMailbox(s, "Foo")).toEqual({ mailboxId: foo, name: "Foo", uidValidity: 7 });
      expect(ids(s, foo)).toEqual([newMsg]);
      expect(uids(s, foo)).toEqual([2]);
      expect(uidNext(s, foo)).toBe(3);
    }
    expect(digest(a.state)).toBe(digest(b.state));
  });

  it("a mailbox kept only by a concurrently appended message goes when that message is expunged", () => {
    const { o, foo } = base();
    const a = new Replica("a", o.state);
    const b = new Replica("b", o.state);
    const del = a.make([buildDelete(a.state, foo)]);
    const app = b.append(foo);
    const expunge = b.make([buildRemoveMessages(foo, [makeTag("b", 1, 0)])]);
    const [, gone] = a.recv(app, expunge);
    b.recv(del);
    expect(gone!.changes).toContainEqual({ kind: "mailbox", mailboxId: foo });
    for (const s of [a.state, b.state]) expect(findMailbox(s, "Foo")).toBeUndefined();
    expect(digest(a.state)).toBe(digest(b.state));
  });

  it("a DELETE that saw everything removes the mailbox everywhere, and its uids stay claimed", () => {
    const { o, foo } = base();
    const b = new Replica("b", o.state);
    const del = o.make([buildDelete(o.state, foo)]);
    const [r] = b.recv(del);
    expect(r.changes).toEqual([
      { kind: "message.removed", mailboxId: foo, messageId: makeTag("o", 2, 0), uid: 1 },
      { kind: "mailbox", mailboxId: foo },
    ]);
    expect(listMailboxes(b.state).map((m) => m.name)).not.toContain("Foo");
    expect(messages(b.state, foo)).toEqual([]);
    expect(uidNext(b.state, foo)).toBe(2);
  });

  it("a RENAME loses no concurrently appended message", () => {
    const { o, foo } = base();
    const a = new Replica("a", o.state);
    const b = new Replica("b", o.state);
    const ren = a.make([buildRename(a.state, foo, "Bar")]);
    const app = b.append(foo);
    a.recv(app);
    b.recv(ren);
    for (const s of [a.state, b.state]) {
      expect(findMailbox(s, "Foo")).toBeUndefined();
      expect(findMailbox(s, "Bar")?.mailboxId).toBe(foo);
      expect(ids(s, foo)).toEqual([makeTag("o", 2, 0), makeTag("b", 1, 0)]);
    }
  });

  it("a RENAME concurrent with DELETE keeps the (empty) mailbox under the new name", () => {
    const { o, foo } = base();
    const a = new Replica("a", o.state);
    const b = new Replica("b", o.state);
    const del = a.make([buildDelete(a.state, foo)]);
    const ren = b.make([buildRename(b.state, foo, "Bar")]);
    a.recv(ren);
    b.recv(del);
    for (const s of [a.state, b.state]) {
      expect(findMailbox(s, "Bar")?.mailboxId).toBe(foo);
      expect(messages(s, foo)).toEqual([]);
    }
    expect(digest(a.state)).toBe(digest(b.state));
  });
});

describe("mailbox names", () => {
  it("a causally later rename wins whatever the op ids; concurrent ones resolve the same everywhere", () => {
    const z = new Replica("z");
    const foo = makeTag("z", 1, 0);
    const c = z.make([buildCreate(z.state, foo, "Foo", 1)]);
    const a = new Replica("a", z.state);
    const r1 = z.make([buildRename(z.state, foo, "X")]);
    a.recv(r1);
    const r2 = a.make([buildRename(a.state, foo, "Y")]); // seq 1 from "a": lower id than z:2
    z.recv(r2);
    expect(mailboxById(z.state, foo)?.name).toBe("Y");
    expect(mailboxById(a.state, foo)?.name).toBe("Y");
    void c;

    const p = new Replica("p", a.state);
    const q = new Replica("q", a.state);
    const rp = p.make([buildRename(p.state, foo, "P")]);
    const rq = q.make([buildRename(q.state, foo, "Q")]);
    p.recv(rq);
    q.recv(rp);
    const name = mailboxById(p.state, foo)?.name;
    expect(["P", "Q"]).toContain(name);
    expect(mailboxById(q.state, foo)?.name).toBe(name);
  });

  it("two concurrent CREATEs of one name: one keeps it, the other gets a stable distinct name", () => {
    const a = new Replica("a");
    const b = new Replica("b");
    const ca = a.make([buildCreate(a.state, makeTag("a", 1, 0), "Foo", 1)]);
    const cb = b.make([buildCreate(b.state, makeTag("b", 1, 0), "Foo", 2)]);
    const [ra] = a.recv(cb);
    b.recv(ca);
    expect(ra.changes).toEqual([{ kind: "mailbox", mailboxId: "b:1:0" }]);
    for (const s of [a.state, b.state]) {
      expect(findMailbox(s, "Foo")?.mailboxId).toBe("a:1:0");
      const other = mailboxById(s, "b:1:0")!;
      expect(other.name).toMatch(/^Foo-[0-9a-f]{8}$/);
      expect(findMailbox(s, other.name)?.mailboxId).toBe("b:1:0");
    }
    expect(listMailboxes(a.state)).toEqual(listMailboxes(b.state));
    // Deleting the winner hands the name to the other one, and says so.
    const del = a.make([buildDelete(a.state, "a:1:0")]);
    const [rb] = b.recv(del);
    expect(rb.changes.map((c) => c.kind === "mailbox" && c.mailboxId).sort()).toEqual(["a:1:0", "b:1:0"]);
    expect(findMailbox(b.state, "Foo")?.mailboxId).toBe("b:1:0");
  });

  it("INBOX keeps its name against a concurrent mailbox named inbox in another case", () => {
    const a = new Replica("a");
    const b = new Replica("b");
    const foo = makeTag("a", 1, 0);
    const c = a.make([buildCreate(a.state, foo, "Foo", 1)]);
    b.recv(c);
    b.make([buildRename(b.state, foo, "inbox")]);
    expect(findMailbox(b.state, "INBOX")?.mailboxId).toBe(INBOX);
    expect(mailboxById(b.state, foo)?.name).toMatch(/^inbox-[0-9a-f]{8}$/);
  });
});

describe("UIDs after a split brain", () => {
  it("a uid claimed by two messages is retired; both get fresh uids from their origins", () => {
    const a = new Replica("a");
    const b = new Replica("b");
    const c = new Replica("c");
    const oa = a.append(INBOX);
    const ob = b.append(INBOX);
    const ma = makeTag("a", 1, 0);
    const mb = makeTag("b", 1, 0);

    const [r1, r2] = c.recv(oa, ob);
    expect(r1.changes).toEqual([{ kind: "message.added", mailboxId: INBOX, messageId: ma, uid: 1 }]);
    expect(r2.changes).toEqual([{ kind: "message.removed", mailboxId: INBOX, messageId: ma, uid: 1 }]);
    expect(r2.reassign).toEqual([
      { mailboxId: INBOX, messageId: ma, origin: "a" },
      { mailboxId: INBOX, messageId: mb, origin: "b" },
    ]);
    expect(messageByUid(c.state, INBOX, 1)).toBeUndefined();
    expect(messages(c.state, INBOX)).toEqual([]);
    expect(uidNext(c.state, INBOX)).toBe(2);
    expect(uidStats(c.state)).toEqual({ reassignments: 0, retiredUids: 1, uidValidityResets: 0 });

    // Each origin hears of the collision itself and owes a reassign.
    const [ra] = a.recv(ob);
    expect(ra.reassign.filter((r) => r.origin === "a")).toEqual([{ mailboxId: INBOX, messageId: ma, origin: "a" }]);
    b.recv(oa);
    expect(pendingReassignments(a.state, "a")).toEqual([{ mailboxId: INBOX, messageId: ma, origin: "a" }]);
    // b waits for a (the lower id) so that the two do not pick the same uid again.
    expect(reassignBlockers(b.state, "b")).toEqual(["a"]);
    expect(reassignBlockers(a.state, "a")).toEqual([]);

    const fa = a.make(buildReassigns(a.state, [{ mailboxId: INBOX, messageId: ma }]));
    expect(fa.effects).toEqual([{ type: "uid.reassign", mailboxId: INBOX, messageId: ma, uid: 2 }]);
    b.recv(fa);
    expect(reassignBlockers(b.state, "b")).toEqual([]);
    const fb = b.make(buildReassigns(b.state, [{ mailboxId: INBOX, messageId: mb }]));
    a.recv(fb);
    c.recv(fa, fb);
    for (const s of [a.state, b.state, c.state]) {
      expect(messages(s, INBOX).map((m) => [m.uid, m.messageId])).toEqual([
        [2, ma],
        [3, mb],
      ]);
      expect(uidNext(s, INBOX)).toBe(4);
      expect(uidStats(s)).toEqual({ reassignments: 2, retiredUids: 1, uidValidityResets: 0 });
    }
    expect(digest(a.state)).toBe(digest(c.state));
  });

  it("a reassign that collides again is retired again; a claim of a retired uid fails at once", () => {
    const a = new Replica("a");
    const b = new Replica("b");
    const oa = a.append(INBOX);
    const ob = b.append(INBOX);
    a.recv(ob);
    b.recv(oa);
    const ma = makeTag("a", 1, 0);
    const mb = makeTag("b", 1, 0);
    // Both reassign at the same moment (no waiting): both pick uid 2.
    const fa = a.make(buildReassigns(a.state, [{ mailboxId: INBOX, messageId: ma }]));
    const fb = b.make(buildReassigns(b.state, [{ mailboxId: INBOX, messageId: mb }]));
    const [r] = a.recv(fb);
    expect(r.changes).toEqual([{ kind: "message.removed", mailboxId: INBOX, messageId: ma, uid: 2 }]);
    expect(r.reassign.map((x) => x.messageId)).toEqual([ma, mb]);
    b.recv(fa);
    expect(uidNext(a.state, INBOX)).toBe(3);

    // A third replica that missed everything claims uid 1, already retired.
    const c = new Replica("c");
    const oc = c.append(INBOX);
    const [rc] = a.recv(oc);
    expect(rc.changes).toEqual([]);
    expect(rc.reassign).toEqual([{ mailboxId: INBOX, messageId: makeTag("c", 1, 0), origin: "c" }]);
    expect(uidStats(a.state).retiredUids).toBe(2);
  });

  it("an expunged message's uid is never handed out again", () => {
    const a = new Replica("a");
    a.append(INBOX);
    a.append(INBOX);
    a.make([buildRemoveMessages(INBOX, [makeTag("a", 2, 0)])]);
    expect(uids(a.state, INBOX)).toEqual([1]);
    expect(uidNext(a.state, INBOX)).toBe(3);
    a.append(INBOX);
    expect(uids(a.state, INBOX)).toEqual([1, 3]);
  });

  it("a collision with an already expunged message asks only the live one for a new uid", () => {
    const a = new Replica("a");
    const b = new Replica("b");
    const oa = a.append(INBOX);
    const ob = b.append(INBOX);
    const ex = b.make([buildRemoveMessages(INBOX, [makeTag("b", 1, 0)])]);
    const [r] = a.recv(ob);
    expect(r.reassign.map((x) => x.messageId)).toEqual([makeTag("a", 1, 0), makeTag("b", 1, 0)]);
    a.recv(ex);
    const [r2] = b.recv(oa);
    expect(r2.reassign).toEqual([{ mailboxId: INBOX, messageId: makeTag("a", 1, 0), origin: "a" }]);
    expect(pendingReassignments(a.state, "b")).toEqual([]);
    expect(digest(a.state)).toBe(digest(b.state));
  });
});

describe("flags", () => {
  function withMessage() {
    const o = new Replica("o");
    o.append(INBOX, ["\\Seen"]);
    return { o, m: makeTag("o", 1, 0) };
  }

  it("a concurrent add wins over a remove", () => {
    const { o, m } = withMessage();
    const a = new Replica("a", o.state);
    const b = new Replica("b", o.state);
    const rm = a.make(buildFlagChange(a.state, INBOX, m, "remove", ["\\Seen"]));
    expect(messageById(a.state, INBOX, m)?.flags).toEqual([]);
    const add = b.make(buildFlagChange(b.state, INBOX, m, "add", ["\\Seen", "$Work"]));
    const [ra] = a.recv(add);
    expect(ra.changes).toEqual([{ kind: "flags", mailboxId: INBOX, messageId: m }]);
    b.recv(rm);
    expect(messageById(a.state, INBOX, m)?.flags).toEqual(["$Work", "\\Seen"]);
    expect(messageById(b.state, INBOX, m)?.flags).toEqual(["$Work", "\\Seen"]);
  });

  it("STORE FLAGS replaces the set and leaves the uid and identity alone", () => {
    const { o, m } = withMessage();
    const effects = buildFlagChange(o.state, INBOX, m, "set", ["\\Flagged"]);
    expect(effects.map((e) => e.type)).toEqual(["flags.remove", "flags.add"]);
    o.make(effects);
    expect(messages(o.state, INBOX).map((r) => [r.uid, r.messageId, r.flags])).toEqual([[1, m, ["\\Flagged"]]]);
    expect(buildFlagChange(o.state, INBOX, m, "set", ["\\Flagged"])).toEqual([]);
    expect(buildFlagChange(o.state, INBOX, m, "remove", ["\\Seen"])).toEqual([]);
  });

  it("expunge is final: a concurrent flag change does not bring the message back", () => {
    const { o, m } = withMessage();
    const a = new Replica("a", o.state);
    const b = new Replica("b", o.state);
    const ex = a.make([buildRemoveMessages(INBOX, [m])]);
    const fl = b.make(buildFlagChange(b.state, INBOX, m, "add", ["\\Deleted"]));
    const [r] = a.recv(fl);
    expect(r).toEqual({ applied: true, changes: [], reassign: [] });
    const [r2] = b.recv(ex);
    expect(r2.changes).toEqual([{ kind: "message.removed", mailboxId: INBOX, messageId: m, uid: 1 }]);
    expect(messages(a.state, INBOX)).toEqual([]);
    expect(digest(a.state)).toBe(digest(b.state));
    expect(buildFlagChange(a.state, INBOX, m, "add", ["\\Seen"])).toEqual([]);
  });
});

describe("subscriptions", () => {
  it("are an add-wins set of names, kept for names that do not exist", () => {
    const a = new Replica("a");
    const b = new Replica("b");
    const un = a.make([buildUnsubscribe(a.state, "Junk")]);
    const sub = b.make([buildSubscribe("Junk"), buildSubscribe("Nowhere")]);
    a.recv(sub);
    b.recv(un);
    expect(subscriptions(a.state)).toEqual(["Archive", "Drafts", "INBOX", "Junk", "Nowhere", "Sent", "Trash"]);
    expect(digest(a.state)).toBe(digest(b.state));
    const un2 = a.make([buildUnsubscribe(a.state, "Junk")]);
    expect(a.results.at(-1)!.changes).toEqual([{ kind: "subscriptions" }]);
    b.recv(un2);
    expect(subscriptions(b.state)).not.toContain("Junk");
  });
});

describe("snapshots", () => {
  it("serialize → deserialize keeps the state, and both copies evolve identically", () => {
    const a = new Replica("a");
    const b = new Replica("b");
    const oa = a.append(INBOX, ["\\Seen"]);
    a.append(INBOX);
    const ob = b.append(INBOX);
    a.recv(ob);
    b.recv(oa);
    const copy = deserializeState(serializeState(a.state));
    expect(digest(copy)).toBe(digest(a.state));
    expect(messages(copy, INBOX)).toEqual(messages(a.state, INBOX));
    expect(serializeState(copy).equals(serializeState(a.state))).toBe(true);
    const fa = a.make(buildReassigns(a.state, pendingReassignments(a.state, "a")));
    const r = applyOp(copy, fa);
    expect(r.applied).toBe(true);
    expect(digest(copy)).toBe(digest(a.state));
    expect(versionVector(copy)).toEqual(versionVector(a.state));
  });
});

describe("large mailboxes", () => {
  it("keeps 100k messages in uid order without re-sorting, and expunges in bulk", () => {
    const s = createState();
    applyOp(s, genesisOp());
    const n = 100_000;
    for (let i = 1; i <= n; i++) {
      applyOp(s, {
        id: { replica: "a", seq: i },
        deps: {},
        effects: [
          { type: "message.add", mailboxId: INBOX, messageId: `a:${i}:0`, blob: "x", size: 1, internalDate: 0, flags: [], uid: i },
        ],
      });
    }
    const list = messages(s, INBOX);
    expect(list.length).toBe(n);
    // The same live array every time: SELECT does no per-call work.
    expect(messages(s, INBOX)).toBe(list);
    expect(messageByUid(s, INBOX, 54_321)?.messageId).toBe("a:54321:0");
    const gone = Array.from({ length: 10_000 }, (_, k) => `a:${k * 10 + 1}:0`);
    const r = applyOp(s, { id: { replica: "a", seq: n + 1 }, deps: {}, effects: [buildRemoveMessages(INBOX, gone)] });
    expect(r.changes.length).toBe(10_000);
    expect(list.length).toBe(90_000);
    expect(messages(s, INBOX)).toBe(list);
    for (let i = 1; i < list.length; i++) if (list[i - 1].uid >= list[i].uid) throw new Error(`order broken at ${i}`);
    expect(uidNext(s, INBOX)).toBe(n + 1);
  });
});

describe("tombstones", () => {
  function churned() {
    const a = new Replica("a");
    const ops = [a.append(INBOX, ["\\Seen"]), a.append(INBOX), a.append(INBOX)];
    const first = makeTag("a", 1, 0);
    const second = makeTag("a", 2, 0);
    ops.push(a.make([buildRemoveMessages(INBOX, [first, second])]));
    return { a, ops, first, second };
  }

  it("are the expunged messages, and purging them changes neither the digest nor what is visible", () => {
    const { a, ops, first, second } = churned();
    const b = new Replica("b");
    b.recv(...ops);
    expect(tombstones(a.state)).toEqual([
      [INBOX, first],
      [INBOX, second],
    ]);
    const before = serializeState(a.state).length;
    expect(purgeTombstones(a.state, tombstones(a.state))).toBe(2);
    expect(tombstones(a.state)).toEqual([]);
    expect(serializeState(a.state).length).toBeLessThan(before);
    expect(digest(a.state)).toBe(digest(b.state));
    expect(uids(a.state, INBOX)).toEqual([3]);
    // The purged uids are never handed out again.
    expect(uidNext(a.state, INBOX)).toBe(4);
    // Purging again, or a message that is live, does nothing.
    expect(purgeTombstones(a.state, [[INBOX, first], [INBOX, makeTag("a", 3, 0)]])).toBe(0);
    expect(uids(a.state, INBOX)).toEqual([3]);
  });

  it("leave the replica able to apply later ops the way an unpurged one does", () => {
    const { a, ops } = churned();
    const b = new Replica("b");
    b.recv(...ops);
    purgeTombstones(a.state, tombstones(a.state));
    const later = [b.append(INBOX, ["\\Flagged"]), b.make([buildRemoveMessages(INBOX, [makeTag("a", 3, 0)])])];
    const results = a.recv(...later);
    expect(results.map((r) => r.applied)).toEqual([true, true]);
    expect(uids(a.state, INBOX)).toEqual([4]);
    expect(digest(a.state)).toBe(digest(b.state));
    // The new expunge is a tombstone of its own; b still holds the two that a purged.
    expect(tombstones(a.state)).toEqual([[INBOX, makeTag("a", 3, 0)]]);
    expect(tombstones(b.state)).toHaveLength(3);
  });

  it("an expunge drops the message's existence tag, also from an older snapshot", () => {
    const { a, first } = churned();
    const json = JSON.parse(serializeState(a.state).toString()) as { mailboxes: Array<{ id: string; tags: string[] }> };
    const inbox = json.mailboxes.find((m) => m.id === INBOX)!;
    expect(inbox.tags).not.toContain(first);
    // A snapshot from before the rule still lists it; loading it drops it.
    inbox.tags.push(first);
    const loaded = deserializeState(Buffer.from(JSON.stringify(json)));
    expect(digest(loaded)).toBe(digest(a.state));
  });
});
