// Frame codec of the internal link: a 4-byte big-endian payload length, then a
// msgpackr-encoded array [type, id, ...args]. Arrays keep frames compact (no
// key names on the wire); decoded frames are validated field by field, so a
// peer can only ever produce one of the Frame shapes below or a FrameError.
import { Packr, Unpackr } from "msgpackr";
import { FrameError, FrameTooLargeError } from "./errors";

export const DEFAULT_MAX_FRAME = 1024 * 1024;
/** Smallest accepted max frame size: room for an OPEN with a small header. */
export const MIN_MAX_FRAME = 1024;
const MAX_ID = 0xffffffff;
const MAX_CREDIT = 0x7fffffff;
const MAX_REASON = 1024;

export enum FrameType {
  Open = 1,
  Accept = 2,
  Refuse = 3,
  Data = 4,
  Window = 5,
  End = 6,
  Reset = 7,
  Ping = 8,
  Pong = 9,
}

export type Frame =
  /** Opens stream `id`; `window` is the opener's receive window for it (bytes). */
  | { type: FrameType.Open; id: number; header: Record<string, unknown>; window: number }
  /** Accepts stream `id`; `window` is the acceptor's receive window for it. */
  | { type: FrameType.Accept; id: number; window: number }
  | { type: FrameType.Refuse; id: number; reason: string }
  | { type: FrameType.Data; id: number; data: Buffer }
  /** Grants `credit` more bytes of DATA on stream `id`. */
  | { type: FrameType.Window; id: number; credit: number }
  /** Half-close: the sender writes no more DATA on `id`. */
  | { type: FrameType.End; id: number }
  /** Aborts stream `id` in both directions. */
  | { type: FrameType.Reset; id: number; reason: string }
  | { type: FrameType.Ping; nonce: number }
  | { type: FrameType.Pong; nonce: number };

const packr = new Packr({ useRecords: false, variableMapSize: true });

function toWire(f: Frame): unknown[] {
  switch (f.type) {
    case FrameType.Open:
      return [f.type, f.id, f.header, f.window];
    case FrameType.Accept:
      return [f.type, f.id, f.window];
    case FrameType.Refuse:
    case FrameType.Reset:
      return [f.type, f.id, f.reason];
    case FrameType.Data:
      return [f.type, f.id, f.data];
    case FrameType.Window:
      return [f.type, f.id, f.credit];
    case FrameType.End:
      return [f.type, f.id];
    case FrameType.Ping:
    case FrameType.Pong:
      return [f.type, f.nonce];
  }
}

/** Encodes one frame with its length prefix. Throws FrameTooLargeError above `maxFrame` payload bytes. */
export function encodeFrame(frame: Frame, maxFrame = DEFAULT_MAX_FRAME): Buffer {
  if (frame.type === FrameType.Data) return encodeData(frame.id, frame.data, maxFrame);
  const payload = packr.pack(toWire(frame));
  if (payload.length > maxFrame) throw new FrameTooLargeError(payload.length, maxFrame);
  const out = Buffer.allocUnsafe(4 + payload.length);
  out.writeUInt32BE(payload.length, 0);
  payload.copy(out, 4);
  return out;
}

/**
 * DATA is the hot path: written by hand as the msgpack array
 * [4, uint32 id, bin32 data], so the payload is copied once, straight into the frame.
 */
function encodeData(id: number, data: Buffer, maxFrame: number): Buffer {
  const len = 12 + data.length;
  if (len > maxFrame) throw new FrameTooLargeError(len, maxFrame);
  const out = Buffer.allocUnsafe(4 + len);
  out.writeUInt32BE(len, 0);
  out[4] = 0x93; // fixarray of 3
  out[5] = FrameType.Data; // positive fixint
  out[6] = 0xce; // uint32
  out.writeUInt32BE(id, 7);
  out[11] = 0xc6; // bin32
  out.writeUInt32BE(data.length, 12);
  data.copy(out, 16);
  return out;
}

function isId(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= MAX_ID;
}
function isCredit(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= MAX_CREDIT;
}
function isNonce(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= MAX_ID;
}
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}
function isReason(v: unknown): v is string {
  return typeof v === "string" && v.length <= MAX_REASON;
}

