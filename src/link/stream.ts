// One multiplexed stream of a MuxConnection: a standard Duplex whose writes are
// paced by the peer's credit and whose reads return credit only as the local
// consumer takes bytes out of the readable buffer.
import { Duplex } from "node:stream";

/** What a stream needs from its connection (implemented by MuxConnection). */
export interface StreamHost {
  /** True while the socket is back-pressured; frames would only queue. */
  readonly blocked: boolean;
  /** Largest DATA payload to put in one frame. */
  readonly maxDataChunk: number;
  sendData(id: number, data: Buffer): void;
  sendWindow(id: number, credit: number): void;
  sendEnd(id: number): void;
  sendReset(id: number, reason: string): void;
  /** Calls stream.pump() again once the socket drains. */
  waitForDrain(stream: MuxStream): void;
  /** The stream is closed; forget it. */
  release(stream: MuxStream): void;
  /** Error to report when the link is gone, or undefined while it is up. */
  readonly closedError: Error | undefined;
}

type State = "opening" | "pending" | "open" | "closed";

interface PendingWrite {
  chunk: Buffer;
  offset: number;
  cb: (err?: Error | null) => void;
}

export class MuxStream extends Duplex {
  /** opening: we sent OPEN; pending: peer sent OPEN, not yet accepted; open; closed. */
  private state: State;
  private sendCredit = 0;
  private pending: PendingWrite | undefined;
  private pumping = false;
  /** Total bytes the peer may send us so far (initial window + WINDOW credits). */
  private recvGranted: number;
  private recvTotal = 0;
  private localEnded = false;
  private remoteEnded = false;
  /** No RESET to send when destroyed (peer reset it, it was refused, or the link is gone). */
  private silent = false;

  constructor(
    private readonly host: StreamHost,
    readonly id: number,
    /** Our receive window: the most bytes the peer may have in flight to us. */
    readonly window: number,
    opening: boolean,
  ) {
    super({
      allowHalfOpen: true,
      decodeStrings: true,
      // Below window/4 so that whenever _read runs with the peer out of credit,
      // there is at least window/4 to return (see _read).
      readableHighWaterMark: Math.max(1, Math.min(16 * 1024, Math.floor(window / 4))),
      writableHighWaterMark: 16 * 1024,
    });
    this.state = opening ? "opening" : "pending";
    this.recvGranted = window;
  }

  /** Bytes this side may still send before the peer returns credit. */
  get credit(): number {
    return this.sendCredit;
  }

  /** Bytes received from the peer in total. */
  get bytesReceived(): number {
    return this.recvTotal;
  }

  // ---- called by the connection ----

  /** @internal The peer's ACCEPT for a stream we opened, or our accept of a peer's OPEN. */
  _opened(peerWindow: number | undefined): void {
    if (this.state === "closed") return;
    if (peerWindow !== undefined) this.sendCredit = peerWindow;
    this.state = "open";
    this.pump();
  }

  /** @internal For an incoming stream: the opener's window, before we accept. */
  _setPeerWindow(window: number): void {
    this.sendCredit = window;
  }

  /** @internal Closed without a RESET frame (refused, reset by the peer, link gone). */
  _silentDestroy(err?: Error): void {
    this.silent = true;
    this.state = "closed";
    this.destroy(err);
  }

  /** @internal Returns undefined or a protocol violation message. */
  _onData(data: Buffer): string | undefined {
    if (this.state !== "open") return `DATA on stream ${this.id} before it was accepted`;
    if (this.remoteEnded) return `DATA on stream ${this.id} after END`;
    if (this.recvTotal + data.length > this.recvGranted) {
      return `peer exceeded the window on stream ${this.id} (${this.recvTotal + data.length} > ${this.recvGranted})`;
    }
    this.recvTotal += data.length;
    if (!this.destroyed) this.push(data);
    return undefined;
  }

  /** @internal */
  _onWindow(credit: number): void {
    this.sendCredit += credit;
    this.pump();
  }

  /** @internal */
  _onEnd(): string | undefined {
    if (this.state !== "open") return `END on stream ${this.id} before it was accepted`;
    if (this.remoteEnded) return `second END on stream ${this.id}`;
    this.remoteEnded = true;
    if (!this.destroyed) this.push(null);
    return undefined;
  }

  /** Sends as much of the pending write as credit and the socket allow. */
  pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.pending && this.state === "open" && !this.destroyed) {
        if (this.sendCredit <= 0) return; // a WINDOW frame pumps again
        if (this.host.blocked) {
          this.host.waitForDrain(this);
          return;
        }
        const p = this.pending;
        const n = Math.min(this.sendCredit, p.chunk.length - p.offset, this.host.maxDataChunk);
        this.host.sendData(this.id, p.chunk.subarray(p.offset, p.offset + n));
        this.sendCredit -= n;
        p.offset += n;
        if (p.offset === p.chunk.length) {
          this.pending = undefined;
          p.cb(); // may call _write again, which sets a new pending for this loop
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  // ---- Duplex implementation ----

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const closed = this.host.closedError;
    if (closed) return cb(closed);
    if (chunk.length === 0) return cb();
    this.pending = { chunk, offset: 0, cb };
    this.pump();
  }

  override _final(cb: (err?: Error | null) => void): void {
    const closed = this.host.closedError;
    if (closed) return cb(closed);
    if (this.state !== "open") return cb(new Error(`stream ${this.id} ended before it was open`));
    this.localEnded = true;
    this.host.sendEnd(this.id);
    cb();
  }

  override _read(): void {
    // Credit is returned here, i.e. only as the consumer drains the readable
    // buffer: consumed = received - still buffered. The peer may then have up to
    // `window` bytes beyond what was consumed. Small grants are batched; that
    // cannot stall the peer: when it is out of credit, _read runs with fewer than
    // window/4 bytes buffered (readableHighWaterMark), so the grant is >= 3/4 window.
    if (this.state !== "open" || this.remoteEnded || this.host.closedError) return;
    const consumed = this.recvTotal - this.readableLength;
    const grant = consumed + this.window - this.recvGranted;
    if (grant > 0 && grant >= Math.max(1, Math.floor(this.window / 4))) {
      this.recvGranted += grant;
      this.host.sendWindow(this.id, grant);
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const wasOpen = this.state !== "closed";
    this.state = "closed";
    if (wasOpen && !this.silent && !this.host.closedError && !(this.localEnded && this.remoteEnded)) {
      this.host.sendReset(this.id, err ? err.message.slice(0, 512) || "error" : "cancelled");
    }
    const p = this.pending;
    this.pending = undefined;
    this.host.release(this);
    // The write in flight fails with the error that destroyed the stream; after
    // a plain destroy() it is dropped like Node drops a destroyed stream's writes
    // (calling it with a made-up error would mark the stream errored).
    const failure = err ?? this.host.closedError;
    if (p && failure) p.cb(failure);
    cb(err);
  }
}
