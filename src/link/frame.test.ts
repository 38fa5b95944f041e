import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FrameError, FrameTooLargeError } from "./errors";
import { FrameDecoder, FrameType, encodeFrame, type Frame } from "./frame";

const id = fc.integer({ min: 1, max: 0xffffffff });
const credit = fc.integer({ min: 1, max: 0x7fffffff });
const reason = fc.string({ maxLength: 100 });
const header = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 10 }).filter((k) => k !== "__proto__"),
  fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null)),
  { maxKeys: 5 },
);
const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({ type: fc.constant(FrameType.Open as const), id, header, window: credit }),
  fc.record({ type: fc.constant(FrameType.Accept as const), id, window: credit }),
  fc.record({ type: fc.constant(FrameType.Refuse as const), id, reason }),
  fc.record({ type: fc.constant(FrameType.Data as const), id, data: fc.uint8Array({ minLength: 1, maxLength: 3000 }).map((u) => Buffer.from(u)) }),
  fc.record({ type: fc.constant(FrameType.Window as const), id, credit }),
  fc.record({ type: fc.constant(FrameType.End as const), id }),
  fc.record({ type: fc.constant(FrameType.Reset as const), id, reason }),
  fc.record({ type: fc.constant(FrameType.Ping as const), nonce: fc.integer({ min: 0, max: 0xffffffff }) }),
  fc.record({ type: fc.constant(FrameType.Pong as const), nonce: fc.integer({ min: 0, max: 0xffffffff }) }),
);

/** Splits buf at the given cut points (taken modulo its length). */
function chunk(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => (buf.length === 0 ? 0 : c % (buf.length + 1))))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

describe("frame codec", () => {
  it("round-trips every frame type", () => {
    const frames: Frame[] = [
      { type: FrameType.Open, id: 1, header: { user: "alice", n: 3, nested: { a: [1, 2] } }, window: 262144 },
      { type: FrameType.Accept, id: 1, window: 1024 },
      { type: FrameType.Refuse, id: 3, reason: "no such user" },
      { type: FrameType.Data, id: 1, data: Buffer.from("hello") },
      { type: FrameType.Window, id: 1, credit: 65536 },
      { type: FrameType.End, id: 1 },
      { type: FrameType.Reset, id: 2, reason: "cancelled" },
      { type: FrameType.Ping, nonce: 0 },
      { type: FrameType.Pong, nonce: 7 },
    ];
    const dec = new FrameDecoder();
    expect(dec.push(Buffer.concat(frames.map((f) => encodeFrame(f))))).toEqual(frames);
    expect(dec.pendingBytes).toBe(0);
  });

  it("holds a partial frame until the rest arrives, one byte at a time", () => {
    const buf = encodeFrame({ type: FrameType.Data, id: 5, data: Buffer.alloc(1000, 7) });
    const dec = new FrameDecoder();
    for (let i = 0; i < buf.length - 1; i++) expect(dec.push(buf.subarray(i, i + 1))).toEqual([]);
    expect(dec.pendingBytes).toBe(buf.length - 1);
    const [f] = dec.push(buf.subarray(buf.length - 1));
    expect(f).toEqual({ type: FrameType.Data, id: 5, data: Buffer.alloc(1000, 7) });
  });

  it("refuses an oversized length prefix before its payload arrives, and stays failed", () => {
    const dec = new FrameDecoder(4096);
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(0xfffffff0);
    expect(() => dec.push(prefix)).toThrow(FrameTooLargeError);
    expect(dec.pendingBytes).toBe(0);
    expect(() => dec.push(encodeFrame({ type: FrameType.Ping, nonce: 1 }))).toThrow(/exceeds the maximum frame size of 4096/);
  });

  it("the hand-written DATA encoding is plain msgpack, and generic msgpack DATA decodes too", () => {
    const { Packr, unpack } = require("msgpackr") as typeof import("msgpackr");
    const data = Buffer.from("some mail bytes");
    const fast = encodeFrame({ type: FrameType.Data, id: 0xfffffffe, data });
    expect(unpack(fast.subarray(4))).toEqual([FrameType.Data, 0xfffffffe, data]);
    const p = new Packr({ useRecords: false }).pack([FrameType.Data, 3, data]);
    const generic = Buffer.concat([Buffer.alloc(4), p]);
    generic.writeUInt32BE(p.length, 0);
    expect(new FrameDecoder().push(generic)).toEqual([{ type: FrameType.Data, id: 3, data }]);
    expect(() => encodeFrame({ type: FrameType.Data, id: 1, data: Buffer.alloc(1020) }, 1024)).toThrow(FrameTooLargeError);
  });

  it("refuses to encode a frame above the maximum", () => {
    expect(() => encodeFrame({ type: FrameType.Data, id: 1, data: Buffer.alloc(5000) }, 4096)).toThrow(FrameTooLargeError);
  });

  it("rejects well-formed msgpack that is not a frame", () => {
    const cases: unknown[] = [{ a: 1 }, [99, 1], [FrameType.Data, 0, Buffer.from("x")], [FrameType.Data, 1, Buffer.alloc(0)], [FrameType.Open, 1, [], 5], [FrameType.Window, 1, -1], [FrameType.End, 1, 2], "x"];
    const { Packr } = require("msgpackr") as typeof import("msgpackr");
    const packr = new Packr({ useRecords: false });
    for (const c of cases) {
      const p = packr.pack(c);
      const buf = Buffer.concat([Buffer.from([0, 0, 0, 0]), p]);
      buf.writeUInt32BE(p.length, 0);
      expect(() => new FrameDecoder().push(buf), JSON.stringify(c)).toThrow(FrameError);
    }
  });

  it("property: any chunking of a valid frame sequence decodes to the same frames", () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (frames, cuts) => {
        const wire = Buffer.concat(frames.map((f) => encodeFrame(f)));
        const dec = new FrameDecoder();
        const got: Frame[] = [];
        for (const c of chunk(wire, cuts)) got.push(...dec.push(c));
        expect(got).toEqual(frames);
        expect(dec.pendingBytes).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it("property: random garbage never throws anything but FrameError", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          // raw garbage
          fc.uint8Array({ maxLength: 2000 }),
          // a plausible length prefix followed by garbage of that length
          fc.uint8Array({ minLength: 1, maxLength: 2000 }).map((u) => {
            const b = Buffer.alloc(4 + u.length);
            b.writeUInt32BE(u.length);
            b.set(u, 4);
            return new Uint8Array(b);
          }),
        ),
        fc.array(fc.nat(), { maxLength: 10 }),
        (bytes, cuts) => {
          const dec = new FrameDecoder(4096);
          try {
            for (const c of chunk(Buffer.from(bytes), cuts)) dec.push(c);
          } catch (err) {
            expect(err).toBeInstanceOf(FrameError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("property: a valid frame followed by garbage yields the frame, then FrameError or nothing", () => {
    fc.assert(
      fc.property(frameArb, fc.uint8Array({ minLength: 1, maxLength: 500 }), (frame, garbage) => {
        const dec = new FrameDecoder();
        expect(dec.push(encodeFrame(frame))).toEqual([frame]);
        try {
          dec.push(Buffer.from(garbage));
        } catch (err) {
          expect(err).toBeInstanceOf(FrameError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
