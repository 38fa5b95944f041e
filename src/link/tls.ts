// node:tls wrappers: a listener whose every authorized connection becomes a
// MuxConnection (server end: even stream ids), and a connector (odd ids).
// The mTLS options themselves (CA, node certificate, requestCert,
// rejectUnauthorized) come from src/tls/mtls.ts.
import tls from "node:tls";
import { LinkClosedError } from "./errors";
import { MuxConnection, type MuxOptions } from "./connection";

export type MuxConnectOptions = Omit<MuxOptions, "isServer"> & {
  /** Gives up on the TCP connect + TLS handshake after this long. Default 5000 ms; 0 waits forever. */
  connectTimeoutMs?: number;
};

/**
 * A tls.Server (call listen() on it) that wraps every connection that completed
 * the handshake in a MuxConnection. Unauthorized clients never get here when the
 * options have requestCert + rejectUnauthorized; check the peer's role in
 * onConnection (socket.getPeerCertificate / peerIdentity) and close() if unwanted.
 */
export function listenMux(
  options: tls.TlsOptions,
  onConnection: (conn: MuxConnection, socket: tls.TLSSocket) => void,
  mux: Omit<MuxOptions, "isServer"> = {},
): tls.Server {
  const server = tls.createServer(options, (socket) => {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const conn = new MuxConnection(socket, { ...mux, isServer: true });
    onConnection(conn, socket);
  });
  // A failed handshake only concerns that socket; without this listener Node
  // would still just destroy it, but say it in the log.
  server.on("tlsClientError", (err) => mux.log?.debug({ err: err.message }, "link TLS handshake failed"));
  return server;
}

/** Connects, completes the TLS handshake and resolves with the client end of the link. */
export function connectMux(options: tls.ConnectionOptions, mux: MuxConnectOptions = {}): Promise<MuxConnection> {
  const { connectTimeoutMs = 5000, ...muxOpts } = mux;
  return new Promise<MuxConnection>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const socket = tls.connect(options, () => {
      if (timer) clearTimeout(timer);
      socket.off("error", onError);
      if (options.rejectUnauthorized !== false && !socket.authorized) {
        socket.destroy();
        reject(new LinkClosedError(`link peer not authorized: ${String(socket.authorizationError)}`));
        return;
      }
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 30_000);
      resolve(new MuxConnection(socket, { ...muxOpts, isServer: false }));
    });
    const onError = (err: Error): void => {
      if (timer) clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.on("error", onError);
    if (connectTimeoutMs > 0) {
      timer = setTimeout(() => onError(new LinkClosedError(`link connect timed out after ${connectTimeoutMs} ms`)), connectTimeoutMs);
      timer.unref();
    }
  });
}
