import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Op } from "../crdt/types";
import { CausalInbox } from "./causal-inbox";
import { encodeMessage, MAX_MESSAGE_BYTES, MessageDecoder, WireError, type ReplicationMessage } from "./wire";

const op = (replica: string, seq: number, deps: Record<string, number> = {}): Op => ({ id: { replica, seq }, deps, effects: [] });

describe("replication wire", () => {
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
