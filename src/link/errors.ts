// Errors of the internal link. Each has a stable `code` so callers can tell a
// refused stream from a dead link without parsing messages.

/** A frame that cannot be decoded, or a peer that broke the protocol. The link is closed. */
export class FrameError extends Error {
  readonly code: string = "LINK_FRAME";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "FrameError";
  }
}

/** A frame whose length prefix exceeds the maximum frame size. The link is closed. */
export class FrameTooLargeError extends FrameError {
  override readonly code = "LINK_FRAME_TOO_LARGE";
  constructor(
    readonly length: number,
    readonly maxFrame: number,
  ) {
    super(`frame of ${length} bytes exceeds the maximum frame size of ${maxFrame} bytes`);
    this.name = "FrameTooLargeError";
  }
}

/** The link is gone (closed locally, by the peer, by a socket error or a missed heartbeat). */
export class LinkClosedError extends Error {
  readonly code: string = "LINK_CLOSED";
  constructor(message = "link closed", options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LinkClosedError";
  }
}

/** The peer stopped answering heartbeats. */
export class HeartbeatTimeoutError extends LinkClosedError {
  override readonly code = "LINK_HEARTBEAT_TIMEOUT";
  constructor(missed: number) {
    super(`link peer missed ${missed} heartbeats`);
    this.name = "HeartbeatTimeoutError";
  }
}

/** The peer refused to open a stream; `reason` is the peer's text. */
export class StreamRefusedError extends Error {
  readonly code = "LINK_STREAM_REFUSED";
  constructor(readonly reason: string) {
    super(`stream refused: ${reason}`);
    this.name = "StreamRefusedError";
  }
}

/** The peer reset (aborted) a stream; `reason` is the peer's text. */
export class StreamResetError extends Error {
  readonly code = "LINK_STREAM_RESET";
  constructor(readonly reason: string) {
    super(`stream reset by peer: ${reason}`);
    this.name = "StreamResetError";
  }

  /**
   * Without a stack: a reset says what the peer did, which our frames do not
   * explain, and a distributor resets every relayed session's stream when its
   * client goes. Node formats the stack of every error a stream is destroyed
   * with, which was ~3% of a worker's CPU in the mixed workload.
   */
  static fromPeer(reason: string): StreamResetError {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return new StreamResetError(reason);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
}
