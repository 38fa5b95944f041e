import fc from "fast-check";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import type { Op } from "../crdt/types";
import { CausalInbox } from "./causal-inbox";
import { encodeMessage, MAX_MESSAGE_BYTES, MessageDecoder, WireError, type ReplicationMessage } from "./wire";

const op = (replica: string, seq: number, deps: Record<string, number> = {}): Op => ({ id: { replica, seq }, deps, effects: [] });

/** The heap after a full collection (gc exposed at run time, as `node --expose-gc` would). */
function heapAfterGc(): number {
  setFlagsFromString("--expose_gc");
  (runInNewContext("gc") as () => void)();
  return process.memoryUsage().heapUsed;
}

describe("replication wire", () => {
  it("decoded ops hold strings of their own, not slices that keep their whole frame alive", () => {
    const frames: Buffer[] = [];
    for (let i = 1; i <= 20_000; i++) {
      const add: Op = {
        id: { replica: "r9f3a2b1c0d4e5f60", seq: i },
        deps: { r9f3a2b1c0d4e5f60: i - 1, genesis: 1 },
        effects: [
          { type: "message.add", mailboxId: "default:INBOX", messageId: `r9f3a2b1c0d4e5f60:${i}:0`, blob: "ab".repeat(32), size: 1000, internalDate: 1, flags: ["\\Seen"], uid: i },
        ],
      };
      frames.push(encodeMessage({ t: "ops", user: "bench0001", ops: [add] }));
    }
    const d = new MessageDecoder();
    const before = heapAfterGc();
    // What the CRDT state keeps of an added message: its id and its blob digest.
    const kept: string[] = [];
    for (const f of frames) {
      for (const m of d.push(f)) {
        const e = (m as Extract<ReplicationMessage, { t: "ops" }>).ops[0]!.effects[0] as Extract<Op["effects"][number], { type: "message.add" }>;
        kept.push(e.messageId, e.blob);
      }
    }
    const grown = heapAfterGc() - before;
    expect(kept).toHaveLength(40_000);
    // ~0.8 MB of strings and array; with slices of the frames' strings, 5.75 MB.
    expect(grown).toBeLessThan(2.5 * 1024 * 1024);
  });

  it("decodes what it encodes, however the bytes are cut", () => {
    const messages: ReplicationMessage[] = [
      { t: "vv", users: { alice: { a: 3, b: 1 } }, full: true },
      { t: "sync", users: ["alice"] },
      { t: "ops", user: "alice", ops: [op("a", 1), op("a", 2, { b: 1 })] },
      { t: "want", shas: ["ab".repeat(32)] },
      { t: "blobs", items: [["ab".repeat(32), Buffer.from([0, 1, 2, 255])]], missing: ["cd".repeat(32)] },
      { t: "synced" },
      { t: "snapshot", user: "alice", state: Buffer.from("state bytes") },
    ];
    const bytes = Buffer.concat(messages.map(encodeMessage));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: bytes.length }), { maxLength: 20 }), (cuts) => {
        const points = [...new Set(cuts)].sort((x, y) => x - y);
        const d = new MessageDecoder();
        const out: ReplicationMessage[] = [];
        let from = 0;
        for (const p of [...points, bytes.length]) {
          out.push(...d.push(bytes.subarray(from, p)));
          from = p;
        }
        expect(out).toEqual(messages);
      }),
    );
  });

  it("refuses frames that are too large, undecodable or of an unknown shape", () => {
    const big = Buffer.alloc(4);
    big.writeUInt32BE(MAX_MESSAGE_BYTES + 1);
    expect(() => new MessageDecoder().push(big)).toThrow(WireError);
    const garbage = Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from([0xc1, 0xc1])]);
    expect(() => new MessageDecoder().push(garbage)).toThrow(WireError);
    const unknown = encodeMessage({ t: "launch" } as unknown as ReplicationMessage);
    expect(() => new MessageDecoder().push(unknown)).toThrow(/unknown message type/);
    const badOps = encodeMessage({ t: "ops", user: 7, ops: [] } as unknown as ReplicationMessage);
    expect(() => new MessageDecoder().push(badOps)).toThrow(WireError);
  });
});

describe("CausalInbox", () => {
  it("releases ops only once their context is delivered, and drops duplicates by id", () => {
    const inbox = new CausalInbox();
    const vv: Record<string, number> = {};
    // b:1 depends on a:2; delivered in the worst order, twice.
    const ops = [op("b", 1, { a: 2 }), op("a", 2, { a: 1 }), op("a", 1), op("b", 1, { a: 2 })];
    expect(inbox.add(ops, vv)).toBe(3);
    const order: string[] = [];
    for (let o = inbox.next(vv); o; o = inbox.next(vv)) {
      order.push(`${o.id.replica}:${o.id.seq}`);
      vv[o.id.replica] = o.id.seq;
    }
    expect(order).toEqual(["a:1", "a:2", "b:1"]);
    expect(inbox.size).toBe(0);
    // Already delivered: not taken again.
    expect(inbox.add([op("a", 1)], vv)).toBe(0);
  });

  it("holds an op with a gap before it until the gap is filled", () => {
    const inbox = new CausalInbox();
    const vv = { a: 1 };
    inbox.add([op("a", 3)], vv);
    expect(inbox.next(vv)).toBeUndefined();
    inbox.add([op("a", 2)], vv);
    expect(inbox.next(vv)?.id.seq).toBe(2);
  });
});
