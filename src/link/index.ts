// Internal link between cluster nodes: one long-lived mTLS connection carries
// many relayed sessions as credit-flow-controlled streams (see DESIGN.md).
export { MuxConnection, DEFAULT_INITIAL_WINDOW, DEFAULT_HEARTBEAT_MS, DEFAULT_HEARTBEAT_MISSES } from "./connection";
export type { MuxOptions, MuxConnectionEvents, StreamListener } from "./connection";
export { MuxStream } from "./stream";
export { relay } from "./relay";
export { listenMux, connectMux, type MuxConnectOptions } from "./tls";
export { FrameDecoder, FrameType, encodeFrame, validateFrame, DEFAULT_MAX_FRAME, MIN_MAX_FRAME, type Frame } from "./frame";
export {
  FrameError,
  FrameTooLargeError,
  HeartbeatTimeoutError,
  LinkClosedError,
  StreamRefusedError,
  StreamResetError,
} from "./errors";
