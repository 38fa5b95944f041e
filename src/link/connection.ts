// MuxConnection: many MuxStreams over one Duplex (a long-lived mTLS socket in
// production), so relayed sessions cost no handshake each. Every stream has its
// own credit window, so a slow consumer only stalls its own stream; the socket's
// back-pressure is respected by queueing frames and pausing senders on 'drain'.
import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { FrameError, HeartbeatTimeoutError, LinkClosedError, StreamRefusedError, StreamResetError } from "./errors";
import { DEFAULT_MAX_FRAME, FrameDecoder, FrameType, encodeFrame, type Frame } from "./frame";
import { MuxStream, type StreamHost } from "./stream";
import { atTurnEnd } from "../util/turn-end";

export const DEFAULT_INITIAL_WINDOW = 256 * 1024;
export const DEFAULT_HEARTBEAT_MS = 10_000;
export const DEFAULT_HEARTBEAT_MISSES = 3;
const MAX_DATA_CHUNK = 16 * 1024;

export interface MuxOptions {
  /** Largest frame payload accepted (and sent), bytes. Default 1 MiB. Both ends should agree. */
  maxFrame?: number;
  /** Receive window per stream, bytes: the most a peer may have in flight to one stream. Default 256 KiB. */
  initialWindow?: number;
  /** PING interval; 0 turns the heartbeat off. Default 10 s. */
  heartbeatMs?: number;
  /** Intervals without any frame from the peer before the link is closed. Default 3. */
  heartbeatMisses?: number;
  /**
   * Which end this is: the accepting (server) end opens even stream ids, the
   * connecting end odd ones, so both ends can open streams. Default false.
   */
  isServer?: boolean;
  log?: Logger;
}

export type StreamListener = (
  stream: MuxStream,
  header: Record<string, unknown>,
  accept: () => void,
  refuse: (reason: string) => void,
) => void;

export interface MuxConnectionEvents {
  stream: Parameters<StreamListener>;
  close: [err?: Error];
}

interface Opening {
  resolve: (s: MuxStream) => void;
  reject: (err: Error) => void;
}

export class MuxConnection extends EventEmitter<MuxConnectionEvents> {
  private readonly maxFrame: number;
  private readonly initialWindow: number;
  private readonly log: Logger | undefined;
  private readonly decoder: FrameDecoder;
  private readonly streams = new Map<number, MuxStream>();
  private readonly openings = new Map<number, Opening>();
  private nextId: number;
  private lastPeerId = 0;
  private readonly peerParity: number;
  private queue: Buffer[] = [];
  private isBlocked = false;
  /** Corked until the end of this event-loop turn. */
  private corked = false;
  private readonly drainWaiters = new Set<MuxStream>();
  private closeError: Error | undefined;
  private isClosed = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private missed = 0;
  private pingNonce = 0;
  private pingsSeen = 0;
  private framesSeen = 0;
  private readonly host: StreamHost;

