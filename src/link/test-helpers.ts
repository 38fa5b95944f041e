// Test helpers for src/link: a real mTLS listener and client on 127.0.0.1:0.
import { createHash } from "node:crypto";
import type net from "node:net";
import type { Duplex } from "node:stream";
import type tls from "node:tls";
import { createCa, issueLeaf, type PemKeyPair } from "../tls/certs";
import type { MuxConnection, MuxOptions } from "./connection";
import { connectMux, listenMux } from "./tls";

export interface Pki {
  ca: PemKeyPair;
  server: PemKeyPair;
  client: PemKeyPair;
}

export async function makePki(): Promise<Pki> {
  const ca = await createCa({ commonName: "link test CA" });
  const server = await issueLeaf(ca, { role: "worker", name: "worker-1", altNames: ["localhost", "127.0.0.1"] });
  const client = await issueLeaf(ca, { role: "distributor", name: "dist-1", altNames: ["localhost", "127.0.0.1"] });
  return { ca, server, client };
}

export interface Pair {
  client: MuxConnection;
  server: MuxConnection;
  serverSocket: tls.TLSSocket;
  tlsServer: tls.Server;
  close(): Promise<void>;
}

/** A connected client/server MuxConnection pair over real mTLS. Heartbeats off unless given. */
export async function makePair(pki: Pki, mux: Omit<MuxOptions, "isServer"> = {}, clientMux: Omit<MuxOptions, "isServer"> = mux): Promise<Pair> {
  let gotServer!: (v: { conn: MuxConnection; socket: tls.TLSSocket }) => void;
  const serverSide = new Promise<{ conn: MuxConnection; socket: tls.TLSSocket }>((r) => (gotServer = r));
  const tlsServer = listenMux(
    { key: pki.server.key, cert: pki.server.cert, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.3" },
    (conn, socket) => gotServer({ conn, socket }),
    { heartbeatMs: 0, ...mux },
  );
  await new Promise<void>((r) => tlsServer.listen(0, "127.0.0.1", r));
  const port = (tlsServer.address() as net.AddressInfo).port;
  const client = await connectMux(
    { host: "127.0.0.1", port, key: pki.client.key, cert: pki.client.cert, ca: pki.ca.cert, servername: "localhost", rejectUnauthorized: true },
    { heartbeatMs: 0, ...clientMux },
  );
  const { conn: server, socket: serverSocket } = await serverSide;
  return {
    client,
    server,
    serverSocket,
    tlsServer,
    async close() {
      client.close();
      server.close();
      await new Promise<void>((r) => tlsServer.close(() => r()));
    },
  };
}

export function collect(stream: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    stream.on("data", (c: Buffer) => parts.push(c));
    stream.on("end", () => resolve(Buffer.concat(parts)));
    stream.on("error", reject);
  });
}

export function sha(buf: Buffer): string {
  return createHash("sha256").update(buf).digest("hex");
}

/** Writes buf in chunks of `size`, honouring back-pressure, then ends. */
export async function writeAll(stream: Duplex, buf: Buffer, size = 8192): Promise<void> {
  for (let off = 0; off < buf.length; off += size) {
    if (!stream.write(buf.subarray(off, off + size))) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          stream.off("error", onErr);
          resolve();
        };
        const onErr = (e: Error): void => {
          stream.off("drain", onDrain);
          reject(e);
        };
        stream.once("drain", onDrain);
        stream.once("error", onErr);
      });
    }
  }
  await new Promise<void>((resolve, reject) => {
    stream.end(() => resolve());
    stream.once("error", reject);
  });
}

/** Waits (event-loop turns, no clock) until cond() holds. The test timeout bounds it. */
export async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 2));
}

export function onceEvent<T extends unknown[]>(emitter: NodeJS.EventEmitter, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, (...args: unknown[]) => resolve(args as T)));
}
