// Promise forms of net.Server listen/close, shared by every node's listeners.
import type net from "node:net";
import type { HostPort } from "../config/schema";

export function listenServer(server: net.Server, at: HostPort): Promise<HostPort> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once("error", onError);
    server.listen({ host: at.host, port: at.port }, () => {
      server.off("error", onError);
      const addr = server.address() as net.AddressInfo;
      resolve({ host: addr.address, port: addr.port });
    });
  });
}

/** Resolves once the server stopped listening and its last connection ended. */
export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}