  constructor(
    readonly socket: Duplex,
    opts: MuxOptions = {},
  ) {
    super();
    this.maxFrame = opts.maxFrame ?? DEFAULT_MAX_FRAME;
    this.decoder = new FrameDecoder(this.maxFrame);
    this.initialWindow = opts.initialWindow ?? DEFAULT_INITIAL_WINDOW;
    if (!Number.isInteger(this.initialWindow) || this.initialWindow < 4 || this.initialWindow > 0x7fffffff) {
      throw new RangeError("initialWindow must be an integer between 4 and 2^31-1");
    }
    this.log = opts.log;
    this.nextId = opts.isServer ? 2 : 1;
    this.peerParity = opts.isServer ? 1 : 0;
    const self = this;
    this.host = {
      get blocked() {
        return self.isBlocked;
      },
      maxDataChunk: Math.min(MAX_DATA_CHUNK, this.maxFrame - 64),
      sendData: (id, data) => this.send({ type: FrameType.Data, id, data }),
      sendWindow: (id, credit) => this.send({ type: FrameType.Window, id, credit }),
      sendEnd: (id) => this.send({ type: FrameType.End, id }),
      sendReset: (id, reason) => this.send({ type: FrameType.Reset, id, reason: reason.slice(0, 1024) }),
      waitForDrain: (s) => this.drainWaiters.add(s),
      release: (s) => {
        if (this.streams.get(s.id) === s) this.streams.delete(s.id);
        this.drainWaiters.delete(s);
      },
      get closedError() {
        return self.isClosed ? (self.closeError ?? new LinkClosedError()) : undefined;
      },
    };

    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("drain", () => this.onDrain());
    socket.on("error", (err: Error) => this.shutdown(new LinkClosedError(`link socket error: ${err.message}`, { cause: err })));
    socket.on("end", () => this.shutdown(new LinkClosedError("link closed by peer")));
    socket.on("close", () => this.shutdown(new LinkClosedError("link socket closed")));

    const every = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    const misses = opts.heartbeatMisses ?? DEFAULT_HEARTBEAT_MISSES;
    if (every > 0) {
      this.heartbeat = setInterval(() => this.beat(misses), every);
      this.heartbeat.unref();
    }
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Streams open or opening on this connection. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** True while the socket is back-pressured and frames queue in memory. */
  get blocked(): boolean {
    return this.isBlocked;
  }

  /** Bytes of frames queued behind socket back-pressure. */
  get queuedBytes(): number {
    let n = 0;
    for (const b of this.queue) n += b.length;
    return n;
  }

  /** PINGs received from the peer (for tests and diagnostics). */
  get pingsReceived(): number {
    return this.pingsSeen;
  }

  /** Frames of any kind received from the peer: a count that moves while the peer is alive. */
  get framesReceived(): number {
    return this.framesSeen;
  }

  /**
   * Opens a stream; resolves once the peer accepts it, rejects with
   * StreamRefusedError (the peer's reason) or LinkClosedError.
   */
  openStream(header: Record<string, unknown>): Promise<MuxStream> {
    if (this.isClosed) return Promise.reject(this.closeError ?? new LinkClosedError());
    const id = this.nextId;
    if (id > 0xffffffff) return Promise.reject(new LinkClosedError("stream ids exhausted; reconnect"));
    let frame: Buffer;
    try {
      frame = encodeFrame({ type: FrameType.Open, id, header, window: this.initialWindow }, this.maxFrame);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    this.nextId += 2;
    const stream = new MuxStream(this.host, id, this.initialWindow, true);
    this.streams.set(id, stream);
    return new Promise<MuxStream>((resolve, reject) => {
      this.openings.set(id, { resolve, reject });
      this.write(frame);
    });
  }

  /**
   * Closes the link: every stream is destroyed with a LinkClosedError, pending
   * opens reject, and 'close' is emitted without an error.
   */
  close(): void {
    this.shutdown(undefined);
  }

  // ---- internals ----

  private send(frame: Frame): void {
    if (this.isClosed) return;
    this.write(encodeFrame(frame, this.maxFrame));
  }

  private write(buf: Buffer): void {
    if (this.isClosed) return;
    if (this.isBlocked) {
      this.queue.push(buf);
      return;
    }
    // The frames of one event-loop turn (many sessions' commands or replies,
    // stream opens and resets, acks) leave in one TLS write: one syscall
    // into the peer's loopback instead of one per frame.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      atTurnEnd(MuxConnection.uncork, this);
    }
    if (!this.socket.write(buf)) this.isBlocked = true;
  }

  private static uncork(link: MuxConnection): void {
    link.corked = false;
    link.socket.uncork();
  }

  private onDrain(): void {
    if (this.isClosed) return;
    this.isBlocked = false;
    while (this.queue.length > 0 && !this.isBlocked) {
      const buf = this.queue.shift()!;
      if (!this.socket.write(buf)) this.isBlocked = true;
    }
    if (this.isBlocked) return;
    // Streams that waited, in the order they started waiting; one that blocks
    // the socket again re-registers behind the others.
    const waiters = [...this.drainWaiters];
    this.drainWaiters.clear();
    for (const s of waiters) {
      if (this.isBlocked) {
        this.drainWaiters.add(s);
        continue;
      }
      s.pump();
    }
  }

  private beat(misses: number): void {
    if (this.isClosed) return;
    if (this.missed >= misses) {
      this.log?.warn({ missed: this.missed }, "link heartbeat lost");
      this.shutdown(new HeartbeatTimeoutError(this.missed));
      return;
    }
    this.missed++;
    this.pingNonce = (this.pingNonce + 1) >>> 0;
    this.send({ type: FrameType.Ping, nonce: this.pingNonce });
  }

  private onData(chunk: Buffer): void {
    if (this.isClosed) return;
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.protocolError(err instanceof FrameError ? err : new FrameError(String(err)));
      return;
    }
    if (frames.length > 0) this.missed = 0;
    this.framesSeen += frames.length;
    for (const f of frames) {
      if (this.isClosed) return;
      const problem = this.onFrame(f);
      if (problem) {
        this.protocolError(new FrameError(problem));
        return;
      }
    }
  }