/** Checks a decoded payload and returns it as a Frame, or throws FrameError. */
export function validateFrame(w: unknown): Frame {
  if (!Array.isArray(w) || w.length < 2) throw new FrameError("frame is not an array [type, id, ...]");
  const [type, id, a, b] = w as unknown[];
  const n = w.length;
  const bad = (what: string): never => {
    throw new FrameError(`malformed frame of type ${String(type)}: ${what}`);
  };
  switch (type) {
    case FrameType.Open:
      if (n !== 4 || !isId(id)) bad("expected [1, id, header, window]");
      if (!isPlainObject(a)) bad("header is not a map");
      if (!isCredit(b)) bad("bad window");
      return { type, id: id as number, header: a as Record<string, unknown>, window: b as number };
    case FrameType.Accept:
      if (n !== 3 || !isId(id) || !isCredit(a)) bad("expected [2, id, window]");
      return { type, id: id as number, window: a as number };
    case FrameType.Refuse:
    case FrameType.Reset:
      if (n !== 3 || !isId(id) || !isReason(a)) bad("expected [type, id, reason]");
      return { type, id: id as number, reason: a as string };
    case FrameType.Data: {
      if (n !== 3 || !isId(id) || !(a instanceof Uint8Array) || a.length === 0) bad("expected [4, id, non-empty bytes]");
      const u = a as Uint8Array;
      const data = Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
      return { type, id: id as number, data };
    }
    case FrameType.Window:
      if (n !== 3 || !isId(id) || !isCredit(a)) bad("expected [5, id, credit]");
      return { type, id: id as number, credit: a as number };
    case FrameType.End:
      if (n !== 2 || !isId(id)) bad("expected [6, id]");
      return { type, id: id as number };
    case FrameType.Ping:
    case FrameType.Pong:
      if (n !== 2 || !isNonce(id)) bad("expected [type, nonce]");
      return { type, nonce: id as number };
    default:
      throw new FrameError(`unknown frame type ${JSON.stringify(typeof type === "number" ? type : typeof type)}`);
  }
}

/**
 * Incremental decoder: feed it socket chunks, get whole frames back. A frame may
 * span any number of chunks and a chunk may hold many frames. The claimed length
 * is checked against maxFrame before anything is buffered for it, and bytes are
 * only joined once the whole frame is there. After an error the decoder stays
 * failed: every later push throws the same error.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed: FrameError | undefined;
  // One Unpackr per decoder: msgpackr record definitions are decoder state, and
  // one peer's bytes must never shape how another peer's frames decode.
  private readonly unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

  constructor(readonly maxFrame = DEFAULT_MAX_FRAME) {
    if (!Number.isInteger(maxFrame) || maxFrame < MIN_MAX_FRAME || maxFrame > 0xffffffff) {
      throw new RangeError(`maxFrame must be an integer of at least ${MIN_MAX_FRAME}`);
    }
  }

  /** Bytes held for a frame not yet complete. */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): Frame[] {
    if (this.failed) throw this.failed;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: Frame[] = [];
    try {
      for (;;) {
        if (this.buffered < 4) break;
        const len = this.peekLength();
        if (len > this.maxFrame) throw new FrameTooLargeError(len, this.maxFrame);
        if (len === 0) throw new FrameError("empty frame");
        if (this.buffered < 4 + len) break;
        const payload = this.take(4 + len).subarray(4);
        let decoded: unknown;
        try {
          decoded = this.unpackr.unpack(payload);
        } catch (err) {
          throw new FrameError(`undecodable frame: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        }
        out.push(validateFrame(decoded));
      }
    } catch (err) {
      this.failed = err instanceof FrameError ? err : new FrameError(`frame decoding failed: ${String(err)}`, { cause: err });
      this.chunks = [];
      this.buffered = 0;
      throw this.failed;
    }
    return out;
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    const head = Buffer.alloc(4);
    let got = 0;
    for (const c of this.chunks) {
      got += c.copy(head, got, 0, Math.min(c.length, 4 - got));
      if (got === 4) break;
    }
    return head.readUInt32BE(0);
  }

  /** Removes and returns the first n buffered bytes (n <= buffered). */
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let got = 0;
      while (got < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - got);
        c.copy(out, got, 0, k);
        got += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }
}