  /** Handles one frame; returns a protocol violation message, if any. */
  private onFrame(f: Frame): string | undefined {
    switch (f.type) {
      case FrameType.Ping:
        this.pingsSeen++;
        this.send({ type: FrameType.Pong, nonce: f.nonce });
        return undefined;
      case FrameType.Pong:
        return undefined;
      case FrameType.Open:
        return this.onOpen(f.id, f.header, f.window);
      case FrameType.Accept: {
        const o = this.openings.get(f.id);
        const s = this.streams.get(f.id);
        if (!o) return s ? `unexpected ACCEPT for stream ${f.id}` : undefined;
        this.openings.delete(f.id);
        if (!s || s.destroyed) {
          // Destroyed before the answer (its RESET is already on the way).
          o.reject(new LinkClosedError("stream destroyed while opening"));
          return undefined;
        }
        s._opened(f.window);
        o.resolve(s);
        return undefined;
      }
      case FrameType.Refuse: {
        const o = this.openings.get(f.id);
        const s = this.streams.get(f.id);
        if (!o) return s ? `unexpected REFUSE for stream ${f.id}` : undefined;
        this.openings.delete(f.id);
        s?._silentDestroy();
        o.reject(new StreamRefusedError(f.reason));
        return undefined;
      }
      case FrameType.Data: {
        const s = this.streams.get(f.id);
        if (!s) return this.unknownId(f.id, "DATA");
        return s._onData(f.data);
      }
      case FrameType.Window: {
        const s = this.streams.get(f.id);
        if (!s) return this.unknownId(f.id, "WINDOW");
        s._onWindow(f.credit);
        return undefined;
      }
      case FrameType.End: {
        const s = this.streams.get(f.id);
        if (!s) return this.unknownId(f.id, "END");
        return s._onEnd();
      }
      case FrameType.Reset: {
        const s = this.streams.get(f.id);
        const o = this.openings.get(f.id);
        if (o) {
          this.openings.delete(f.id);
          o.reject(new StreamRefusedError(f.reason));
        }
        if (s) {
          this.streams.delete(f.id);
          s._silentDestroy(StreamResetError.fromPeer(f.reason));
        }
        return undefined;
      }
    }
  }

  /**
   * A frame for a stream we do not know: fine for one that was closed here
   * while the peer's frames were under way; a protocol error for an id never used.
   */
  private unknownId(id: number, what: string): string | undefined {
    const ours = id % 2 === (this.nextId % 2);
    const used = ours ? id < this.nextId : id <= this.lastPeerId;
    return used ? undefined : `${what} for stream ${id}, which was never opened`;
  }

  private onOpen(id: number, header: Record<string, unknown>, window: number): string | undefined {
    if (id % 2 !== this.peerParity) {
      return `peer opened stream ${id} with this end's id parity (both ends have the same isServer setting?)`;
    }
    if (id <= this.lastPeerId) return `peer reused or lowered stream id ${id}`;
    this.lastPeerId = id;
    const stream = new MuxStream(this.host, id, this.initialWindow, false);
    stream._setPeerWindow(window);
    this.streams.set(id, stream);
    let answered = false;
    const accept = (): void => {
      if (answered || this.isClosed || stream.destroyed) return;
      answered = true;
      this.send({ type: FrameType.Accept, id, window: this.initialWindow });
      stream._opened(undefined);
    };
    const refuse = (reason: string): void => {
      if (answered || this.isClosed) return;
      answered = true;
      this.streams.delete(id);
      this.send({ type: FrameType.Refuse, id, reason: String(reason).slice(0, 1024) });
      stream._silentDestroy();
    };
    if (this.listenerCount("stream") === 0) {
      refuse("no stream handler");
      return undefined;
    }
    try {
      this.emit("stream", stream, header, accept, refuse);
    } catch (err) {
      this.log?.error({ err, id }, "link stream handler threw");
      if (!answered) refuse("stream handler failed");
      else stream.destroy(err instanceof Error ? err : new Error(String(err)));
    }
    return undefined;
  }

  private protocolError(err: FrameError): void {
    this.log?.warn({ err: err.message }, "link protocol error; closing the link");
    this.shutdown(err);
  }

  /** err undefined: closed locally by close(). */
  private shutdown(err: Error | undefined): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closeError = err ?? new LinkClosedError("link closed locally");
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.queue = [];
    this.drainWaiters.clear();
    const streamErr =
      err instanceof LinkClosedError ? err : new LinkClosedError(err ? `link closed: ${err.message}` : "link closed locally", { cause: err });
    // A stream still opening has no owner yet: its openStream() promise fails
    // instead, and it is destroyed without an 'error' nobody could listen to.
    const openings = new Map(this.openings);
    this.openings.clear();
    for (const s of [...this.streams.values()]) s._silentDestroy(openings.has(s.id) ? undefined : streamErr);
    for (const o of openings.values()) o.reject(streamErr);
    this.streams.clear();
    if (err) {
      this.socket.destroy();
    } else {
      // Graceful: let the TLS close_notify out, but never linger on a stuck peer.
      this.socket.end();
      const t = setTimeout(() => this.socket.destroy(), 2000);
      t.unref();
      this.socket.once("close", () => clearTimeout(t));
    }
    this.emit("close", err);
  }
}
